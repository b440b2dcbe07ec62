//! DA3D, its simple variant and A3: the conv autoencoder's shapes; each step's plan trains
//! only its own network's words; the alarm network learns to flag the anomalies it is shown;
//! model files; and the refusals of shapes that cannot be built. (The conv layers, the
//! reshape and the dense, noise and BCE rules they train through have their finite-difference
//! checks in `conv.rs` and `gradcheck.rs`.)

mod common;

use common::*;
use oddity::data::Dataset;
use oddity::metrics::auroc;
use oddity::models::{
    Body, Da3d, Da3dConfig, Da3dStep, Da3dVariant, DataShape, Detector, Settings, registry,
};
use oddity::nn::ArenaBuilder;
use oddity::ops::Act;
use oddity::ops::conv::Chw;

/// The first `n` digits of classes 0-4 (normal rows for every test here).
fn normal_digits(n: usize) -> Dataset {
    let d = oddity::data::digits().unwrap();
    let class = d.class.clone().unwrap();
    let ix: Vec<usize> = (0..d.rows).filter(|&i| class[i] < 5).take(n).collect();
    d.select(&ix)
}

/// A small conv DA3D of `variant` on 8x8 rows.
fn small(variant: Da3dVariant, epochs: u32) -> Da3dConfig {
    Da3dConfig {
        hidden: vec![8, 6],
        code: 4,
        disc: vec![8],
        alarm: vec![16, 8],
        gen_hidden: vec![8],
        batch: 32,
        aae_epochs: epochs,
        alarm_epochs: epochs,
        lr: 1e-3,
        seed: 5,
        ..Da3dConfig::new(variant, 64, Some(Chw::new(1, 8, 8)))
    }
}

#[test]
fn the_conv_autoencoder_halves_to_its_code_and_mirrors_back() {
    let act = Act::LeakyRelu(0.01);
    let mut arena = ArenaBuilder::new(0);
    let b = Body::conv(&mut arena, Chw::new(1, 28, 28), &[32, 16, 8], 16, act).unwrap();
    let Body::Conv { enc, dec } = &b else {
        panic!("a conv body")
    };
    // 28 -> 14 -> 7 -> 4 -> code 16 x 1 x 1 (the paper's 32C3-16C3-8C3-16C3), and back.
    let shapes: Vec<Chw> = enc.layers.iter().map(|l| l.output).collect();
    assert_eq!(
        shapes,
        [
            Chw::new(32, 14, 14),
            Chw::new(16, 7, 7),
            Chw::new(8, 4, 4),
            Chw::new(16, 1, 1)
        ]
    );
    let back: Vec<Chw> = dec.layers.iter().map(|l| l.output).collect();
    assert_eq!(
        back,
        [
            Chw::new(8, 4, 4),
            Chw::new(16, 7, 7),
            Chw::new(32, 14, 14),
            Chw::new(1, 28, 28)
        ]
    );
    assert_eq!(b.activations(), 8 * 16 + 16 * 49 + 32 * 196);
    // Odd and non-square sizes come back exactly too.
    let b = Body::conv(&mut arena, Chw::new(3, 9, 6), &[4, 5], 2, act).unwrap();
    let Body::Conv { dec, .. } = &b else {
        panic!("a conv body")
    };
    assert_eq!(dec.output(), Chw::new(3, 9, 6));
}

#[test]
fn each_step_trains_only_its_own_networks_words() {
    let gpu = gpu();
    let data = normal_digits(96);
    let m = Da3d::new(&gpu, small(Da3dVariant::Da3d, 1)).unwrap();
    let words = m.core().arena().len() as usize;
    let mut covered = vec![false; words];
    for step in m.phases().concat() {
        let range = m.step_words(step);
        assert!(!range.is_empty(), "{step:?} trains nothing");
        let before = m.core().arena().read(&gpu).unwrap();
        m.train_rounds(&data, &[step], 2).unwrap();
        let after = m.core().arena().read(&gpu).unwrap();
        let mut moved = 0;
        for i in 0..words {
            if range.contains(&(i as u32)) {
                moved += usize::from(before[i] != after[i]);
                covered[i] = true;
            } else {
                assert_eq!(
                    before[i].to_bits(),
                    after[i].to_bits(),
                    "{step:?} moved word {i}, outside {range:?}"
                );
            }
        }
        assert!(
            moved * 2 > range.len(),
            "{step:?} moved {moved} of its {} words",
            range.len()
        );
    }
    assert!(covered.iter().all(|&c| c), "a word no step trains");
    // Each row's code, row-major.
    let codes = m.codes(&data).unwrap();
    assert_eq!(codes.len(), data.rows * 4);
    assert!(codes.iter().all(|v| v.is_finite()));
    // A step the variant has no network for is refused by name.
    let a3 = Da3d::new(&gpu, small(Da3dVariant::A3, 1)).unwrap();
    let e = a3
        .train_rounds(&data, &[Da3dStep::Generate], 1)
        .unwrap_err();
    assert!(e.to_string().contains("a3 has no Generate step"), "{e}");
}

