//! Inverted dropout (`dropout.wgsl`): both entry points against the f64 twin (odd sizes,
//! offsets, written and accumulated, poisoned outputs); the share kept and the mean kept; a
//! replayed plan draws a new mask each step and its backward the same mask as its forward;
//! the gradient by finite differences; bad rates refused.

mod common;

use common::grad::check;
use common::kernel::{groups, read, run};
use common::*;
use oddity::ops::Act;
use oddity::ops::dense::DenseParams;
use oddity::ops::loss::RowError;
use oddity::tape::{StepState, Tape, Tensor};
use oddity_kernels::kernels as k;
use oddity_kernels::params::DropoutParams;
use oddity_kernels::reference as r;

#[test]
fn both_entry_points_match_the_twin() {
    let gpu = gpu();
    let mut rng = rng();
    let state = StepState::new(&gpu).unwrap();
    for &(n, rate, step) in &[(1u32, 0.5f32, 0u32), (257, 0.1, 3), (1000, 0.75, 77)] {
        state.set_step(&gpu, step).unwrap();
        let mut x = vec![f32::NAN; 3];
        x.extend(randn(&mut rng, n as usize, 1.0));
        let xb = gpu.upload(&x, "x").unwrap();
        for (kernel, accumulate) in [
            (k::dropout::DROPOUT_FWD, 0),
            (k::dropout::DROPOUT_BWD, 0),
            (k::dropout::DROPOUT_BWD, 1),
        ] {
            let init: Vec<f32> = if accumulate != 0 {
                randn(&mut rng, (n + 2) as usize, 1.0)
            } else {
                vec![f32::NAN; (n + 2) as usize]
            };
            let out = gpu.upload(&init, "out").unwrap();
            let p = DropoutParams {
                n,
                x_off: 3,
                out_off: 1,
                seed: 9,
                tag: 4,
                rate,
                accumulate,
            };
            run(
                &gpu,
                kernel,
                Some(&p),
                &[("x", &xb), ("state", state.buffer()), ("out", &out)],
                groups(&gpu, n),
            );
            let got = read(&gpu, &out);
            let mut want = wide(&init);
            r::dropout(&p, &wide(&x), step, &mut want);
            let (o, e) = (1usize, (1 + n) as usize);
            let err = out_err(accumulate != 0, &got[o..e], &want[o..e], &init[o..e]);
            assert!(err < 1e-6, "{}: n {n} rate {rate}: {err}", kernel.name());
            // The words around the output are left as they were.
            for i in [0, e] {
                assert_eq!(got[i].to_bits(), init[i].to_bits(), "word {i} changed");
            }
        }
    }
}

#[test]
fn each_step_draws_a_new_mask_that_keeps_the_share_and_the_mean() {
    let gpu = gpu();
    let state = StepState::new(&gpu).unwrap();
    let n = 100_000u32;
    let ones = Tensor::from_slice(&gpu, &vec![1.0; n as usize], 1, n, "ones").unwrap();
    let mut tape = Tape::new(&gpu, &state);
    let y = tape.dropout(&ones, 0.25, 3, 8).unwrap();
    tape.advance().unwrap();
    let plan = tape.finish().unwrap();
    let mut masks = Vec::new();
    for step in 0..2u32 {
        plan.run(1).unwrap();
        let v = y.read(&gpu).unwrap();
        let kept = v.iter().filter(|&&x| x != 0.0).count() as f64 / f64::from(n);
        let mean = v.iter().map(|&x| f64::from(x)).sum::<f64>() / f64::from(n);
        // Binomial: the share's deviation is sqrt(0.25 0.75 / n) = 0.0014.
        assert!((kept - 0.75).abs() < 0.007, "step {step}: kept {kept}");
        assert!((mean - 1.0).abs() < 0.01, "step {step}: mean {mean}");
        // Each replay's mask is the twin's at that step counter.
        let p = DropoutParams {
            n,
            x_off: 0,
            out_off: 0,
            seed: 3,
            tag: 8,
            rate: 0.25,
            accumulate: 0,
        };
        for i in 0..n {
            assert_eq!(
                v[i as usize] != 0.0,
                r::dropout_kept(&p, step, i),
                "step {step}, element {i}"
            );
        }
        masks.push(v);
    }
    assert_ne!(masks[0], masks[1], "two steps drew the same mask");
}

#[test]
fn dropout_passes_the_gradient_through_its_mask() {
    // The backward redraws the forward's mask: against finite differences of an f64 forward
    // that applies the twin's mask (step counter 0, as the harness's plan never advances).
    let gpu = gpu();
    let mut rng = rng();
    let (rows, kk, n) = (5u32, 4u32, 7u32);
    let p = DropoutParams {
        n: rows * n,
        x_off: 0,
        out_off: 0,
        seed: 2,
        tag: 6,
        rate: 0.4,
        accumulate: 0,
    };
    let target = randn(&mut rng, (rows * n) as usize, 1.0);
    let tg = Tensor::from_slice(&gpu, &target, rows, n, "target").unwrap();
    let tw = wide(&target);
    let build = move |tape: &mut Tape, t: &[Tensor]| {
        let y = tape.dense(&t[0], &DenseParams::new(t[1].clone())?, Act::Tanh)?;
        let d = tape.dropout(&y, 0.4, 2, 6)?;
        let e = tape.row_error(&d, &tg, RowError::SquaredL2)?;
        tape.sum(&e)
    };
    let f = move |x: &[Vec<f64>]| {
        let y = dense_fwd(
            Layer::new(kk as usize, n as usize, 3, 0.0),
            &x[0],
            rows as usize,
            &x[1],
        );
        let mut d = vec![0.0; y.len()];
        r::dropout(&p, &y, 0, &mut d);
        d.iter().zip(&tw).map(|(a, b)| (a - b).powi(2)).sum::<f64>()
    };
    let inputs = [
        (randn(&mut rng, (rows * kk) as usize, 1.0), rows, kk),
        (randn(&mut rng, ((kk + 1) * n) as usize, 1.0), kk + 1, n),
    ];
    check(&gpu, "dense + dropout + sqL2", &inputs, &build, &f);
}

#[test]
fn rates_outside_zero_to_one_are_refused_and_zero_is_the_input() {
    let gpu = gpu();
    let state = StepState::new(&gpu).unwrap();
    let mut tape = Tape::new(&gpu, &state);
    let x = Tensor::from_slice(&gpu, &[1.0, 2.0], 1, 2, "x").unwrap();
    for rate in [1.0, -0.1, f32::NAN] {
        let e = tape.dropout(&x, rate, 0, 0).unwrap_err();
        assert!(e.to_string().contains("dropout rate"), "{e}");
    }
    let same = tape.dropout(&x, 0.0, 0, 0).unwrap();
    assert_eq!(same.buffer(), x.buffer());
    assert_eq!(tape.dispatches(), 0);
}
