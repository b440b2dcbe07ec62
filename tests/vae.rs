//! The variational autoencoder: its scores against an f64 forward pass of its own weights,
//! both scores of it, and detection on data with a low-dimensional normal manifold.

mod common;

use common::*;
use oddity::data::Dataset;
use oddity::models::{Detector, Vae, VaeConfig, VaeScore};
use oddity::nn::Optimizer;
use oddity::tape::Tensor;

fn synthetic(rows: usize, cols: usize, seed: u64) -> Dataset {
    let (x, y) = oddity::data::synthetic_mnist(rows, cols, 0.05, seed);
    Dataset {
        name: "synthetic".into(),
        rows,
        cols,
        x,
        anomaly: Some(y),
        class: None,
        schema: oddity::data::Schema::numeric(
            (0..cols).map(|i| format!("f{i}")),
            &vec![(0.0, 1.0); cols],
        ),
        origin: None,
    }
}

/// The VAE's scores of every row in f64 from its parameters (the encoder's layers, the
/// decoder's, then the decoder's log-variance s): the encoder (relu, linear last) gives
/// [mu | lv], the decoder (relu, sigmoid last) decodes mu. Returns each row's squared error e
/// and its negative ELBO, (e exp(-s) + D s) / 2 + beta KL.
fn f64_scores(c: &VaeConfig, params: &[f64], x: &[f64], rows: usize) -> (Vec<f64>, Vec<f64>) {
    let (&latent, widths) = c.hidden.split_last().unwrap();
    let mut enc = vec![c.inputs as usize];
    enc.extend(widths.iter().map(|&w| w as usize));
    enc.push(2 * latent as usize);
    let mut dec = vec![latent as usize];
    dec.extend(widths.iter().rev().map(|&w| w as usize));
    dec.push(c.inputs as usize);
    let mut at = 0;
    let mut run = |sizes: &[usize], last: u32, input: Vec<f64>| {
        let mut h = input;
        for (i, w) in sizes.windows(2).enumerate() {
            let act = if i + 2 == sizes.len() { last } else { 1 };
            let n = (w[0] + 1) * w[1];
            h = dense_fwd(
                Layer::new(w[0], w[1], act, 0.0),
                &h,
                rows,
                &params[at..at + n],
            );
            at += n;
        }
        h
    };
    let h = run(&enc, 0, x.to_vec());
    let l = latent as usize;
    let mu: Vec<f64> = (0..rows * l).map(|e| h[(e / l) * 2 * l + e % l]).collect();
    let recon = run(&dec, 4, mu);
    let s = params[at];
    assert_eq!(
        at + 1,
        params.len(),
        "the log-variance is the arena's last value"
    );
    let d = c.inputs as usize;
    let rec: Vec<f64> = (0..rows)
        .map(|r| {
            (0..d)
                .map(|j| (recon[r * d + j] - x[r * d + j]).powi(2))
                .sum()
        })
        .collect();
    let elbo = (0..rows)
        .map(|r| {
            let kl = -0.5
                * f64::from(c.beta)
                * (0..l)
                    .map(|j| {
                        let (m, v) = (h[r * 2 * l + j], h[r * 2 * l + l + j]);
                        1.0 + v - m * m - v.exp()
                    })
                    .sum::<f64>();
            0.5 * (rec[r] * (-s).exp() + d as f64 * s) + kl
        })
        .collect();
    (rec, elbo)
}

#[test]
fn scores_match_an_f64_forward_pass_of_the_weights() {
    let gpu = gpu();
    let data = synthetic(37, 13, 2);
    let config = VaeConfig {
        seed: 3,
        beta: 0.8,
        max_epochs: 2,
        ..VaeConfig::new(13, &[7, 5, 3])
    };
    let mut vae = Vae::new(&gpu, config.clone()).unwrap();
    vae.fit(&data).unwrap();
    let params = wide(&vae.core().arena().read(&gpu).unwrap());
    let (rec, elbo) = f64_scores(&config, &params, &wide(&data.x), data.rows);
    let x = Tensor::from_slice(&gpu, &data.x, 37, 13, "x")
        .unwrap()
        .into();
    let e = rel_err(&vae.scores(&x).unwrap(), &elbo);
    assert!(e < 1e-5, "negative ELBO: {e}");
    let rec_only = Vae::new(
        &gpu,
        VaeConfig {
            score: VaeScore::Reconstruction,
            ..config
        },
    )
    .unwrap();
    rec_only
        .core()
        .arena()
        .write(&gpu, &vae.core().arena().read(&gpu).unwrap())
        .unwrap();
    let e = rel_err(&rec_only.scores(&x).unwrap(), &rec);
    assert!(e < 1e-5, "reconstruction error: {e}");
}

