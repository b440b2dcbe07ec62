//! Model files of the ABC paper's detectors: a reloaded model scores bit-identically; a
//! truncated or foreign file is refused.

mod common;

use common::*;
use oddity::data::abc::{Setting, toy2d};
use oddity::models::abc::{fit_and_evaluate, load, save};
use oddity::models::{SupervisedConfig, SupervisedKind};
use oddity::tape::Tensor;

fn config(kind: SupervisedKind, seed: u64) -> SupervisedConfig {
    SupervisedConfig {
        seed,
        ..SupervisedConfig::paper(kind, 2)
    }
}

#[test]
fn saved_models_reload_and_score_bit_identically() {
    let gpu = gpu();
    let dir = std::env::temp_dir().join(format!("oddity-abc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let split = toy2d(100, Setting::One, 3);
    let test =
        Tensor::from_slice(&gpu, &split.test_x, split.test_rows() as u32, 2, "test").unwrap();
    for kind in [
        SupervisedKind::AbcDae,
        SupervisedKind::Dnn,
        SupervisedKind::Lrc,
    ] {
        let cfg = SupervisedConfig {
            max_epochs: 3,
            ..config(kind, 1)
        };
        let (model, _) = fit_and_evaluate(&gpu, &split, cfg).unwrap();
        let path = dir.join(format!("{}.safetensors", kind.name()));
        save(&model, &path).unwrap();
        let back = load(&gpu, &path).unwrap();
        assert_eq!(back.config, model.config);
        let (a, b) = (model.scores(&test).unwrap(), back.scores(&test).unwrap());
        assert_eq!(
            a.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            b.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            "{}: reloaded scores differ",
            kind.name()
        );
    }
    // Truncated, not safetensors at all, a safetensors file without oddity metadata, missing.
    let good = std::fs::read(dir.join("dnn.safetensors")).unwrap();
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
        let e = load(&gpu, &p).err().expect(name).to_string();
        assert!(e.contains(want) && e.contains(name), "{name}: {e}");
    }
    let e = load(&gpu, &dir.join("missing")).err().unwrap().to_string();
    assert!(e.contains("missing"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}