#[test]
fn the_alarm_network_flags_the_anomalies_it_learns_from() {
    // A3 learns normal digits against N(0.5, 1) noise: afterwards fresh noise rows score above
    // its normal training rows. (Not perfectly: the alarm sees a row only through the decoder's
    // activations of its 4-number code, where some noise lands among the digits; 0.964-0.972
    // measured on llvmpipe.)
    let gpu = gpu();
    let data = normal_digits(256);
    let mut m = Da3d::new(&gpu, small(Da3dVariant::A3, 60)).unwrap();
    let mut rng = rng();
    // 1000 fresh noise rows: the AUROC's draw-to-draw spread is then about 0.004.
    let noise: Vec<f32> = randn(&mut rng, 1000 * 64, 1.0)
        .iter()
        .map(|v| v + 0.5)
        .collect();
    let noise_rows = Dataset {
        rows: 1000,
        x: noise,
        anomaly: None,
        class: None,
        origin: None,
        ..data.clone()
    };
    let truth: Vec<u8> = (0..1256).map(|i| u8::from(i >= 256)).collect();
    let noise_auroc = |m: &Da3d| {
        let normal = m.score(&data).unwrap();
        let flagged = m.score(&noise_rows).unwrap();
        let scores: Vec<f32> = normal.iter().chain(&flagged).copied().collect();
        auroc(&scores, &truth).unwrap()
    };
    let before = noise_auroc(&m);
    m.fit(&data).unwrap();
    let after = noise_auroc(&m);
    eprintln!("a3: AUROC of noise against its normal training rows {before:.4} -> {after:.4}");
    assert!(
        after > 0.95 && after > before,
        "noise AUROC {before} -> {after}"
    );
}

#[test]
fn a_saved_model_scores_as_the_one_it_was_saved_from() {
    let gpu = gpu();
    let data = normal_digits(64);
    for variant in [Da3dVariant::Da3d, Da3dVariant::Simple, Da3dVariant::A3] {
        let mut m = Da3d::new(&gpu, small(variant, 1)).unwrap();
        m.fit(&data).unwrap();
        let back = reloaded(&gpu, &m);
        assert_eq!(back.name(), variant.name());
        assert!(same_bits(
            &m.score(&data).unwrap(),
            &back.score(&data).unwrap()
        ));
    }
}

#[test]
fn shapes_that_cannot_be_built_are_refused_when_the_model_is_made() {
    let gpu = gpu();
    let digits = oddity::data::digits().unwrap();
    let shape = DataShape::of(&digits);
    let build = |name: &str, s: Settings| {
        let entry = registry::detector(name).unwrap();
        entry
            .build(&gpu, &digits, &s)
            .map(|_| ())
            .unwrap_err()
            .to_string()
    };
    // Rows of 64 values are not 28 x 28 images.
    let e = build(
        "da3d",
        Settings {
            image: Some(Chw::new(1, 28, 28)),
            ..Settings::default()
        },
    );
    assert!(e.contains("1x28x28") && e.contains("64 columns"), "{e}");
    // 8 -> 4 -> 2 -> 1: a fourth strided layer has nothing left to halve.
    let e = build(
        "a3",
        Settings {
            image: Some(Chw::new(1, 8, 8)),
            hidden: Some(vec![8, 8, 8, 8, 4]),
            ..Settings::default()
        },
    );
    assert!(e.contains("does not reach its code"), "{e}");
    // The hidden widths need a code size after them.
    let e = build(
        "da3d-simple",
        Settings {
            hidden: Some(vec![16]),
            ..Settings::default()
        },
    );
    assert!(e.contains("then its code size"), "{e}");
    // The registry's defaults build for the digits, dense and conv.
    for image in [None, Some(Chw::new(1, 8, 8))] {
        let s = Settings {
            image,
            hidden: image.map(|_| vec![32, 16, 16]),
            ..Settings::default()
        };
        let config = registry::detector("da3d")
            .unwrap()
            .config(&shape, &s)
            .unwrap();
        registry::detector("da3d")
            .unwrap()
            .build_with(&gpu, config)
            .unwrap();
    }
}