#[test]
fn trained_on_normal_rows_it_uses_its_code_and_ranks_anomalies_first() {
    let gpu = gpu();
    let data = synthetic(1500, 32, 7);
    let labels = data.anomaly.clone().unwrap();
    let normal: Vec<usize> = (0..data.rows).filter(|&i| labels[i] == 0).collect();
    let train = Dataset {
        rows: normal.len(),
        x: normal.iter().flat_map(|&i| data.row(i)).copied().collect(),
        anomaly: None,
        ..data.clone()
    };
    // A decoder of the mean row reconstructs with the normal rows' total variance as error.
    let n = normal.len() as f64;
    let total_var: f64 = (0..32)
        .map(|j| {
            let v: Vec<f64> = normal.iter().map(|&i| f64::from(data.row(i)[j])).collect();
            let m = v.iter().sum::<f64>() / n;
            v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / n
        })
        .sum();
    let mut aurocs = Vec::new();
    for seed in [0u64, 1, 2] {
        let config = VaeConfig {
            seed,
            optimizer: Optimizer::adam(3e-3),
            max_epochs: 25,
            ..VaeConfig::new(32, &[16, 4])
        };
        let mut vae = Vae::new(&gpu, config.clone()).unwrap();
        let report = vae.fit(&train).unwrap();
        let scores = vae.score(&data).unwrap();
        let rec = Vae::new(
            &gpu,
            VaeConfig {
                score: VaeScore::Reconstruction,
                ..config
            },
        )
        .unwrap();
        let params = vae.core().arena().read(&gpu).unwrap();
        rec.core().arena().write(&gpu, &params).unwrap();
        let errors = rec.score(&data).unwrap();
        let error = normal.iter().map(|&i| f64::from(errors[i])).sum::<f64>() / n;
        let auroc = oddity::metrics::auroc(&scores, &labels).unwrap();
        eprintln!(
            "seed {seed}: {} epochs (best {}), decoder variance {:.4}, normal rows' error {error:.4} (total variance {total_var:.4}), AUROC {auroc:.4}",
            report.epochs,
            report.best_epoch,
            vae.decoder_variance().unwrap()
        );
        assert!(
            error < 0.8 * total_var,
            "seed {seed}: error {error} against a total variance {total_var}: the code collapsed"
        );
        aurocs.push(auroc);
    }
    for (seed, a) in aurocs.iter().enumerate() {
        assert!(*a > 0.95, "seed {seed}: AUROC {a} (all: {aurocs:?})");
    }
}

/// Standardised columns and a fixed decoder variance (PyOD's weighting, `tests/peers.rs`): the
/// variance is not trained, the same rows under another scale and offset per column score the
/// same, and a log-variance that is not finite is refused.
#[test]
fn a_standardised_vae_with_a_fixed_decoder_variance() {
    let gpu = gpu();
    let (cols, s) = (12, 1.5f32);
    let data = synthetic(400, cols, 5);
    let moved = {
        let mut m = data.clone();
        for (e, v) in m.x.iter_mut().enumerate() {
            *v = *v * (1.0 + 2.0 * (e % cols) as f32) - 3.0 * (e % cols) as f32;
        }
        m
    };
    let config = VaeConfig {
        output_act: oddity::ops::Act::Identity,
        max_epochs: 3,
        standardise: true,
        decoder_log_var: Some(s),
        seed: 3,
        ..VaeConfig::new(cols as u32, &[8, 2])
    };
    let fit_score = |data: &Dataset| {
        let mut vae = Vae::new(&gpu, config.clone()).unwrap();
        vae.fit(data).unwrap();
        assert_eq!(vae.decoder_variance().unwrap(), s.exp(), "trained");
        vae.score(data).unwrap()
    };
    let (a, b) = (fit_score(&data), fit_score(&moved));
    let e = rel_err(&b, &wide(&a));
    assert!(e < 1e-3, "scores after moving the columns differ by {e}");
    for bad in [f32::NAN, f32::INFINITY] {
        let e = Vae::new(
            &gpu,
            VaeConfig {
                decoder_log_var: Some(bad),
                ..config.clone()
            },
        )
        .err()
        .unwrap()
        .to_string();
        assert!(e.contains("log-variance must be finite"), "{e}");
    }
}
