//! `gmmdiag.wgsl` against its f64 twins on fresh random inputs at awkward shapes, operands at
//! offsets inside larger buffers and outputs poisoned with NaN first: the E step (negative
//! log-likelihoods and responsibilities), each row's most responsible component, hard labels
//! as responsibilities, and the M step (a component with no rows kept); then the Gaussian
//! mixture detector against an f64 EM step from its own parameters, on blobs of known means,
//! shares and spreads.

mod common;

use common::*;
use oddity::Tensor;
use oddity::models::{Detector, Gmm, GmmConfig};
use oddity::tape::{StepState, Tape};
use oddity_kernels::params::GmmDiagParams;
use oddity_kernels::reference as r;
use rand::RngExt;

/// The shapes (rows, cols, k) every kernel test runs.
const SHAPES: [(u32, u32, u32); 5] = [
    (1, 1, 1),
    (7, 3, 2),
    (257, 13, 5),
    (300, 1, 4),
    (600, 40, 7),
];

fn run(gpu: &oddity::Gpu, record: impl FnOnce(&mut Tape)) {
    let state = StepState::new(gpu).unwrap();
    let mut tape = Tape::new(gpu, &state);
    record(&mut tape);
    tape.finish().unwrap().run(1).unwrap();
}

/// `k` random components of width `d`: log weights of a random share each, means N(0, 1),
/// variances in [0.2, 2].
fn components(rng: &mut rand::rngs::StdRng, k: u32, d: u32) -> Vec<f32> {
    let shares: Vec<f32> = (0..k).map(|_| 0.2 + rng.random::<f32>()).collect();
    let total: f32 = shares.iter().sum();
    let mut v = Vec::new();
    for share in shares {
        v.push((share / total).ln());
        v.extend(randn(rng, d as usize, 1.0));
        v.extend((0..d).map(|_| 0.2 + 1.8 * rng.random::<f32>()));
    }
    v
}

#[test]
fn e_step_and_hard_labels_match_the_reference() {
    let gpu = gpu();
    let mut rng = rng();
    for &(n, d, k) in &SHAPES {
        let x = randn(&mut rng, (n * d) as usize, 1.5);
        let prm = components(&mut rng, k, d);
        let xt = Tensor::from_slice(&gpu, &x, n, d, "x").unwrap();
        let mut padded = vec![f32::NAN; 3];
        padded.extend_from_slice(&prm);
        let pb = Tensor::from_slice(&gpu, &padded, padded.len() as u32, 1, "records").unwrap();
        let pt = Tensor::view(pb.buffer(), 3, k, 1 + 2 * d).unwrap();
        // Responsibilities at 1, log-likelihoods after them and a spare word; a second
        // log-likelihood column without responsibilities.
        let out = nan_tensor(&gpu, n * k + n + 2, 1);
        let resp = Tensor::view(out.buffer(), 1, n, k).unwrap();
        let nll = Tensor::view(out.buffer(), 1 + n * k, n, 1).unwrap();
        let alone = nan_tensor(&gpu, n, 1);
        run(&gpu, |t| {
            t.gmm_diag_estep(&xt, &pt, Some(&resp), &nll).unwrap();
            t.gmm_diag_estep(&xt, &pt, None, &alone).unwrap();
        });
        let p = GmmDiagParams {
            p_off: 3,
            r_off: 1,
            e_off: 1 + n * k,
            ..GmmDiagParams::new(n, d, k)
        };
        let mut want = vec![f64::NAN; (n * k + n + 2) as usize];
        r::gd_estep(&p, &wide(&x), &wide(&padded), &mut want);
        let got = out.read(&gpu).unwrap();
        let inner = 1..(1 + n * k + n) as usize;
        let e = rel_err(&got[inner.clone()], &want[inner]);
        assert!(e < 1e-5, "E step {n}x{d}, k {k}: {e}");
        assert!(got[0].is_nan() && got[got.len() - 1].is_nan());
        let e = rel_err(
            &alone.read(&gpu).unwrap(),
            &want[(1 + n * k) as usize..(1 + n * k + n) as usize],
        );
        assert!(
            e < 1e-5,
            "E step without responsibilities {n}x{d}, k {k}: {e}"
        );
        // The most responsible component, at an offset in a poisoned buffer; the f32 and f64
        // argmax may differ only where two components' log-densities (nearly) tie.
        let lab = nan_tensor(&gpu, n + 2, 1);
        let lv = Tensor::view(lab.buffer(), 1, n, 1).unwrap();
        run(&gpu, |t| t.gmm_diag_label(&xt, &pt, &lv).unwrap());
        let got = lab.read(&gpu).unwrap();
        assert!(got[0].is_nan() && got[n as usize + 1].is_nan());
        let p = GmmDiagParams {
            p_off: 3,
            a_off: 0,
            ..GmmDiagParams::new(n, d, k)
        };
        let mut want = vec![f64::NAN; n as usize];
        let (xw, pw) = (wide(&x), wide(&padded));
        r::gd_label(&p, &xw, &pw, &mut want);
        let mut ties = 0;
        for (i, (&g, &w)) in got[1..=n as usize].iter().zip(&want).enumerate() {
            assert!(g >= 0.0 && g < k as f32 && g.fract() == 0.0, "label {g}");
            if f64::from(g) != w {
                let l = |j: f64| r::gd_log_density(&p, &xw, &pw, i, j as usize);
                let (a, b) = (l(f64::from(g)), l(w));
                assert!(
                    (a - b).abs() < 1e-4 * b.abs().max(1.0),
                    "row {i}: {a} vs {b}"
                );
                ties += 1;
            }
        }
        assert!(ties * 100 <= n, "{ties} near ties of {n}");
        // Hard labels.
        let labels: Vec<f32> = (0..n).map(|_| rng.random_range(0..k) as f32).collect();
        let lt = Tensor::from_slice(&gpu, &labels, n, 1, "labels").unwrap();
        let oh = nan_tensor(&gpu, n, k);
        run(&gpu, |t| t.gmm_diag_onehot(&lt, &oh).unwrap());
        let mut want = vec![f64::NAN; (n * k) as usize];
        r::gd_onehot(
            &GmmDiagParams {
                r_off: 0,
                ..GmmDiagParams::new(n, 0, k)
            },
            &wide(&labels),
            &mut want,
        );
        assert_eq!(wide(&oh.read(&gpu).unwrap()), want, "one-hot {n}, k {k}");
    }
}

