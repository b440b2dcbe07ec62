//! Deep SVDD: a bias-free network, a centre fixed from the initial network with no coordinate
//! within eps of 0, training that pulls the normal rows toward it, and rows unlike them scored
//! far; and its no-bias layers (their finite-difference check is in `gradcheck.rs`).

mod common;

use common::*;
use oddity::data::Dataset;
use oddity::models::{DeepSvdd, DeepSvddConfig, Detector};
use rand::RngExt;

fn rows(rng: &mut rand::rngs::StdRng, normal: usize, far: usize, d: usize) -> Dataset {
    let mut x = Vec::new();
    for i in 0..normal + far {
        let shift = if i >= normal { 3.0 } else { 0.0 };
        x.extend((0..d).map(|j| 0.2 * rng.random::<f32>() + 0.1 * j as f32 + shift));
    }
    dataset(
        "cluster",
        d,
        x,
        Some((0..normal + far).map(|i| u8::from(i >= normal)).collect()),
    )
}

#[test]
fn deep_svdd_pulls_normal_rows_to_its_centre_and_scores_others_far() {
    let gpu = gpu();
    let mut rng = rng();
    let d = 6;
    let train = rows(&mut rng, 400, 0, d);
    let test = rows(&mut rng, 200, 20, d);
    let config = DeepSvddConfig {
        hidden: vec![16, 8],
        epochs: 30,
        optimizer: oddity::nn::Optimizer::adam(1e-3),
        ..DeepSvddConfig::new(d as u32)
    };
    let mut model = DeepSvdd::new(&gpu, config.clone()).unwrap();
    // No bias: the arena holds the weights, the centre and the column statistics.
    assert_eq!(
        model.core().arena().len() as usize,
        d * 16 + 16 * 8 + 8 + 2 * d,
        "weights 6x16 and 16x8, centre 8, means and deviations 2x6"
    );
    model.fit(&train).unwrap();
    let c = model.centre().unwrap();
    assert!(c.iter().all(|v| v.abs() >= config.eps), "{c:?}");
    let trained = model.score(&test).unwrap();
    // The same set-up, untrained but with the same centre rule: training shrinks the normal
    // rows' distances.
    let mut fresh = DeepSvdd::new(
        &gpu,
        DeepSvddConfig {
            epochs: 1,
            ..config
        },
    )
    .unwrap();
    fresh.fit(&train).unwrap();
    let before = fresh.score(&test).unwrap();
    let mean = |s: &[f32]| s[..200].iter().map(|&v| f64::from(v)).sum::<f64>() / 200.0;
    assert!(
        mean(&trained) < 0.5 * mean(&before),
        "{} vs {}",
        mean(&trained),
        mean(&before)
    );
    let auroc = oddity::metrics::auroc(&trained, test.anomaly.as_ref().unwrap()).unwrap();
    assert!(auroc > 0.95, "AUROC {auroc}");
    // Refused: one row.
    let mut one = train.clone();
    one.rows = 1;
    one.x.truncate(d);
    let e = model.fit(&one).unwrap_err().to_string();
    assert!(e.contains("needs at least 2"), "{e}");
}

/// The columns are standardised over the training rows: the same rows under another scale and
/// offset per column train the same model and score the same. (With Ruff et al.'s linear last
/// layer, so that both ends of the network are run.)
#[test]
fn deep_svdd_standardises_its_columns() {
    let gpu = gpu();
    let mut rng = rng();
    let d = 5;
    let (train, test) = (rows(&mut rng, 300, 0, d), rows(&mut rng, 100, 10, d));
    let moved = |data: &Dataset| {
        let mut m = data.clone();
        for (e, v) in m.x.iter_mut().enumerate() {
            *v = *v * (1.0 + 3.0 * (e % d) as f32) - 2.0 * (e % d) as f32;
        }
        m
    };
    let config = DeepSvddConfig {
        hidden: vec![8, 4],
        epochs: 5,
        seed: 7,
        relu_out: false,
        ..DeepSvddConfig::new(d as u32)
    };
    let fit_score = |train: &Dataset, test: &Dataset| {
        let mut m = DeepSvdd::new(&gpu, config.clone()).unwrap();
        m.fit(train).unwrap();
        m.score(test).unwrap()
    };
    let (a, b) = (
        fit_score(&train, &test),
        fit_score(&moved(&train), &moved(&test)),
    );
    let e = rel_err(&b, &wide(&a));
    assert!(e < 1e-3, "scores after moving the columns differ by {e}");
}

/// `Tape::broadcast_row`: every row of the poisoned destination is the source row, bit for bit.
#[test]
fn broadcast_row_fills_every_row() {
    use oddity::Tensor;
    use oddity::tape::{StepState, Tape};
    let gpu = gpu();
    let mut rng = rng();
    for (rows, w) in [(1u32, 1u32), (7, 5), (300, 33)] {
        let src = randn(&mut rng, w as usize + 2, 1.0);
        let buf = Tensor::from_slice(&gpu, &src, 1, w + 2, "src").unwrap();
        let row = Tensor::view(buf.buffer(), 2, 1, w).unwrap();
        let dst =
            Tensor::from_slice(&gpu, &vec![f32::NAN; (rows * w) as usize], rows, w, "dst").unwrap();
        let state = StepState::new(&gpu).unwrap();
        let mut tape = Tape::new(&gpu, &state);
        tape.broadcast_row(&row, &dst).unwrap();
        // A destination that is not one row wide as a source, or the same buffer: refused.
        assert!(tape.broadcast_row(&dst, &dst).is_err());
        tape.finish().unwrap().run(1).unwrap();
        let got = dst.read(&gpu).unwrap();
        for r in 0..rows as usize {
            let want = &src[2..];
            let have = &got[r * w as usize..(r + 1) * w as usize];
            assert!(
                have.iter()
                    .zip(want)
                    .all(|(a, b)| a.to_bits() == b.to_bits()),
                "row {r}"
            );
        }
    }
}
