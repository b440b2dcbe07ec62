//! `ocsvm.wgsl` against its f64 twins: squared norms, the Gram GEMM and the RBF kernel, the
//! decision values, and LIBSVM's SMO solver, both a few iterations at a time (the same choices,
//! the same multipliers) and run to convergence (the same decision function), at awkward sizes
//! with outputs poisoned with NaN first.

mod common;

use common::*;
use oddity::Tensor;
use oddity::ops::ocsvm::SmoState;
use oddity::tape::{StepState, Tape};
use oddity_kernels::params::{OcsvmParams, PrimalParams};
use oddity_kernels::reference as r;
use rand::RngExt;

fn run(gpu: &oddity::Gpu, record: impl FnOnce(&mut Tape)) {
    let state = StepState::new(gpu).unwrap();
    let mut tape = Tape::new(gpu, &state);
    record(&mut tape);
    tape.finish().unwrap().run(1).unwrap();
}

/// `n x d` rows in two loose clusters, so that the kernel matrix is neither the identity nor
/// all ones.
fn points(rng: &mut rand::rngs::StdRng, n: u32, d: u32) -> Vec<f32> {
    (0..n * d)
        .map(|e| {
            let centre = if (e / d).is_multiple_of(3) { 1.5 } else { -0.5 };
            centre + rng.random_range(-1.0f32..1.0)
        })
        .collect()
}

/// The RBF kernel matrix of `x` (`n x d`) computed on the GPU, as the model does.
fn kernel_matrix(gpu: &oddity::Gpu, x: &Tensor, gamma: f32) -> Tensor {
    let n = x.rows();
    let (g, norms, k) = (
        nan_tensor(gpu, n, n),
        nan_tensor(gpu, 1, n),
        nan_tensor(gpu, n, n),
    );
    run(gpu, |tape| {
        tape.ocsvm_sq_norms(x, &norms).unwrap();
        tape.ocsvm_gram(x, x, &g).unwrap();
        tape.ocsvm_rbf(&g, &norms, &norms, gamma, &k).unwrap();
    });
    k
}

#[test]
fn norms_gram_and_rbf_match_the_reference() {
    let gpu = gpu();
    let mut rng = rng();
    for &(m, n, d) in &[(1u32, 1u32, 1u32), (3, 5, 2), (257, 31, 17), (70, 300, 64)] {
        let (a, b) = (points(&mut rng, m, d), points(&mut rng, n, d));
        let at = Tensor::from_slice(&gpu, &a, m, d, "a").unwrap();
        let bt = Tensor::from_slice(&gpu, &b, n, d, "b").unwrap();
        // Both rows' norms in one buffer, at odd offsets.
        let norms = nan_tensor(&gpu, 1, 3 + m + n);
        let (na, nb) = (
            Tensor::view(norms.buffer(), 3, 1, m).unwrap(),
            Tensor::view(norms.buffer(), 3 + m, 1, n).unwrap(),
        );
        let (g, k) = (nan_tensor(&gpu, m, n), nan_tensor(&gpu, m, n));
        let gamma = 0.7 / d as f32;
        run(&gpu, |tape| {
            tape.ocsvm_sq_norms(&at, &na).unwrap();
            tape.ocsvm_sq_norms(&bt, &nb).unwrap();
            tape.ocsvm_gram(&at, &bt, &g).unwrap();
            tape.ocsvm_rbf(&g, &na, &nb, gamma, &k).unwrap();
        });
        let mut want_n = vec![f64::NAN; (3 + m + n) as usize];
        r::ocsvm_sq_norms(
            &OcsvmParams {
                out_off: 3,
                ..OcsvmParams::new(m, d)
            },
            &wide(&a),
            &mut want_n,
        );
        r::ocsvm_sq_norms(
            &OcsvmParams {
                out_off: 3 + m,
                ..OcsvmParams::new(n, d)
            },
            &wide(&b),
            &mut want_n,
        );
        let got_n = norms.read(&gpu).unwrap();
        assert!(
            got_n[..3].iter().all(|v| v.is_nan()),
            "wrote before the norms"
        );
        let e = rel_err(&got_n[3..], &want_n[3..]);
        assert!(e < 1e-6, "norms {m}x{n}x{d}: {e}");
        let du = d as usize;
        let want_g: Vec<f64> = (0..(m * n) as usize)
            .map(|e| {
                let (i, j) = (e / n as usize, e % n as usize);
                (0..du)
                    .map(|c| f64::from(a[i * du + c]) * f64::from(b[j * du + c]))
                    .sum()
            })
            .collect();
        let e = rel_err(&g.read(&gpu).unwrap(), &want_g);
        assert!(e < 1e-5, "gram {m}x{n}x{d}: {e}");
        // The RBF kernel from the GPU's own Gram matrix and norms (its step alone).
        let p = OcsvmParams {
            a_off: 3,
            b_off: 3 + m,
            gamma,
            ..OcsvmParams::new(m, n)
        };
        let mut want_k = vec![0.0; (m * n) as usize];
        r::ocsvm_rbf(
            &p,
            &wide(&g.read(&gpu).unwrap()),
            &wide(&got_n),
            &mut want_k,
        );
        let e = rel_err(&k.read(&gpu).unwrap(), &want_k);
        assert!(e < 1e-5, "rbf {m}x{n}x{d}: {e}");
        // And the whole chain against exp(-gamma |a - b|^2) in f64.
        let exact: Vec<f64> = (0..(m * n) as usize)
            .map(|e| {
                let (i, j) = (e / n as usize, e % n as usize);
                let d2: f64 = (0..du)
                    .map(|c| (f64::from(a[i * du + c]) - f64::from(b[j * du + c])).powi(2))
                    .sum();
                (-f64::from(gamma) * d2).exp()
            })
            .collect();
        let e = rel_err(&k.read(&gpu).unwrap(), &exact);
        assert!(e < 1e-5, "kernel {m}x{n}x{d}: {e}");
    }
}