#[test]
fn m_step_matches_the_reference_and_keeps_a_component_with_no_rows() {
    let gpu = gpu();
    let mut rng = rng();
    for &(n, d, k) in &SHAPES {
        let x = randn(&mut rng, (n * d) as usize, 2.0);
        // Random responsibilities, each row's summing to 1, none for the last component
        // (when k > 1).
        let live = if k > 1 { k - 1 } else { 1 };
        let mut resp = Vec::new();
        for _ in 0..n {
            let w: Vec<f32> = (0..live).map(|_| rng.random::<f32>() + 0.01).collect();
            let s: f32 = w.iter().sum();
            resp.extend(w.iter().map(|v| v / s));
            resp.extend(std::iter::repeat_n(0.0, (k - live) as usize));
        }
        let prm0 = components(&mut rng, k, d);
        let xt = Tensor::from_slice(&gpu, &x, n, d, "x").unwrap();
        let rt = Tensor::from_slice(&gpu, &resp, n, k, "responsibilities").unwrap();
        // Records at 2, statistics after them (poisoned), a spare word.
        let rec = 1 + 2 * d;
        let mut all = vec![f32::NAN; 2];
        all.extend_from_slice(&prm0);
        all.extend(std::iter::repeat_n(f32::NAN, 2 * k as usize + 1));
        let at = Tensor::from_slice(&gpu, &all, all.len() as u32, 1, "records").unwrap();
        let pt = Tensor::view(at.buffer(), 2, k, rec).unwrap();
        let st = Tensor::view(at.buffer(), 2 + k * rec, k, 2).unwrap();
        run(&gpu, |t| {
            t.gmm_diag_mstep(&xt, &rt, &pt, &st, 1e-6).unwrap()
        });
        let p = GmmDiagParams {
            p_off: 2,
            s_off: 2 + k * rec,
            ..GmmDiagParams::new(n, d, k)
        };
        let mut want = wide(&all);
        r::gd_mstep(&p, &wide(&x), &wide(&resp), &mut want);
        let got = at.read(&gpu).unwrap();
        let body = 2..(2 + k * rec + 2 * k) as usize;
        let e = rel_err(&got[body.clone()], &want[body]);
        assert!(e < 1e-5, "M step {n}x{d}, k {k}: {e}");
        assert!(got[0].is_nan() && got[1].is_nan() && got[got.len() - 1].is_nan());
        if k > 1 {
            let last = (2 + (k - 1) * rec + 1) as usize..(2 + k * rec) as usize;
            assert_eq!(
                &got[last.clone()],
                &all[last],
                "the empty component's means and variances kept"
            );
            assert_eq!(
                got[(2 + k * rec + 2 * (k - 1)) as usize],
                0.0,
                "and its rows"
            );
        }
    }
}

