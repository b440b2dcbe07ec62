//! DAGMM: its scores against an f64 pipeline of its own parameters (standardisation, the
//! compression network, the reconstruction features, the estimation network, the training
//! set's mixture and each row's energy), its model file, detection of rows off the normal
//! rows' manifold, and its refusals. The mixture's kernels and backward rules are checked in
//! `gmm.rs`.

mod common;

use common::*;
use oddity::data::Dataset;
use oddity::models::{Dagmm, DagmmConfig, Detector};
use oddity::nn::Optimizer;
use oddity_kernels::params::GmmParams;
use oddity_kernels::reference as r;
use rand::RngExt;

/// `normal` rows near a 2-D plane through 8-D space (a fixed mix of two coordinates plus a
/// little noise), then `off` rows of the same size drawn off it.
fn plane(rng: &mut rand::rngs::StdRng, normal: usize, off: usize) -> Dataset {
    let d = 8;
    let mix: Vec<f32> = (0..2 * d)
        .map(|e| ((e * 7 + 3) % 11) as f32 / 5.0 - 1.0)
        .collect();
    let mut x = Vec::new();
    for i in 0..normal + off {
        if i < normal {
            let t = [
                rng.random_range(-1.0f32..1.0),
                rng.random_range(-1.0f32..1.0),
            ];
            x.extend(
                (0..d).map(|j| t[0] * mix[j] + t[1] * mix[d + j] + 0.02 * rng.random::<f32>()),
            );
        } else {
            x.extend((0..d).map(|_| rng.random_range(-1.0f32..1.0)));
        }
    }
    let anomaly = (0..normal + off).map(|i| u8::from(i >= normal)).collect();
    dataset("plane", d, x, Some(anomaly))
}

/// A dense network's layers in f64 (each W then its bias row, from `params` at `at`), tanh
/// hidden and a linear last layer; moves `at` past them.
fn mlp(sizes: &[usize], params: &[f64], at: &mut usize, x: Vec<f64>, rows: usize) -> Vec<f64> {
    let mut h = x;
    for (i, w) in sizes.windows(2).enumerate() {
        let act = if i + 2 == sizes.len() { 0 } else { 3 };
        let n = (w[0] + 1) * w[1];
        h = dense_fwd(
            Layer::new(w[0], w[1], act, 0.0),
            &h,
            rows,
            &params[*at..*at + n],
        );
        *at += n;
    }
    h
}

/// The f64 pipeline: (each row's z, each row's logits, the mixture stored in the arena).
fn f64_pass(c: &DagmmConfig, params: &[f64], data: &Dataset) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let (n, d) = (data.rows, data.cols);
    let mut enc = vec![d];
    enc.extend(c.hidden.iter().map(|&w| w as usize));
    let mut dec: Vec<usize> = enc.clone();
    dec.reverse();
    let dims = c.code_dims() as usize;
    let mut est = vec![dims];
    est.extend(c.estimation.iter().map(|&w| w as usize));
    est.push(c.components as usize);
    let net_words: usize = [&enc, &dec, &est]
        .iter()
        .map(|s| s.windows(2).map(|w| (w[0] + 1) * w[1]).sum::<usize>())
        .sum();
    let stats = &params[net_words..net_words + 2 * d];
    let xs: Vec<f64> = (0..n * d)
        .map(|e| (f64::from(data.x[e]) - stats[e % d]) / stats[d + e % d])
        .collect();
    let mut at = 0;
    let code = mlp(&enc, params, &mut at, xs.clone(), n);
    let recon = mlp(&dec, params, &mut at, code.clone(), n);
    let l = *c.hidden.last().unwrap() as usize;
    let mut z = Vec::new();
    for i in 0..n {
        let (xr, yr) = (&xs[i * d..][..d], &recon[i * d..][..d]);
        let nx = xr
            .iter()
            .map(|v| v * v)
            .sum::<f64>()
            .sqrt()
            .max(r::RECON_NORM_MIN);
        let ny = yr
            .iter()
            .map(|v| v * v)
            .sum::<f64>()
            .sqrt()
            .max(r::RECON_NORM_MIN);
        let e2: f64 = xr.iter().zip(yr).map(|(a, b)| (a - b) * (a - b)).sum();
        let dot: f64 = xr.iter().zip(yr).map(|(a, b)| a * b).sum();
        z.extend_from_slice(&code[i * l..][..l]);
        z.push((e2 + r::RECON_DIST_EPS).sqrt() / nx);
        z.push(dot / (nx * ny));
    }
    let logits = mlp(&est, params, &mut at, z.clone(), n);
    assert_eq!(
        at, net_words,
        "the networks fill the arena up to the statistics"
    );
    let mixture = params[net_words + 2 * d..].to_vec();
    (z, logits, mixture)
}