/// The GPU solver's state after init and `dispatches` SMO dispatches of `iters` each.
fn solve(
    gpu: &oddity::Gpu,
    k: &Tensor,
    nu: f32,
    eps: f32,
    iters: u32,
    dispatches: u32,
) -> SmoState {
    let state = SmoState::new(gpu, k.rows()).unwrap();
    for t in [&state.alpha, &state.grad, &state.status] {
        t.write(gpu, &vec![f32::NAN; t.len() as usize]).unwrap();
    }
    run(gpu, |tape| {
        tape.ocsvm_smo_init(&state, nu).unwrap();
        for _ in 0..dispatches {
            tape.ocsvm_smo(k, &state, iters, eps).unwrap();
        }
    });
    state
}

#[test]
fn smo_takes_the_references_steps() {
    let gpu = gpu();
    let mut rng = rng();
    // (rows, features, nu, iterations)
    for &(n, d, nu, iters) in &[
        (1u32, 3u32, 0.5f32, 5u32),
        (2, 1, 0.5, 3),
        (7, 2, 0.1, 4),
        (7, 2, 0.93, 6),
        (300, 5, 0.5, 12),
        (513, 9, 0.05, 25),
    ] {
        let x = points(&mut rng, n, d);
        let xt = Tensor::from_slice(&gpu, &x, n, d, "x").unwrap();
        let gamma = 1.0 / d as f32;
        let k = kernel_matrix(&gpu, &xt, gamma);
        // The start against the reference's.
        let state = solve(&gpu, &k, nu, 1e-3, 0, 0);
        let p = OcsvmParams {
            al_off: 0,
            gr_off: n,
            st_off: 2 * n,
            iters: 1,
            nu,
            ..OcsvmParams::new(n, 0)
        };
        let nu_ = n as usize;
        let mut want = vec![f64::NAN; 2 * nu_ + 4];
        r::ocsvm_smo_init(&p, &mut want);
        let alpha = state.alpha.read(&gpu).unwrap();
        assert_eq!(wide(&alpha), want[..nu_], "the start n={n} nu={nu}");
        // Then one iteration at a time, each checked from the GPU's own start. The pair must
        // be one the rule chooses, and its update the reference's for that pair. Exact ties
        // are common: an unclipped step leaves G_i = G_j, so f32 rounding may pick either of
        // two equally violating multipliers next; both are right.
        let kmat = wide(&k.read(&gpu).unwrap());
        let kf = |i: usize, j: usize| kmat[i * nu_ + j];
        let grad_of = |a: &[f64]| -> Vec<f64> {
            (0..nu_)
                .map(|t| (0..nu_).map(|u| kf(t, u) * a[u]).sum())
                .collect()
        };
        let sm = oddity::tape::StepState::new(&gpu).unwrap();
        let mut tape = Tape::new(&gpu, &sm);
        tape.ocsvm_smo(&k, &state, 1, p.eps).unwrap();
        let step = tape.finish().unwrap();
        let mut done = 0.0;
        for s in 0..iters {
            let a0 = wide(&state.alpha.read(&gpu).unwrap());
            step.run(1).unwrap();
            let a1 = state.alpha.read(&gpu).unwrap();
            let status = state.status.read(&gpu).unwrap();
            let g0 = grad_of(&a0);
            let tol = 1e-5 * g0.iter().fold(1.0f64, |m, g| m.max(g.abs()));
            let c = r::ocsvm_smo_select(&kf, &a0, &g0);
            let at = |what: &str| format!("{what}: n={n} nu={nu} step {s}");
            let up: Vec<usize> = (0..nu_).filter(|&t| f64::from(a1[t]) > a0[t]).collect();
            let down: Vec<usize> = (0..nu_).filter(|&t| f64::from(a1[t]) < a0[t]).collect();
            if up.is_empty() && down.is_empty() {
                // Stopped: the reference stops too, or its gap is within rounding of eps.
                assert_eq!(status[0], 1.0, "{}", at("stopped unconverged"));
                let gap = c.i.map_or(0.0, |_| c.gmax + c.gmax2);
                assert!(
                    c.j.is_none() || gap < f64::from(p.eps) + tol,
                    "{}",
                    at(&format!("stopped at a gap of {gap}"))
                );
                break;
            }
            assert!(up.len() == 1 && down.len() == 1, "{}", at("one pair"));
            let (i, j) = (up[0], down[0]);
            assert!(-g0[i] >= c.gmax - tol, "{}", at("i violates most"));
            let gain = |t| r::ocsvm_smo_gain(&kf, &a0, &g0, i, -g0[i], t);
            let best = (0..nu_).filter_map(gain).fold(0.0, f64::max);
            let gj = gain(j).expect("j can shrink");
            assert!(gj >= best * (1.0 - 1e-4), "{}", at("j gains most"));
            let (ni, nj) = r::ocsvm_smo_update(&kf, &a0, &g0, i, j);
            let e = (f64::from(a1[i]) - ni).abs() + (f64::from(a1[j]) - nj).abs();
            assert!(e < 1e-5, "{}", at(&format!("the pair's update off by {e}")));
            // The gradient kept and rho from it.
            let g1 = grad_of(&wide(&a1));
            let e = rel_err(&state.grad.read(&gpu).unwrap(), &g1);
            assert!(e < 1e-5, "{}", at(&format!("gradient {e}")));
            let rho = r::ocsvm_rho(&wide(&a1), &g1);
            assert!(
                (f64::from(status[2]) - rho).abs() < 1e-5 * rho.abs().max(1.0),
                "{}",
                at(&format!("rho {} against {rho}", status[2]))
            );
            done += 1.0;
            assert_eq!(status[1], done, "{}", at("iterations"));
            // The kernel looks once more after its last update: converged when that
            // selection finds no pair or a gap under eps (either way within rounding of eps).
            let c1 = r::ocsvm_smo_select(&kf, &wide(&a1), &g1);
            let gap1 = c1.i.map_or(0.0, |_| c1.gmax + c1.gmax2);
            let stops = c1.j.is_none() || gap1 < f64::from(p.eps);
            if (gap1 - f64::from(p.eps)).abs() > tol {
                assert_eq!(status[0] == 1.0, stops, "{}", at(&format!("gap {gap1}")));
            }
            if status[0] == 1.0 {
                break;
            }
        }
        // The constraints hold: 0 <= a <= 1, sum a = nu n.
        let alpha = state.alpha.read(&gpu).unwrap();
        assert!(alpha.iter().all(|a| (0.0..=1.0).contains(a)), "box n={n}");
        let sum: f64 = alpha.iter().map(|&a| f64::from(a)).sum();
        assert!(
            (sum - f64::from(nu) * f64::from(n)).abs() < 1e-4 * f64::from(n),
            "sum {sum} for nu n = {}",
            nu * n as f32
        );
    }
}

