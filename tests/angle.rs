//! `angle.wgsl` (the angle between a prediction row and its target, the arccos of their
//! cosine similarity) against its f64 twins at awkward shapes, with rows that are equal,
//! opposite, all zeros and nearly parallel, operands at offsets and outputs poisoned; its
//! backward written and added, with an upstream gradient per row; and the tape's gradient
//! against finite differences of an f64 forward.

mod common;

use common::grad::check;
use common::kernel::{self, poisoned};
use common::*;
use oddity::Tensor;
use oddity::tape::{StepState, Tape};
use oddity_kernels::kernels as k;
use oddity_kernels::params::AngleParams;
use oddity_kernels::reference as r;

/// `rows x cols` predictions and targets; row 0 equal, row 1 opposite, row 2 a zero
/// prediction, row 3 nearly parallel (where there are that many rows).
fn pair(rng: &mut rand::rngs::StdRng, rows: u32, cols: u32) -> (Vec<f32>, Vec<f32>) {
    let n = (rows * cols) as usize;
    let (mut y, x) = (randn(rng, n, 1.0), randn(rng, n, 1.0));
    let c = cols as usize;
    let row = |i: usize| i * c..(i + 1) * c;
    if rows > 0 {
        y[row(0)].copy_from_slice(&x[row(0)]);
    }
    if rows > 1 {
        for j in row(1) {
            y[j] = -2.0 * x[j];
        }
    }
    if rows > 2 {
        y[row(2)].fill(0.0);
    }
    if rows > 3 {
        for j in row(3) {
            y[j] = 3.0 * x[j] + if j % c == 0 { 1e-3 } else { 0.0 };
        }
    }
    (y, x)
}

#[test]
fn forward_and_backward_match_the_reference() {
    let gpu = gpu();
    let mut rng = rng();
    for &(rows, cols) in &[(1u32, 1u32), (4, 2), (5, 3), (33, 65), (300, 129)] {
        let (y, x) = pair(&mut rng, rows, cols);
        let n = rows * cols;
        // The prediction at offset 3 of its buffer, the target at 1.
        let mut yp = vec![f32::NAN; 3];
        yp.extend_from_slice(&y);
        let mut xp = vec![f32::NAN; 1];
        xp.extend_from_slice(&x);
        let yb = Tensor::from_slice(&gpu, &yp, yp.len() as u32, 1, "pred").unwrap();
        let xb = Tensor::from_slice(&gpu, &xp, xp.len() as u32, 1, "target").unwrap();
        let (yt, xt) = (
            Tensor::view(yb.buffer(), 3, rows, cols).unwrap(),
            Tensor::view(xb.buffer(), 1, rows, cols).unwrap(),
        );
        let out = nan_tensor(&gpu, rows + 1, 1);
        let ot = Tensor::view(out.buffer(), 1, rows, 1).unwrap();
        let state = StepState::new(&gpu).unwrap();
        let mut tape = Tape::new(&gpu, &state);
        tape.row_angle_into(&yt, &xt, &ot).unwrap();
        tape.finish().unwrap().run(1).unwrap();
        let p = AngleParams {
            pred_off: 3,
            target_off: 1,
            out_off: 1,
            ..AngleParams::new(rows, cols)
        };
        let mut want = vec![f64::NAN; (rows + 1) as usize];
        r::angle_fwd(&p, &wide(&yp), &wide(&xp), &mut want);
        let got = out.read(&gpu).unwrap();
        assert!(got[0].is_nan(), "the word before the output kept");
        for i in 1..=rows as usize {
            // Angles to within f32's rounding of the rows' sums (a few 1e-6 radians).
            assert!(
                (f64::from(got[i]) - want[i]).abs() < 1e-5,
                "{rows}x{cols}, row {}: {} against {}",
                i - 1,
                got[i],
                want[i]
            );
        }
        if rows > 3 {
            assert_eq!(got[1], 0.0, "equal rows");
            assert!(
                (f64::from(got[3]) - std::f64::consts::FRAC_PI_2).abs() < 1e-7,
                "zero row"
            );
        }
        // The backward kernel on its own: an upstream gradient per row (at offset 2), the
        // forward's angles read back from its output, written (poisoned first) and added.
        let mut g = vec![f32::NAN; 2];
        g.extend(randn(&mut rng, rows as usize, 1.0));
        let gb = gpu.upload(&g, "g").unwrap();
        let init = randn(&mut rng, n as usize, 1.0);
        for accumulate in [false, true] {
            let dp = if accumulate {
                gpu.upload(&init, "dpred").unwrap()
            } else {
                poisoned(&gpu, n as usize)
            };
            let q = AngleParams {
                pred_off: 3,
                target_off: 1,
                g_off: 2,
                g_scale: 0.5,
                accumulate: u32::from(accumulate),
                a_off: 1,
                ..AngleParams::new(rows, cols)
            };
            kernel::run(
                &gpu,
                k::angle::ANGLE_BWD,
                Some(&q),
                &[
                    ("pred", yb.buffer()),
                    ("tgt", xb.buffer()),
                    ("g", &gb),
                    ("ang", out.buffer()),
                    ("out", &dp),
                ],
                gpu.grid_1d(rows).unwrap(),
            );
            let mut want = if accumulate {
                wide(&init)
            } else {
                vec![f64::NAN; n as usize]
            };
            r::angle_bwd(&q, &wide(&yp), &wide(&xp), &wide(&g), &mut want);
            // Row by row: a row's gradient divides by sin(theta), so f32's rounding of the
            // angle and of the rows grows by 1 / sin(theta) near 0 and pi.
            let got = kernel::read(&gpu, &dp);
            let c = cols as usize;
            for i in 0..rows as usize {
                let theta =
                    r::angle_between(&wide(&x[i * c..(i + 1) * c]), &wide(&y[i * c..(i + 1) * c]));
                let tol = 1e-5 + 3e-6 / theta.sin().abs().max(1e-30);
                let e = rel_err(&got[i * c..(i + 1) * c], &want[i * c..(i + 1) * c]);
                assert!(
                    e < tol,
                    "{rows}x{cols} backward (accumulate {accumulate}), row {i} (angle {theta}): {e} (tolerance {tol})"
                );
            }
        }
    }
}

#[test]
fn the_angles_gradient_against_finite_differences() {
    let gpu = gpu();
    let mut rng = rng();
    let (rows, cols) = (5u32, 7u32);
    // Rows well away from parallel and from zero, where the angle is smooth.
    let x = randn(&mut rng, (rows * cols) as usize, 1.0);
    let y = randn(&mut rng, (rows * cols) as usize, 1.0);
    let xt = Tensor::from_slice(&gpu, &x, rows, cols, "target").unwrap();
    let xw = wide(&x);
    let build = move |tape: &mut Tape, t: &[Tensor]| {
        let a = tape.row_angle(&t[0], &xt)?;
        tape.mean(&a)
    };
    let f = move |v: &[Vec<f64>]| {
        let c = cols as usize;
        (0..rows as usize)
            .map(|i| r::angle_between(&xw[i * c..(i + 1) * c], &v[0][i * c..(i + 1) * c]))
            .sum::<f64>()
            / f64::from(rows)
    };
    check(&gpu, "row angle + mean", &[(y, rows, cols)], &build, &f);
}