#[test]
fn scores_match_an_f64_pipeline_and_survive_the_model_file() {
    let gpu = gpu();
    let mut rng = rng();
    let data = plane(&mut rng, 150, 7);
    let config = DagmmConfig {
        hidden: vec![6, 2],
        estimation: vec![5],
        components: 3,
        batch: 64,
        epochs: 4,
        optimizer: Optimizer::adam(1e-3),
        seed: 5,
        ..DagmmConfig::new(8)
    };
    let mut model = Dagmm::new(&gpu, config.clone()).unwrap();
    model.fit(&data).unwrap();
    let params = wide(&model.core().arena().read(&gpu).unwrap());
    let (z, logits, stored) = f64_pass(&config, &params, &data);
    // The stored mixture is the one fitted to every training row's z and memberships.
    let (n, dims, comps) = (data.rows as u32, config.code_dims(), config.components);
    let p = GmmParams {
        eps: config.eps,
        ..GmmParams::new(n, dims, comps)
    };
    let mut want = vec![0.0; (comps * p.record()) as usize];
    r::gmm_fit(&p, &z, &logits, &mut want);
    let rec = p.record() as usize;
    let pick = |v: &[f64], at: usize, len: usize| -> Vec<f64> {
        (0..comps as usize)
            .flat_map(|j| v[j * rec + at..][..len].to_vec())
            .collect()
    };
    let du = dims as usize;
    for (name, at, len) in [
        ("G phi", 0, 2),
        ("mu", 3, du),
        ("C", 3 + du + du * du, du * du),
    ] {
        let g: Vec<f32> = pick(&stored, at, len).iter().map(|&v| v as f32).collect();
        let e = rel_err(&g, &pick(&want, at, len));
        eprintln!("mixture {name}: {e:.2e}");
        assert!(e < 1e-4, "mixture {name}: {e}");
    }
    assert_eq!(stored.len(), want.len());
    // Each row's energy under the stored mixture.
    let q = GmmParams {
        pen_off: oddity_kernels::params::NONE,
        ..p
    };
    let mut energy = vec![0.0; data.rows];
    let mut resp = vec![0.0; data.rows * comps as usize];
    r::gmm_energy(&q, &z, &stored, &mut energy, &mut resp, &mut []);
    let scores = model.score(&data).unwrap();
    let e = rel_err(&scores, &energy);
    eprintln!("scores: {e:.2e}");
    assert!(e < 1e-4, "scores against the f64 pipeline: {e}");
    let back = reloaded(&gpu, &model);
    assert!(
        same_bits(&back.score(&data).unwrap(), &scores),
        "reloaded scores differ"
    );
}

/// Trained on the plane's rows alone, DAGMM ranks rows off it above rows on it. Over 14 fresh
/// seeds this set-up gave AUROC 0.909 to 0.998; the bound leaves room for the seeds not seen,
/// and a model whose energy did not rank (0.5) or ranked backwards fails it.
#[test]
fn rows_off_the_normal_plane_score_high() {
    let gpu = gpu();
    let mut rng = rng();
    let train = plane(&mut rng, 600, 0);
    let test = plane(&mut rng, 300, 30);
    let config = DagmmConfig {
        hidden: vec![16, 2],
        estimation: vec![8],
        components: 2,
        batch: 128,
        epochs: 60,
        optimizer: Optimizer::adam(3e-3),
        seed: rng.random(),
        ..DagmmConfig::new(8)
    };
    let mut model = Dagmm::new(&gpu, config.clone()).unwrap();
    let report = model.fit(&train).unwrap();
    let loss = &report.val_loss;
    eprintln!("loss by submit: {loss:?}");
    let auc = oddity::metrics::auroc(&model.score(&test).unwrap(), test.anomaly.as_ref().unwrap())
        .unwrap();
    eprintln!("AUROC {auc:.4} (seed {})", config.seed);
    assert!(auc > 0.85, "AUROC {auc}");
}

#[test]
fn bad_set_ups_and_data_are_refused_by_name() {
    let gpu = gpu();
    let base = DagmmConfig::new(4);
    for (bad, what) in [
        (
            DagmmConfig {
                components: 0,
                ..base.clone()
            },
            "components",
        ),
        (
            DagmmConfig {
                components: 17,
                ..base.clone()
            },
            "components",
        ),
        (
            DagmmConfig {
                hidden: vec![8, 15],
                ..base.clone()
            },
            "code",
        ),
        (
            DagmmConfig {
                hidden: vec![],
                ..base.clone()
            },
            "code size",
        ),
        (
            DagmmConfig {
                eps: 0.0,
                ..base.clone()
            },
            "eps",
        ),
        (
            DagmmConfig {
                lambda_energy: f32::NAN,
                ..base.clone()
            },
            "lambda_1",
        ),
        (
            DagmmConfig {
                batch: 1,
                ..base.clone()
            },
            "batch",
        ),
    ] {
        let e = Dagmm::new(&gpu, bad).err().expect(what).to_string();
        assert!(e.contains(what), "{what}: {e}");
    }
    let mut model = Dagmm::new(&gpu, base).unwrap();
    let one = dataset("one row", 4, vec![0.5; 4], None);
    let e = model.fit(&one).unwrap_err().to_string();
    assert!(e.contains("one row") && e.contains("at least 2"), "{e}");
    let wide = dataset("wide", 5, vec![0.5; 10], None);
    assert!(model.fit(&wide).is_err(), "5 columns for a 4-input model");
}