#[test]
fn smo_converges_to_the_references_decision_function() {
    let gpu = gpu();
    let mut rng = rng();
    for &(n, d, nu) in &[(40u32, 2u32, 0.5f32), (211, 6, 0.1), (400, 3, 0.3)] {
        let x = points(&mut rng, n, d);
        let xt = Tensor::from_slice(&gpu, &x, n, d, "x").unwrap();
        let gamma = 1.0 / d as f32;
        let k = kernel_matrix(&gpu, &xt, gamma);
        // Dispatches of 64 iterations: each starts from the gradient recomputed.
        let state = solve(&gpu, &k, nu, 1e-3, 64, 400);
        let (converged, iterations, rho, gap) = state.read_status(&gpu).unwrap();
        assert!(
            converged,
            "n={n}: not converged after {iterations} (gap {gap})"
        );
        assert!(gap < 1e-3, "n={n}: gap {gap}");
        let p = OcsvmParams {
            gr_off: n,
            st_off: 2 * n,
            iters: 1_000_000,
            nu,
            ..OcsvmParams::new(n, 0)
        };
        let mut want = vec![0.0; (2 * n + 4) as usize];
        r::ocsvm_smo_init(&p, &mut want);
        r::ocsvm_smo(&p, &wide(&k.read(&gpu).unwrap()), &mut want);
        let nu_ = n as usize;
        assert_eq!(want[2 * nu_], 1.0, "the reference converged");
        // Decision values on fresh rows, from both solutions, through the GPU's decision
        // kernel and the reference's.
        let m = 97;
        let q = points(&mut rng, m, d);
        let qt = Tensor::from_slice(&gpu, &q, m, d, "queries").unwrap();
        let model = nan_tensor(&gpu, 1, 2 + 2 * n + 1);
        let (sv_norms, alpha, rho_t) = (
            Tensor::view(model.buffer(), 2, 1, n).unwrap(),
            Tensor::view(model.buffer(), 2 + n, 1, n).unwrap(),
            Tensor::view(model.buffer(), 2 + 2 * n, 1, 1).unwrap(),
        );
        alpha.write(&gpu, &state.alpha.read(&gpu).unwrap()).unwrap();
        rho_t.write(&gpu, &[rho]).unwrap();
        let (g, out) = (nan_tensor(&gpu, m, n), nan_tensor(&gpu, m + 1, 1));
        let out_rows = Tensor::view(out.buffer(), 1, m, 1).unwrap();
        run(&gpu, |tape| {
            tape.ocsvm_sq_norms(&xt, &sv_norms).unwrap();
            tape.ocsvm_gram(&qt, &xt, &g).unwrap();
            tape.ocsvm_decision(&qt, &g, &sv_norms, &alpha, &rho_t, gamma, &out_rows)
                .unwrap();
        });
        let got = out.read(&gpu).unwrap();
        assert!(got[0].is_nan(), "wrote before the scores");
        // The kernel against its twin on the GPU's own model.
        let dp = OcsvmParams {
            sv: n,
            b_off: 2,
            al_off: 2 + n,
            st_off: 2 + 2 * n,
            out_off: 1,
            gamma,
            ..OcsvmParams::new(m, d)
        };
        let model64 = wide(&model.read(&gpu).unwrap());
        let mut want_out = vec![f64::NAN; m as usize + 1];
        r::ocsvm_decision(
            &dp,
            &wide(&q),
            &wide(&g.read(&gpu).unwrap()),
            &model64,
            &model64,
            &mut want_out,
        );
        let e = rel_err(&got[1..], &want_out[1..]);
        assert!(e < 1e-5, "decision n={n}: {e}");
        // The GPU's solution against the f64 solution: both stop with every KKT violation
        // under eps = 1e-3, in the units of the gradient K a, which are the decision values'
        // units: they agree to a few eps (a wrong solution is off by whole units).
        let mut exact = model64.clone();
        exact[2 + nu_..2 + 2 * nu_].copy_from_slice(&want[..nu_]);
        exact[2 + 2 * nu_] = want[2 * nu_ + 2];
        let mut want_exact = vec![f64::NAN; m as usize + 1];
        r::ocsvm_decision(
            &dp,
            &wide(&q),
            &wide(&g.read(&gpu).unwrap()),
            &exact,
            &exact,
            &mut want_exact,
        );
        let worst = (1..=m as usize)
            .map(|i| (f64::from(got[i]) - want_exact[i]).abs())
            .fold(0.0, f64::max);
        assert!(
            worst < 5e-3,
            "n={n} nu={nu}: decision values differ by {worst} (rho {rho} vs {})",
            want[2 * nu_ + 2]
        );
    }
}