#[test]
fn the_mixture_finds_blobs_of_known_means_shares_and_spreads() {
    let gpu = gpu();
    let mut rng = rng();
    let d = 4usize;
    // Three blobs: 300, 200 and 100 rows of uniform noise within 0.3, 0.6 and 1.0 of their
    // centres, far apart.
    let spec = [
        (300usize, 0.3f32, 0.0f32),
        (200, 0.6, 8.0),
        (100, 1.0, -8.0),
    ];
    let mut x = Vec::new();
    for &(rows, sd, at) in &spec {
        let noise = randn(&mut rng, rows * d, sd);
        x.extend(
            noise
                .iter()
                .enumerate()
                .map(|(e, v)| v + if e % d == 0 { at } else { 0.0 }),
        );
    }
    let n = x.len() / d;
    let data = dataset("blobs", d, x.clone(), None);
    // Scored with three far rows: the anomalies.
    let mut far = x.clone();
    for _ in 0..3 {
        far.extend([0.0, 15.0, 15.0, -15.0]);
    }
    let truth: Vec<u8> = (0..n + 3).map(|i| u8::from(i >= n)).collect();
    let test = dataset("blobs and far rows", d, far, Some(truth.clone()));
    let config = GmmConfig {
        inputs: d as u32,
        k: 3,
        max_iter: 100,
        tol: 1e-3,
        reg: 1e-6,
        seed: 5,
    };
    let mut g = Gmm::new(&gpu, config.clone()).unwrap();
    g.fit(&data).unwrap();
    let comps = g.components().unwrap();
    // Each blob found: a component with its share, and its rows' mean and variance (the
    // blobs are far enough apart that each row's responsibility is its own blob's).
    let mut first = 0;
    for &(rows, _, at) in &spec {
        let c = comps
            .iter()
            .min_by(|a, b| (a.mean[0] - at).abs().total_cmp(&(b.mean[0] - at).abs()))
            .unwrap();
        let (mu, var) = (&c.mean, &c.var);
        let share = c.log_weight.exp();
        assert!(
            (share - rows as f32 / n as f32).abs() < 1e-4,
            "share {share} for {rows} rows"
        );
        for t in 0..d {
            let col: Vec<f64> = (first..first + rows)
                .map(|i| f64::from(x[i * d + t]))
                .collect();
            let m = col.iter().sum::<f64>() / rows as f64;
            let v = col.iter().map(|c| (c - m).powi(2)).sum::<f64>() / rows as f64;
            assert!(
                (f64::from(mu[t]) - m).abs() < 1e-4,
                "blob at {at}, column {t}: mean {} against {m}",
                mu[t]
            );
            assert!(
                (f64::from(var[t]) - v).abs() < 1e-3 * v,
                "blob at {at}, column {t}: variance {} against {v}",
                var[t]
            );
        }
        first += rows;
    }
    // Converged: one f64 EM step from the fitted components moves them little.
    let p = GmmDiagParams::new(n as u32, d as u32, 3);
    let flat: Vec<f64> = comps
        .iter()
        .flat_map(|c| {
            std::iter::once(f64::from(c.log_weight))
                .chain(c.mean.iter().chain(&c.var).map(|v| f64::from(*v)))
        })
        .collect();
    let mut e = vec![0.0; n * 3 + n];
    r::gd_estep(
        &GmmDiagParams {
            r_off: 0,
            e_off: (n * 3) as u32,
            ..p
        },
        &wide(&x),
        &flat,
        &mut e,
    );
    let mut next = flat.clone();
    next.extend([0.0; 6]);
    r::gd_mstep(
        &GmmDiagParams {
            s_off: (3 * (1 + 2 * d)) as u32,
            ..p
        },
        &wide(&x),
        &e,
        &mut next,
    );
    let moved = rel_err64(&next[..flat.len()], &flat);
    assert!(
        moved < 1e-3,
        "one more EM step moves the components by {moved}"
    );
    // The statistics: each component's rows and its variances' sum.
    for ((rows, var), j) in g.clusters().unwrap().into_iter().zip(0..) {
        let want_rows = next[flat.len() + 2 * j];
        assert!(
            (f64::from(rows) - want_rows).abs() < 1e-2 * want_rows.max(1.0),
            "{rows} against {want_rows}"
        );
        let sum: f32 = comps[j].var.iter().map(|v| v - 1e-6).sum();
        assert!((var - sum).abs() < 1e-4 * sum, "{var} against {sum}");
    }
    // Scores: the negative log-likelihood under the fitted components; the far rows first.
    let scores = g.score(&data).unwrap();
    let nll = &e[n * 3..];
    assert!(rel_err(&scores, nll) < 1e-5, "scores against f64");
    let with_far = g.score(&test).unwrap();
    assert_eq!(oddity::metrics::auroc(&with_far, &truth).unwrap(), 1.0);
    // The same seed, the same components bit for bit; its file; bad settings refused.
    let mut again = Gmm::new(&gpu, config.clone()).unwrap();
    again.fit(&data).unwrap();
    assert!(same_bits(&again.score(&data).unwrap(), &scores));
    let back = reloaded(&gpu, &g);
    assert!(same_bits(&back.score(&data).unwrap(), &scores));
    let e = Gmm::new(
        &gpu,
        GmmConfig {
            reg: 0.0,
            ..config.clone()
        },
    )
    .err()
    .unwrap()
    .to_string();
    assert!(e.contains("variance floor"), "{e}");
    let few = dataset("few", d, x[..2 * d].to_vec(), None);
    let e = Gmm::new(&gpu, config)
        .unwrap()
        .fit(&few)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("3 components need 3 rows or more; few has 2"),
        "{e}"
    );
}
