//! The model core, the registry and model files: every registered model builds, fits, scores
//! and round-trips through its file; training resumes from a file exactly where it stopped;
//! files of the first format still load; thresholds; chunked passes over many rows.

mod common;

use common::*;
use oddity::data::Dataset;
use oddity::data::abc::{Setting, toy2d};
use oddity::models::evaluation::fit_and_evaluate;
use oddity::models::{DataShape, Family, ModelCore, ModelFile, Settings, Threshold, registry};
use oddity::nn::{ArenaBuilder, Optimizer};
use oddity::tape::Tensor;

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("oddity-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// 200 rows of 12 features with 3 classes and a few anomalies.
fn small_data() -> Dataset {
    let (x, y) = oddity::data::synthetic_mnist(200, 12, 0.05, 3);
    Dataset {
        name: "small".into(),
        rows: 200,
        cols: 12,
        class: Some((0..200).map(|i| (i % 3) as u32).collect()),
        anomaly: Some(y),
        x,
        schema: oddity::data::Schema::numeric((0..12).map(|i| format!("f{i}")), &[(0.0, 1.0); 12]),
        origin: None,
    }
}

fn small_settings(seed: u64) -> Settings {
    Settings {
        seed,
        hidden: Some(vec![8, 4]),
        batch: Some(16),
        max_epochs: Some(2),
        steps: Some(15),
        ..Settings::default()
    }
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

#[test]
fn every_registered_model_fits_scores_and_round_trips_through_its_file() {
    let gpu = gpu();
    let data = small_data();
    let narrow = Dataset {
        cols: 6,
        x: data.x[..data.rows * 6].to_vec(),
        ..data.clone()
    };
    let dir = temp_dir("registry");
    for entry in registry::MODELS {
        let mut model = entry.build(&gpu, &data, &small_settings(1)).unwrap();
        assert_eq!(model.name(), entry.name);
        assert_eq!(model.family(), entry.family);
        // Rows of another width: refused, both widths named, before anything runs.
        for e in [model.fit(&narrow).err(), model.score(&narrow).err()] {
            let e = e.expect("a narrower dataset is refused").to_string();
            assert!(
                e.contains("has 6 features") && e.contains("takes 12"),
                "{e}"
            );
        }
        // Only the models Algorithm 1 drives have the active face; the others say so.
        match (entry.family, model.active()) {
            (Family::Active, r) => assert!(r.is_ok(), "{}", entry.name),
            (Family::Detector, r) => {
                let e = r.err().expect("no active face").to_string();
                assert!(
                    e.contains(&format!("{} does not learn from labels", entry.name)),
                    "{e}"
                );
            }
        }
        let report = model.fit(&data).unwrap();
        // The forest is grown on the host and PCA solved, not trained by steps.
        assert!(
            report.steps > 0 || ["iforest", "pca"].contains(&entry.name),
            "{}: no training step",
            entry.name
        );
        let scores = model.score(&data).unwrap();
        assert_eq!(scores.len(), data.rows);
        assert!(
            scores.iter().all(|s| s.is_finite()),
            "{}: non-finite score",
            entry.name
        );
        assert_eq!(model.schema(), &data.schema, "{}", entry.name);
        let path = dir.join(format!("{}-{:?}.safetensors", entry.name, entry.family));
        model.save(&path).unwrap();
        let back = registry::load(&gpu, &path).unwrap();
        assert_eq!((back.name(), back.family()), (entry.name, entry.family));
        assert_eq!(back.config().unwrap(), model.config().unwrap());
        assert_eq!(
            bits(&back.score(&data).unwrap()),
            bits(&scores),
            "{}: the reloaded model scores differently",
            entry.name
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_registry_resolves_names_per_family_and_lists_the_others() {
    let data = small_data();
    let shape = DataShape::of(&data);
    let s = Settings::default();
    // `dae` is the ABC paper's baseline as a detector and the UAI paper's under Algorithm 1.
    let det = registry::detector("dae")
        .unwrap()
        .config(&shape, &s)
        .unwrap();
    let act = registry::active("dae").unwrap().config(&shape, &s).unwrap();
    assert_eq!(det["act"], "Tanh", "{det}");
    assert_eq!(act["ae"]["act"], "Relu", "{act}");
    // Defaults follow the data: the DAE's code from the feature count (12 / 8 -> 2, and 8
    // from 64 up), the paper's widths past 256 features, the Class models' classes; the
    // DAE's learning rate and Class's (the paper's).
    assert_eq!(act["ae"]["hidden"], serde_json::json!([32, 16, 2]));
    let width = |inputs| {
        let shape = DataShape {
            inputs,
            ..shape.clone()
        };
        registry::active("dae-uai")
            .unwrap()
            .config(&shape, &s)
            .unwrap()["ae"]["hidden"]
            .clone()
    };
    assert_eq!(width(21), serde_json::json!([32, 16, 3]));
    assert_eq!(width(64), serde_json::json!([32, 16, 8]));
    assert_eq!(width(200), serde_json::json!([32, 16, 8]));
    assert_eq!(width(784), serde_json::json!([256, 64, 8]));
    let lr = |c: &serde_json::Value| c["ae"]["optimizer"]["RmsProp"]["lr"].as_f64().unwrap() as f32;
    assert_eq!(lr(&act), 0.002, "{act}");
    // Past 256 features the DAE is the paper's network at the paper's rate.
    let wide = DataShape {
        inputs: 784,
        ..shape.clone()
    };
    let c = registry::active("dae-uai")
        .unwrap()
        .config(&wide, &s)
        .unwrap();
    assert_eq!(lr(&c), 0.01, "{c}");
    let c = registry::active("dae").unwrap().config(&wide, &s).unwrap();
    assert_eq!(lr(&c), 0.01, "{c}");
    let c = registry::active("class-uai")
        .unwrap()
        .config(&shape, &s)
        .unwrap();
    assert_eq!(c["base"]["Class"]["classes"], 3, "{c}");
    assert_eq!(c["ae"]["hidden"], serde_json::json!([32, 16, 8]));
    assert_eq!(lr(&c), 0.01, "{c}");
    let no_classes = DataShape {
        classes: None,
        ..shape.clone()
    };
    let e = registry::active("class")
        .unwrap()
        .config(&no_classes, &s)
        .unwrap_err()
        .to_string();
    assert!(e.contains("class") && e.contains("has none"), "{e}");
    // Settings reach the configuration.
    let c = registry::detector("abc-ae")
        .unwrap()
        .config(
            &shape,
            &Settings {
                seed: 9,
                lr: Some(0.5),
                max_epochs: Some(3),
                ..s.clone()
            },
        )
        .unwrap();
    assert_eq!(
        (c["seed"].clone(), c["max_epochs"].clone()),
        (9.into(), 3.into())
    );
    assert_eq!(c["optimizer"]["Adam"]["lr"], 0.5);
    // Unknown names list what there is, per family.
    let e = registry::detector("dae-uai").err().unwrap().to_string();
    assert!(
        e.contains("unknown detector") && e.contains("abc-ae") && e.contains("vae"),
        "{e}"
    );
    let e = registry::active("vae").err().unwrap().to_string();
    assert!(e.contains("dae-uai, dae, class-uai, class"), "{e}");
}

#[test]
fn training_resumes_from_a_model_file_exactly_where_it_stopped() {
    let gpu = gpu();
    let data = small_data();
    let dir = temp_dir("resume");
    let entry = registry::active("dae-uai").unwrap();
    let mut model = entry.build(&gpu, &data, &small_settings(4)).unwrap();
    model.fit(&data).unwrap();
    let path = dir.join("half.safetensors");
    model.save(&path).unwrap();
    let mut resumed = registry::load(&gpu, &path).unwrap();
    assert_eq!(resumed.core().step_state().step(&gpu).unwrap(), 15);
    model.fit(&data).unwrap();
    resumed.fit(&data).unwrap();
    let (a, b) = (
        model.core().arena().read(&gpu).unwrap(),
        resumed.core().arena().read(&gpu).unwrap(),
    );
    assert_eq!(bits(&a), bits(&b), "resumed training differs");
    assert_eq!(resumed.core().step_state().step(&gpu).unwrap(), 30);
    // Without the optimizer state (RMSprop's running squares) the same steps go elsewhere: the
    // file's optimizer state is what makes the resumption exact.
    let mut file = ModelFile::read(&path).unwrap();
    file.state.optimizer = None;
    let stripped = dir.join("stripped.safetensors");
    file.write(&stripped).unwrap();
    let mut fresh = registry::load(&gpu, &stripped).unwrap();
    fresh.fit(&data).unwrap();
    assert_ne!(bits(&fresh.core().arena().read(&gpu).unwrap()), bits(&a));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn files_of_the_first_format_still_load_and_bad_files_are_refused() {
    let gpu = gpu();
    let dir = temp_dir("legacy");
    let split = toy2d(100, Setting::One, 3);
    let shape = DataShape {
        name: "toy2d".into(),
        inputs: 2,
        classes: None,
    };
    let entry = registry::detector("dnn").unwrap();
    let settings = Settings {
        seed: 1,
        max_epochs: Some(3),
        ..Settings::default()
    };
    let mut model = entry
        .build_with(&gpu, entry.config(&shape, &settings).unwrap())
        .unwrap();
    fit_and_evaluate(model.as_mut(), &split).unwrap();
    // What `oddity fit --save` wrote before model/2: the parameters, the configuration and
    // the schema, under the format "supervised/1".
    let params = model.core().arena().read(&gpu).unwrap();
    let meta = std::collections::HashMap::from([
        ("oddity_model".to_string(), "supervised/1".to_string()),
        ("config".to_string(), model.config().unwrap().to_string()),
        (
            "schema".to_string(),
            serde_json::to_string(model.schema()).unwrap(),
        ),
    ]);
    let view = safetensors::tensor::TensorView::new(
        safetensors::Dtype::F32,
        vec![params.len()],
        bytemuck::cast_slice(&params),
    )
    .unwrap();
    let legacy = dir.join("legacy.safetensors");
    std::fs::write(
        &legacy,
        safetensors::serialize([("params", view)], Some(meta)).unwrap(),
    )
    .unwrap();
    let back = registry::load(&gpu, &legacy).unwrap();
    assert_eq!((back.name(), back.family()), ("dnn", Family::Detector));
    let test =
        Tensor::from_slice(&gpu, &split.test_x, split.test_rows() as u32, 2, "test").unwrap();
    assert_eq!(
        bits(&back.score_tensor(&(&test).into(), None).unwrap()),
        bits(&model.score_tensor(&(&test).into(), None).unwrap())
    );
    // Truncated, not safetensors at all, a safetensors file without oddity metadata, missing.
    let good = std::fs::read(&legacy).unwrap();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "truncated",
            good[..good.len() - 7].to_vec(),
            "not a readable safetensors file",
        ),
        (
            "text",
            b"hello, world".to_vec(),
            "not a readable safetensors file",
        ),
        (
            "foreign",
            safetensors::serialize(
                [(
                    "w",
                    safetensors::tensor::TensorView::new(
                        safetensors::Dtype::F32,
                        vec![1],
                        &[0u8; 4],
                    )
                    .unwrap(),
                )],
                None,
            )
            .unwrap(),
            "not an oddity model",
        ),
    ];
    for (name, bytes, want) in cases {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        let e = registry::load(&gpu, &p).err().expect(name).to_string();
        assert!(e.contains(want) && e.contains(name), "{name}: {e}");
    }
    let e = registry::load(&gpu, &dir.join("missing"))
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("missing"), "{e}");
    // A file whose parameters do not fit its architecture names both counts.
    let mut file = ModelFile::read(&legacy).unwrap();
    file.state.params.pop();
    let short = dir.join("short.safetensors");
    file.write(&short).unwrap();
    let e = registry::load(&gpu, &short).err().unwrap().to_string();
    assert!(
        e.contains(&format!("{} parameters", params.len() - 1)),
        "{e}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn thresholds_flag_the_contaminated_share_and_travel_with_the_model() {
    let gpu = gpu();
    let data = small_data();
    let mut model = registry::detector("ae")
        .unwrap()
        .build(&gpu, &data, &small_settings(2))
        .unwrap();
    // Never fitted: a threshold from its scores is refused, in memory and through its file.
    let early = Threshold::contamination(&model.score(&data).unwrap(), 0.1).unwrap();
    let e = model.set_threshold(Some(early)).unwrap_err().to_string();
    assert!(e.contains("ae has not been fitted"), "{e}");
    let back = reloaded(&gpu, model.as_ref());
    assert!(!back.fitted(), "an unfitted model's file says so");
    model.fit(&data).unwrap();
    assert!(model.fitted() && reloaded(&gpu, model.as_ref()).fitted());
    let e = model.predict(&data).unwrap_err().to_string();
    assert!(e.contains("no threshold"), "{e}");
    let scores = model.score(&data).unwrap();
    let t = Threshold::contamination(&scores, 0.1).unwrap();
    model.set_threshold(Some(t)).unwrap();
    let flags = model.predict(&data).unwrap();
    // 10% of 200 distinct scores: the 0.9 quantile sits between the 180th and 181st, so 20
    // rows score at or above it.
    assert_eq!(flags.iter().filter(|&&f| f == 1).count(), 20);
    for (s, f) in scores.iter().zip(&flags) {
        assert_eq!(*f == 1, f64::from(*s) >= t.value);
    }
    let p = Threshold::percentile(&scores, 50.0).unwrap();
    assert_eq!(p.flags(&scores).iter().filter(|&&f| f == 1).count(), 100);
    assert!(Threshold::percentile(&scores, 101.0).is_err());
    assert!(Threshold::contamination(&scores, 0.7).is_err());
    let path = temp_dir("threshold").join("ae.safetensors");
    model.save(&path).unwrap();
    let back = registry::load(&gpu, &path).unwrap();
    assert_eq!(back.threshold(), Some(&t));
    assert_eq!(back.predict(&data).unwrap(), flags);
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}

#[test]
fn passes_over_many_rows_are_chunked_and_lose_no_row() {
    let gpu = gpu();
    let mut rng = rng();
    let core = {
        let mut b = ArenaBuilder::new(0);
        b.dense(1, 1);
        ModelCore::new(&gpu, b, Optimizer::sgd(0.1), 0).unwrap()
    };
    let (rows, cols) = (23u32, 5u32);
    let x = randn(&mut rng, (rows * cols) as usize, 1.0);
    let data = Tensor::from_slice(&gpu, &x, rows, cols, "x").unwrap();
    // A chunk of 4 rows: `widest` such that 4 rows fill one binding.
    let limits = gpu.limits();
    let bytes = limits
        .max_storage_buffer_binding_size
        .min(limits.max_buffer_size);
    let widest = (bytes / (4 * 4)) as u32;
    assert_eq!(core.chunk_rows(widest), 4);
    let out = Tensor::new(&gpu, rows, cols, "out").unwrap();
    let mut tape = core.tape();
    let mut starts = Vec::new();
    core.record_rows(
        &mut tape,
        &(&data).into(),
        widest,
        &[&out],
        |tape, r0, x, dst| {
            starts.push((r0, x.rows()));
            tape.copy(x, &dst[0])
        },
    )
    .unwrap();
    assert_eq!(starts, [(0, 4), (4, 4), (8, 4), (12, 4), (16, 4), (20, 3)]);
    tape.finish().unwrap().run(1).unwrap();
    assert_eq!(bits(&out.read(&gpu).unwrap()), bits(&x));
    // Host rows in uploads of 7 rows: every row scored once, in order.
    let mut firsts = Vec::new();
    let got = core
        .score_rows(&x, cols, 7, |t, r0| {
            firsts.push(r0);
            Ok(t.read(&gpu)?.chunks(cols as usize).map(|r| r[0]).collect())
        })
        .unwrap();
    assert_eq!(firsts, [0, 7, 14, 21]);
    let want: Vec<f32> = x.chunks(cols as usize).map(|r| r[0]).collect();
    assert_eq!(bits(&got), bits(&want));
    let e = core
        .score_rows(&x[..7], cols, 7, |_, _| Ok(vec![0.0]))
        .unwrap_err()
        .to_string();
    assert!(e.contains("whole rows"), "{e}");
}

/// `Settings::standardise` (`oddity fit --standardise`): the AE, the DAE, ABC and the VAE fit
/// to standardised columns, so the same rows moved and stretched column by column score the
/// same; without it (min-max scaled inputs, a sigmoid VAE output) they do not.
#[test]
fn the_standardise_setting_makes_scores_blind_to_column_scale() {
    let gpu = gpu();
    let data = small_data();
    let cols = data.cols;
    let mut moved = data.clone();
    for (e, v) in moved.x.iter_mut().enumerate() {
        *v = *v * (1.0 + 2.0 * (e % cols) as f32) - 3.0 * (e % cols) as f32;
    }
    for name in ["ae", "dae", "abc-ae", "vae"] {
        let scores = |data: &Dataset, standardise: bool| {
            let settings = Settings {
                standardise: Some(standardise),
                max_epochs: Some(2),
                ..small_settings(4)
            };
            let mut m = registry::detector(name)
                .unwrap()
                .build(&gpu, data, &settings)
                .unwrap();
            m.fit(data).unwrap();
            m.score(data).unwrap()
        };
        let e = rel_err(&scores(&moved, true), &wide(&scores(&data, true)));
        assert!(e < 1e-3, "{name}: standardised scores moved by {e}");
        let e = rel_err(&scores(&moved, false), &wide(&scores(&data, false)));
        assert!(e > 1e-2, "{name}: unstandardised scores moved by only {e}");
    }
}