/// The detector against the whole pipeline in f64 (standardisation, kernel matrix, SMO to
/// convergence, decision values) on its training rows and fresh ones; a far row scores
/// highest; the model file gives the same bits; the refusals.
#[test]
fn the_detector_matches_an_f64_pipeline_and_refuses_what_it_cannot_solve() {
    use oddity::models::{Detector, Ocsvm, OcsvmConfig, OcsvmFitted, OcsvmSolver};
    let gpu = gpu();
    let mut rng = rng();
    let (n, d) = (250usize, 4usize);
    // Columns of different scales and offsets (standardisation matters), the last row far out.
    let mut x = points(&mut rng, n as u32, d as u32);
    for (e, v) in x.iter_mut().enumerate() {
        *v = *v * (1.0 + (e % d) as f32) + 10.0 * (e % d) as f32;
    }
    for j in 0..d {
        x[(n - 1) * d + j] = 25.0 + 12.0 * j as f32;
    }
    let data = dataset("clusters", d, x.clone(), None);
    let nu = 0.2;
    let config = OcsvmConfig {
        nu,
        ..OcsvmConfig::new(d as u32)
    };
    let mut model = Ocsvm::new(&gpu, config.clone()).unwrap();
    let e = model.score(&data).unwrap_err().to_string();
    assert!(e.contains("not been fitted"), "{e}");
    model.fit(&data).unwrap();
    // The f64 pipeline.
    let x64 = wide(&x);
    let (mean, sd): (Vec<f64>, Vec<f64>) = (0..d)
        .map(|j| {
            let m = (0..n).map(|i| x64[i * d + j]).sum::<f64>() / n as f64;
            let v = (0..n).map(|i| (x64[i * d + j] - m).powi(2)).sum::<f64>() / n as f64;
            (m, v.sqrt())
        })
        .unzip();
    let z: Vec<f64> = (0..n * d)
        .map(|e| (x64[e] - mean[e % d]) / sd[e % d])
        .collect();
    let gamma = 1.0 / d as f64;
    let kernel = |a: &[f64], b: &[f64]| {
        let d2: f64 = a.iter().zip(b).map(|(u, v)| (u - v).powi(2)).sum();
        (-gamma * d2).exp()
    };
    let kmat: Vec<f64> = (0..n * n)
        .map(|e| kernel(&z[e / n * d..][..d], &z[e % n * d..][..d]))
        .collect();
    let p = OcsvmParams {
        gr_off: n as u32,
        st_off: 2 * n as u32,
        iters: 1_000_000,
        nu,
        ..OcsvmParams::new(n as u32, 0)
    };
    let mut st = vec![0.0; 2 * n + 4];
    r::ocsvm_smo_init(&p, &mut st);
    r::ocsvm_smo(&p, &kmat, &mut st);
    let (alpha, rho) = (&st[..n], st[2 * n + 2]);
    let support = alpha.iter().filter(|&&a| a > 0.0).count();
    let Some(OcsvmFitted::Exact {
        support: got_support,
    }) = model.config().ok().and_then(|c| {
        serde_json::from_value::<OcsvmConfig>(c)
            .ok()
            .and_then(|c| c.fitted)
    })
    else {
        panic!("the fitted model records its support");
    };
    // Support counts can differ by a multiplier at the tolerance's edge.
    assert!(
        (got_support as i64 - support as i64).abs() <= 2 + support as i64 / 50,
        "{got_support} support rows against {support}"
    );
    let e = (f64::from(model.rho().unwrap().unwrap()) - rho).abs();
    assert!(e < 5e-3, "rho {rho}: off by {e}");
    let got = model.score(&data).unwrap();
    let want: Vec<f64> = (0..n)
        .map(|i| rho - (0..n).map(|j| alpha[j] * kmat[i * n + j]).sum::<f64>())
        .collect();
    let worst = (0..n)
        .map(|i| (f64::from(got[i]) - want[i]).abs())
        .fold(0.0, f64::max);
    assert!(worst < 5e-3, "training rows' scores off by {worst}");
    let top = (0..n).max_by(|&a, &b| got[a].total_cmp(&got[b])).unwrap();
    assert_eq!(top, n - 1, "the far row scores highest");
    assert!(got[n - 1] > 0.0, "the far row is outside the support");
    // At most nu of the training rows outside the support (and the tolerance's slack).
    let outside = got.iter().filter(|&&s| s > 1e-3).count();
    assert!(
        outside as f64 <= f64::from(nu) * n as f64 + 2.0,
        "{outside} of {n} rows outside for nu {nu}"
    );
    // Through its file: the same bits.
    let again = reloaded(&gpu, &model).score(&data).unwrap();
    assert!(
        same_bits(&again, &got),
        "the reloaded model scores differently"
    );
    // Refused: one row; a constant column, named; nu outside (0, 1]; gamma not positive.
    let mut one = data.clone();
    one.rows = 1;
    one.x.truncate(d);
    let e = model.fit(&one).unwrap_err().to_string();
    assert!(e.contains("needs at least 2"), "{e}");
    let mut flat = data.clone();
    for i in 0..n {
        flat.x[i * d + 2] = -1.5;
    }
    let e = model.fit(&flat).unwrap_err().to_string();
    assert!(e.contains("column \"f2\"") && e.contains("constant"), "{e}");
    let mut small = Ocsvm::new(
        &gpu,
        OcsvmConfig {
            exact_max_rows: 100,
            solver: OcsvmSolver::Exact,
            ..config.clone()
        },
    )
    .unwrap();
    let e = small.fit(&data).unwrap_err().to_string();
    assert!(
        e.contains("250 rows") && e.contains("more than the exact solver takes (100"),
        "{e}"
    );
    for (nu, gamma) in [
        (0.0, None),
        (1.5, None),
        (f32::NAN, None),
        (0.5, Some(0.0)),
        (0.5, Some(f32::INFINITY)),
    ] {
        let bad = OcsvmConfig {
            nu,
            gamma,
            ..config.clone()
        };
        assert!(Ocsvm::new(&gpu, bad).is_err(), "nu {nu} gamma {gamma:?}");
    }
}

