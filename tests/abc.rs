//! The ABC paper's detectors: labelled CSV splits, schemas kept in model files, and the DAE
//! base trained on noisy inputs.

mod common;

use common::*;
use oddity::data::abc::{Setting, toy2d};
use oddity::models::evaluation::fit_and_evaluate;
use oddity::models::{Detector, Supervised, SupervisedConfig, SupervisedKind, registry};
use oddity::tape::Tensor;

fn config(kind: SupervisedKind, seed: u64) -> SupervisedConfig {
    SupervisedConfig {
        seed,
        ..SupervisedConfig::paper(kind, 2)
    }
}

#[test]
fn labelled_csv_splits_hold_out_each_class_and_keep_the_schema() {
    use oddity::data::abc::{RowKind, TEST_SHARE, labelled_split};
    use oddity::data::{CsvOptions, Dataset};
    let mut text = String::from("f,g,label\n");
    for i in 0..50 {
        let anomaly = i % 5 == 0;
        text += &format!(
            "{},{},{}\n",
            i,
            (i * 7) % 11,
            if anomaly { "bad" } else { "ok" }
        );
    }
    let opts = CsvOptions::default().label("label").anomaly_label("bad");
    let d = Dataset::from_csv_bytes(text.as_bytes(), "t.csv", "t", &opts).unwrap();
    let s = labelled_split(&d, None, 7).unwrap();
    // 10 anomalies and 40 normal rows: 30% of each held out.
    let known = s.test_kind.iter().filter(|&&k| k == RowKind::Known).count();
    assert_eq!((known, s.test_rows()), (3, 15), "TEST_SHARE {TEST_SHARE}");
    assert_eq!(s.train_y.iter().filter(|&&y| y == 0).count(), 7);
    assert_eq!(s.train_rows() + s.test_rows(), 50);
    assert_eq!(s.schema, d.schema);
    // Another seed holds out other rows; a test file replaces the hold-out.
    assert_ne!(labelled_split(&d, None, 8).unwrap().test_x, s.test_x);
    let t = labelled_split(&d, Some(&d), 7).unwrap();
    assert_eq!((t.train_rows(), t.test_rows()), (50, 50));
    // No labels, or a test file with other features: clear errors.
    let unlabelled =
        Dataset::from_csv_bytes(text.as_bytes(), "u.csv", "u", &CsvOptions::default()).unwrap();
    let e = labelled_split(&unlabelled, None, 0)
        .unwrap_err()
        .to_string();
    assert!(e.contains("label column"), "{e}");
    let e = labelled_split(&d, Some(&unlabelled), 0)
        .unwrap_err()
        .to_string();
    assert!(e.contains("features"), "{e}");
}

#[test]
fn model_files_keep_the_schema_and_the_dae_trains_on_noisy_inputs() {
    let gpu = gpu();
    let split = toy2d(100, Setting::One, 5);
    let test =
        Tensor::from_slice(&gpu, &split.test_x, split.test_rows() as u32, 2, "test").unwrap();
    let fitted = |kind| {
        let cfg = SupervisedConfig {
            max_epochs: 2,
            ..config(kind, 2)
        };
        let mut model = Supervised::new(&gpu, cfg).unwrap();
        fit_and_evaluate(&mut model, &split).unwrap();
        model
    };
    let (ae, dae) = (
        fitted(SupervisedKind::AbcAe),
        fitted(SupervisedKind::AbcDae),
    );
    // Same seed, same initial weights, same batches: only the input noise differs.
    assert_ne!(
        ae.score_tensor(&(&test).into(), None).unwrap(),
        dae.score_tensor(&(&test).into(), None).unwrap(),
        "abc-dae trained exactly as abc-ae"
    );
    assert_eq!(dae.schema(), &split.schema);
    assert_eq!(dae.schema().names(), vec!["x", "y"]);
    let path = std::env::temp_dir().join(format!("oddity-schema-{}.st", std::process::id()));
    dae.save(&path).unwrap();
    let back = registry::load(&gpu, &path).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(back.schema(), &split.schema);
    assert_eq!(back.name(), "abc-dae");
}
