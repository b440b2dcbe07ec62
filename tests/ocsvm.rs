//! `ocsvm.wgsl` against its f64 twins: squared norms, the Gram GEMM and the RBF kernel, the
//! decision values, and LIBSVM's SMO solver, both a few iterations at a time (the same choices,
//! the same multipliers) and run to convergence (the same decision function), at awkward sizes
//! with outputs poisoned with NaN first.

mod common;

use common::*;
use oddity::Tensor;
use oddity::ops::ocsvm::SmoState;
use oddity::tape::{StepState, Tape};
use oddity_kernels::params::OcsvmParams;
use oddity_kernels::reference as r;
use rand::RngExt;

fn nan_tensor(gpu: &oddity::Gpu, rows: u32, cols: u32) -> Tensor {
    Tensor::from_slice(
        gpu,
        &vec![f32::NAN; (rows * cols) as usize],
        rows,
        cols,
        "poisoned",
    )
    .unwrap()
}

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
            let centre = if (e / d) % 3 == 0 { 1.5 } else { -0.5 };
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
fn solve(gpu: &oddity::Gpu, k: &Tensor, nu: f32, iters: u32, dispatches: u32) -> SmoState {
    let state = SmoState::new(gpu, k.rows()).unwrap();
    for t in [&state.alpha, &state.grad, &state.status] {
        t.write(gpu, &vec![f32::NAN; t.len() as usize]).unwrap();
    }
    run(gpu, |tape| {
        tape.ocsvm_smo_init(&state, nu).unwrap();
        for _ in 0..dispatches {
            tape.ocsvm_smo(k, &state, iters, 1e-3).unwrap();
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
        let state = solve(&gpu, &k, nu, iters, 1);
        let p = OcsvmParams {
            al_off: 0,
            gr_off: n,
            st_off: 2 * n,
            iters,
            nu,
            ..OcsvmParams::new(n, 0)
        };
        let mut want = vec![f64::NAN; (2 * n + 4) as usize];
        r::ocsvm_smo_init(&p, &mut want);
        let kmat = wide(&k.read(&gpu).unwrap());
        r::ocsvm_smo(&p, &kmat, &mut want);
        let nu_ = n as usize;
        let alpha = state.alpha.read(&gpu).unwrap();
        let e = rel_err(&alpha, &want[..nu_]);
        assert!(e < 1e-4, "alpha n={n} nu={nu} after {iters}: {e}");
        let e = rel_err(&state.grad.read(&gpu).unwrap(), &want[nu_..2 * nu_]);
        assert!(e < 1e-4, "gradient n={n} nu={nu} after {iters}: {e}");
        let status = state.status.read(&gpu).unwrap();
        assert_eq!(
            (status[0], status[1]),
            (want[2 * nu_] as f32, want[2 * nu_ + 1] as f32),
            "converged and iterations n={n} nu={nu}"
        );
        let e = rel_err(&status[2..], &want[2 * nu_ + 2..]);
        assert!(e < 1e-4, "rho and gap n={n} nu={nu}: {e}");
        // The constraints hold: 0 <= a <= 1, sum a = nu n.
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
        let state = solve(&gpu, &k, nu, 64, 400);
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