fn dispatch(
    gpu: &oddity::Gpu,
    kernel: oddity::gpu::KernelId,
    p: &PrimalParams,
    bufs: &[(&str, &oddity::gpu::GpuBuffer)],
    groups: [u32; 3],
) {
    let mut b = oddity::tape::PlanBuilder::new(gpu);
    b.dispatch(kernel, Some(p), bufs, groups).unwrap();
    b.finish().unwrap().run(1).unwrap();
}

/// The Fourier approximation's kernels against their twins at awkward sizes and offsets:
/// the features' cosine, the primal objective, both backward kernels writing and
/// accumulating (the upstream gradient read from a buffer), and the scores; outputs poisoned.
#[test]
fn the_primal_kernels_match_the_reference() {
    use oddity_kernels::kernels as k;
    let gpu = gpu();
    let mut rng = rng();
    let grid = |n: u32| gpu.grid_1d(n.div_ceil(256)).unwrap();
    for &(rows, cols, nu) in &[(1u32, 1u32, 0.5f32), (7, 300, 0.1), (513, 5, 1.0)] {
        let (ru, rc) = (rows as usize, cols as usize);
        // u at 3, the model (w at 2, rho after it), g at 1.
        let u = randn(&mut rng, 3 + ru, 1.0);
        let mut model = randn(&mut rng, 2 + rc, 0.3);
        model.push(0.05);
        let x = randn(&mut rng, 1 + ru * rc, 4.0);
        let (gu, gm, gx) = (
            gpu.upload(&u, "u").unwrap(),
            gpu.upload(&model, "model").unwrap(),
            gpu.upload(&x, "x").unwrap(),
        );
        let g = gpu.upload(&[f32::NAN, -0.75], "g").unwrap();
        let base = PrimalParams {
            x_off: 1,
            u_off: 3,
            w_off: 2,
            r_off: 2 + cols,
            nu,
            scale: 0.3,
            ..PrimalParams::new(rows, cols)
        };
        let (u64v, m64, x64) = (wide(&u), wide(&model), wide(&x));
        let poisoned = |n: usize| gpu.upload(&vec![f32::NAN; n], "poisoned").unwrap();
        let bwd_params = |p: &PrimalParams, out: &oddity::gpu::GpuBuffer| {
            dispatch(
                &gpu,
                k::ocsvm_primal::PRIMAL_BWD_PARAMS,
                p,
                &[("u", &gu), ("model", &gm), ("g", &g), ("out", out)],
                [1, 1, 1],
            )
        };
        // rff_cos
        let out = poisoned(2 + ru * rc);
        let p = PrimalParams { out_off: 2, ..base };
        dispatch(
            &gpu,
            k::ocsvm_primal::RFF_COS,
            &p,
            &[("x", &gx), ("out", &out)],
            grid(rows * cols),
        );
        let got = gpu.read_f32(&out, 0, out.words()).unwrap();
        let mut want = vec![f64::NAN; 2 + ru * rc];
        r::rff_cos(&p, &x64, &mut want);
        assert!(
            got[..2].iter().all(|v| v.is_nan()),
            "rff_cos wrote before out_off"
        );
        let e = rel_err(&got[2..], &want[2..]);
        assert!(e < 1e-5, "rff_cos {rows}x{cols}: {e}");
        // primal_fwd
        let out = poisoned(3);
        let p = PrimalParams { out_off: 1, ..base };
        dispatch(
            &gpu,
            k::ocsvm_primal::PRIMAL_FWD,
            &p,
            &[("u", &gu), ("model", &gm), ("out", &out)],
            [1, 1, 1],
        );
        let got = gpu.read_f32(&out, 0, 3).unwrap();
        let mut want = vec![f64::NAN; 3];
        r::primal_fwd(&p, &u64v, &m64, &mut want);
        assert!(
            got[0].is_nan() && got[2].is_nan(),
            "primal_fwd wrote around its value"
        );
        let e = rel_err(&got[1..2], &want[1..2]);
        assert!(e < 1e-5, "primal_fwd {rows}x{cols}: {e}");
        // Both backward kernels, written and accumulated.
        for acc in [0u32, 1] {
            let init = randn(&mut rng, 1 + ru.max(rc) + 2, 1.0);
            let out = if acc == 1 {
                gpu.upload(&init, "init").unwrap()
            } else {
                poisoned(init.len())
            };
            let p = PrimalParams {
                out_off: 1,
                g_off: 1,
                g_scale: 2.0,
                accumulate: acc,
                ..base
            };
            dispatch(
                &gpu,
                k::ocsvm_primal::PRIMAL_BWD_U,
                &p,
                &[("u", &gu), ("model", &gm), ("g", &g), ("out", &out)],
                grid(rows),
            );
            let mut want = wide(&init);
            r::primal_bwd_u(&p, &u64v, &m64, &wide(&[f32::NAN, -0.75]), &mut want);
            let got = gpu.read_f32(&out, 0, out.words()).unwrap();
            let e = out_err(
                acc == 1,
                &got[1..1 + ru],
                &want[1..1 + ru],
                &init[1..1 + ru],
            );
            assert!(e < 1e-5, "primal_bwd_u {rows}x{cols} acc {acc}: {e}");
            // dw at 1, drho after the weights, each with its own accumulate flag.
            let out = if acc == 1 {
                gpu.upload(&init, "init").unwrap()
            } else {
                poisoned(init.len())
            };
            let p = PrimalParams {
                r_out: 1 + cols,
                r_acc: 1 - acc,
                ..p
            };
            bwd_params(&p, &out);
            let mut want = if acc == 1 {
                wide(&init)
            } else {
                vec![f64::NAN; init.len()]
            };
            // rho's slot accumulates when the weights do not: it starts from init there.
            want[1 + rc] = f64::from(init[1 + rc]);
            r::primal_bwd_params(&p, &u64v, &m64, &wide(&[f32::NAN, -0.75]), &mut want);
            let got = gpu.read_f32(&out, 0, out.words()).unwrap();
            if acc == 0 {
                // rho's gradient was accumulated onto a poisoned slot: NaN, as it must be.
                assert!(got[1 + rc].is_nan(), "drho read what was there");
                assert!(got[0].is_nan(), "primal_bwd_params wrote before out_off");
            } else {
                let e = acc_err(
                    &got[1 + rc..2 + rc],
                    &want[1 + rc..2 + rc],
                    &init[1 + rc..2 + rc],
                );
                assert!(e < 1e-5, "drho {rows}x{cols}: {e}");
            }
            let e = out_err(
                acc == 1,
                &got[1..1 + rc],
                &want[1..1 + rc],
                &init[1..1 + rc],
            );
            assert!(e < 1e-5, "dw {rows}x{cols} acc {acc}: {e}");
        }
        // The written drho (r_acc 0) on a poisoned slot.
        let out = poisoned(1 + rc);
        let p = PrimalParams {
            out_off: 0,
            r_out: cols,
            ..base
        };
        bwd_params(&p, &out);
        let mut want = vec![f64::NAN; 1 + rc];
        r::primal_bwd_params(&p, &u64v, &m64, &[], &mut want);
        let got = gpu.read_f32(&out, 0, out.words()).unwrap();
        let e = rel_err(&got, &want);
        assert!(e < 1e-5, "written dw and drho {rows}x{cols}: {e}");
        // primal_score
        let out = poisoned(2 + ru);
        let p = PrimalParams { out_off: 1, ..base };
        dispatch(
            &gpu,
            k::ocsvm_primal::PRIMAL_SCORE,
            &p,
            &[("u", &gu), ("model", &gm), ("out", &out)],
            grid(rows),
        );
        let got = gpu.read_f32(&out, 0, out.words()).unwrap();
        let mut want = vec![f64::NAN; 2 + ru];
        r::primal_score(&p, &u64v, &m64, &mut want);
        assert!(
            got[0].is_nan() && got[1 + ru].is_nan(),
            "primal_score wrote around its rows"
        );
        let e = rel_err(&got[1..1 + ru], &want[1..1 + ru]);
        assert!(e < 1e-5, "primal_score {rows}x{cols}: {e}");
    }
}

/// Spearman's rank correlation of two score lists.
fn spearman(a: &[f32], b: &[f32]) -> f64 {
    let rank = |s: &[f32]| {
        let mut ix: Vec<usize> = (0..s.len()).collect();
        ix.sort_by(|&i, &j| s[i].total_cmp(&s[j]));
        let mut r = vec![0.0; s.len()];
        for (k, &i) in ix.iter().enumerate() {
            r[i] = k as f64;
        }
        r
    };
    let (ra, rb) = (rank(a), rank(b));
    let m = (a.len() as f64 - 1.0) / 2.0;
    let cov: f64 = ra.iter().zip(&rb).map(|(x, y)| (x - m) * (y - m)).sum();
    let var: f64 = ra.iter().map(|x| (x - m).powi(2)).sum();
    cov / var
}

/// The Fourier approximation against the exact solver on a set both can solve: the same
/// ranking of the rows (rank correlation), rho in the same units, the far rows first; chosen
/// by `Auto` past `exact_max_rows`; its file gives the same bits.
#[test]
fn the_fourier_approximation_ranks_as_the_exact_solver() {
    use oddity::models::{Detector, Ocsvm, OcsvmConfig, OcsvmFitted, OcsvmSolver};
    let gpu = gpu();
    let mut rng = rng();
    let (n, d, far) = (600usize, 5usize, 6usize);
    let mut x = points(&mut rng, n as u32, d as u32);
    for i in n - far..n {
        for j in 0..d {
            x[i * d + j] = if (i + j) % 2 == 0 { 5.0 } else { -4.0 };
        }
    }
    let data = dataset("clusters", d, x, None);
    let config = OcsvmConfig {
        nu: 0.3,
        ..OcsvmConfig::new(d as u32)
    };
    let mut exact = Ocsvm::new(&gpu, config.clone()).unwrap();
    exact.fit(&data).unwrap();
    let want = exact.score(&data).unwrap();
    let mut approx = Ocsvm::new(
        &gpu,
        OcsvmConfig {
            exact_max_rows: 500,
            features: 512,
            epochs: 30,
            ..config
        },
    )
    .unwrap();
    approx.fit(&data).unwrap();
    let fitted: OcsvmConfig = serde_json::from_value(approx.config().unwrap()).unwrap();
    assert_eq!(fitted.solver, OcsvmSolver::Auto);
    assert_eq!(fitted.fitted, Some(OcsvmFitted::Fourier { rows: n as u32 }));
    let got = approx.score(&data).unwrap();
    let rho = (
        exact.rho().unwrap().unwrap(),
        approx.rho().unwrap().unwrap(),
    );
    let r = spearman(&got, &want);
    eprintln!("rank correlation {r:.4}, rho {rho:?}");
    assert!(r > 0.95, "rank correlation with the exact solver {r}");
    assert!((rho.1 / rho.0 - 1.0).abs() < 0.15, "rho {rho:?}");
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| got[b].total_cmp(&got[a]));
    assert!(
        order[..far].iter().all(|&i| i >= n - far),
        "the far rows first: {:?}",
        &order[..far]
    );
    let again = reloaded(&gpu, &approx).score(&data).unwrap();
    assert!(
        same_bits(&again, &got),
        "the reloaded model scores differently"
    );
}
