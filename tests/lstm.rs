//! `lstm.wgsl` against its f64 twins on fresh random inputs at awkward shapes (one unit, units
//! past a workgroup's 64 lanes and up to the 256 the kernels allow, one step and many),
//! operands at offsets and outputs poisoned: the forward pass (every step's h, c and gates,
//! the last step's h), the backward pass through time (an upstream gradient per step, on the
//! last step only, or a constant; the sums over the steps of a shared input row) and the
//! recurrent weights' gradient, written and added. Then the tape's gradients against finite
//! differences of an f64 forward over several steps: the layer alone, and an encoder and a
//! decoder with dense layers around them (the seq2seq model's shape).

mod common;

use common::grad::check;
use common::kernel::{self, poisoned};
use common::*;
use oddity::Tensor;
use oddity::ops::loss::RowError;
use oddity::tape::Tape;
use oddity_kernels::kernels as k;
use oddity_kernels::params::{LstmParams, NONE};
use oddity_kernels::reference as r;

/// (batch, steps, hidden, a zx row shared by the steps, the last step's h only).
const SHAPES: [(u32, u32, u32, bool, bool); 6] = [
    (1, 1, 1, false, false),
    (3, 5, 7, false, true),
    (2, 4, 65, true, false),
    (5, 3, 130, false, false),
    (33, 2, 4, true, true),
    (1, 6, 256, false, true),
];

/// `v` after `pad` NaN words.
fn padded(pad: usize, v: &[f32]) -> Vec<f32> {
    let mut out = vec![f32::NAN; pad];
    out.extend_from_slice(v);
    out
}

#[test]
fn forward_backward_and_weight_gradient_match_the_reference() {
    let gpu = gpu();
    let mut rng = rng();
    for &(b, t, h, shared, last) in &SHAPES {
        let h4 = 4 * h;
        let zx_row = if shared { h4 } else { t * h4 };
        // Pre-activations of a few units' size, recurrent weights of PyTorch's scale.
        let zx = padded(2, &randn(&mut rng, (b * zx_row) as usize, 1.5));
        let scale = 1.0 / (h as f32).sqrt();
        let wh = padded(3, &randn(&mut rng, (h * h4) as usize, scale));
        let p = LstmParams {
            zx_off: 2,
            zx_row,
            zx_step: if shared { 0 } else { h4 },
            wh_off: 3,
            s_off: 1,
            last_off: if last { 1 + 6 * b * t * h } else { NONE },
            ..LstmParams::new(b, t, h)
        };
        let words = (1 + p.saved() + if last { b * h } else { 0 } + 1) as usize;
        let (zb, wb) = (
            gpu.upload(&zx, "zx").unwrap(),
            gpu.upload(&wh, "wh").unwrap(),
        );
        let saved = poisoned(&gpu, words);
        let groups = gpu.grid_1d(b).unwrap();
        kernel::run(
            &gpu,
            k::lstm::LSTM_FWD,
            Some(&p),
            &[("zx", &zb), ("wh", &wb), ("out", &saved)],
            groups,
        );
        let mut want = vec![f64::NAN; words];
        r::lstm_fwd(&p, &wide(&zx), &wide(&wh), &mut want);
        let got = kernel::read(&gpu, &saved);
        let inner = 1..words - 1;
        let e = rel_err(&got[inner.clone()], &want[inner]);
        assert!(e < 1e-5, "forward {b}x{t}x{h} (shared {shared}): {e}");
        assert!(
            got[0].is_nan() && got[words - 1].is_nan(),
            "words around kept"
        );

        // Backward from the GPU's saved state: an upstream buffer (per step, or the last
        // step's) at offset 2 scaled by 0.5, then a constant; dz at 1, the sums after it.
        let g_words = if last { b * h } else { b * t * h } as usize;
        let g = padded(2, &randn(&mut rng, g_words, 1.0));
        let gb = gpu.upload(&g, "g").unwrap();
        for (g_off, g_scale) in [(2, 0.5), (NONE, 0.7)] {
            let dz_words = b * t * h4;
            let q = LstmParams {
                g_off,
                g_scale,
                g_last: u32::from(last),
                dz_off: 1,
                sum_off: if shared { 1 + dz_words } else { NONE },
                ..p
            };
            let n = (1 + dz_words + if shared { b * h4 } else { 0 } + 1) as usize;
            let dz = poisoned(&gpu, n);
            kernel::run(
                &gpu,
                k::lstm::LSTM_BWD,
                Some(&q),
                &[("wh", &wb), ("saved", &saved), ("g", &gb), ("out", &dz)],
                groups,
            );
            let mut want = vec![f64::NAN; n];
            r::lstm_bwd(&q, &wide(&wh), &wide(&got), &wide(&g), &mut want);
            let dz_got = kernel::read(&gpu, &dz);
            let e = rel_err(&dz_got[1..n - 1], &want[1..n - 1]);
            assert!(
                e < 1e-5,
                "backward {b}x{t}x{h} (shared {shared}, last {last}, g_off {g_off}): {e}"
            );
            assert!(dz_got[0].is_nan() && dz_got[n - 1].is_nan());

            // The recurrent weights' gradient from the GPU's dz, written and added.
            let init = randn(&mut rng, (h * h4) as usize, 1.0);
            for accumulate in [false, true] {
                let dw = if accumulate {
                    gpu.upload(&padded(1, &init), "dwh").unwrap()
                } else {
                    poisoned(&gpu, (1 + h * h4) as usize)
                };
                let w = LstmParams {
                    o_off: 1,
                    accumulate: u32::from(accumulate),
                    ..q
                };
                kernel::run(
                    &gpu,
                    k::lstm::LSTM_DWH,
                    Some(&w),
                    &[("saved", &saved), ("dz", &dz), ("out", &dw)],
                    kernel::groups(&gpu, h * h4),
                );
                let mut want = vec![f64::NAN; (1 + h * h4) as usize];
                if accumulate {
                    want[1..].copy_from_slice(&wide(&init));
                }
                r::lstm_dwh(&w, &wide(&got), &wide(&dz_got), &mut want);
                let dw_got = kernel::read(&gpu, &dw);
                let e = out_err(accumulate, &dw_got[1..], &want[1..], &init);
                assert!(e < 1e-5, "dW_h {b}x{t}x{h} (accumulate {accumulate}): {e}");
            }
        }
    }
}

/// The f64 forward of one layer: every step's h (`b x t h`) or the last step's (`b x h`).
fn lstm64(zx: &[f64], wh: &[f64], b: u32, t: u32, h: u32, last: bool) -> Vec<f64> {
    let shared = zx.len() == (b * 4 * h) as usize && t > 1;
    let p = LstmParams {
        zx_row: if shared { 4 * h } else { t * 4 * h },
        zx_step: if shared { 0 } else { 4 * h },
        last_off: if last { 6 * b * t * h } else { NONE },
        ..LstmParams::new(b, t, h)
    };
    let mut out = vec![0.0; (p.saved() + b * h) as usize];
    r::lstm_fwd(&p, zx, wh, &mut out);
    if last {
        out[p.saved() as usize..].to_vec()
    } else {
        out[..(b * t * h) as usize].to_vec()
    }
}

/// The mean over rows of the squared distance to `target`.
fn mean_sq(y: &[f64], target: &[f64], rows: usize) -> f64 {
    y.iter()
        .zip(target)
        .map(|(a, b)| (a - b) * (a - b))
        .sum::<f64>()
        / rows as f64
}

#[test]
fn the_layer_against_finite_differences() {
    let gpu = gpu();
    let mut rng = rng();
    for &(b, t, h, shared, last) in &[
        (2u32, 4u32, 3u32, false, false),
        (3, 5, 2, true, false),
        (2, 6, 3, false, true),
        (1, 3, 2, true, true),
    ] {
        let h4 = 4 * h;
        let zx_cols = if shared { h4 } else { t * h4 };
        let out_cols = if last { h } else { t * h };
        let zx = randn(&mut rng, (b * zx_cols) as usize, 1.0);
        let wh = randn(&mut rng, (h * h4) as usize, 0.6);
        let target = randn(&mut rng, (b * out_cols) as usize, 0.5);
        let tt = Tensor::from_slice(&gpu, &target, b, out_cols, "target").unwrap();
        let build = move |tape: &mut Tape, x: &[Tensor]| {
            let y = tape.lstm(&x[0], &x[1], t, last)?;
            let e = tape.row_error(&y, &tt, RowError::SquaredL2)?;
            tape.mean(&e)
        };
        let tw = wide(&target);
        let f =
            move |v: &[Vec<f64>]| mean_sq(&lstm64(&v[0], &v[1], b, t, h, last), &tw, b as usize);
        check(
            &gpu,
            &format!("lstm {b}x{t}x{h} shared {shared} last {last}"),
            &[(zx, b, zx_cols), (wh, h, h4)],
            &build,
            &f,
        );
    }
}

#[test]
fn an_encoder_and_decoder_with_dense_layers_against_finite_differences() {
    let gpu = gpu();
    let mut rng = rng();
    // Windows of 4 steps of 2 features; encoder and decoder of 3 units.
    let (b, t, f, h) = (3u32, 4u32, 2u32, 3u32);
    let h4 = 4 * h;
    let x = randn(&mut rng, (b * t * f) as usize, 1.0);
    let xt = Tensor::from_slice(&gpu, &x, b, t * f, "windows").unwrap();
    let params = [
        (randn(&mut rng, ((f + 1) * h4) as usize, 0.5), f + 1, h4),
        (randn(&mut rng, (h * h4) as usize, 0.5), h, h4),
        (randn(&mut rng, ((h + 1) * h4) as usize, 0.5), h + 1, h4),
        (randn(&mut rng, (h * h4) as usize, 0.5), h, h4),
        (randn(&mut rng, ((h + 1) * f) as usize, 0.5), h + 1, f),
    ];
    let build = move |tape: &mut Tape, p: &[Tensor]| {
        use oddity::ops::Act;
        use oddity::ops::dense::DenseParams;
        let steps = tape.reshape(&xt, b * t, f)?;
        let zx = tape.dense(&steps, &DenseParams::new(p[0].clone())?, Act::Identity)?;
        let zx = tape.reshape(&zx, b, t * h4)?;
        let code = tape.lstm(&zx, &p[1], t, true)?;
        let zd = tape.dense(&code, &DenseParams::new(p[2].clone())?, Act::Identity)?;
        let hs = tape.lstm(&zd, &p[3], t, false)?;
        let hs = tape.reshape(&hs, b * t, h)?;
        let y = tape.dense(&hs, &DenseParams::new(p[4].clone())?, Act::Identity)?;
        let y = tape.reshape(&y, b, t * f)?;
        let e = tape.row_error(&y, &xt, RowError::SquaredL2)?;
        tape.mean(&e)
    };
    let xw = wide(&x);
    let forward = move |v: &[Vec<f64>]| {
        let dense = |x: &[f64], rows: u32, k: u32, n: u32, w: &[f64]| {
            dense_fwd(
                Layer::new(k as usize, n as usize, 0, 0.0),
                x,
                rows as usize,
                w,
            )
        };
        let zx = dense(&xw, b * t, f, h4, &v[0]);
        let code = lstm64(&zx, &v[1], b, t, h, true);
        let zd = dense(&code, b, h, h4, &v[2]);
        let hs = lstm64(&zd, &v[3], b, t, h, false);
        let y = dense(&hs, b * t, h, f, &v[4]);
        mean_sq(&y, &xw, b as usize)
    };
    check(&gpu, "seq2seq", &params, &build, &forward);
}

#[test]
fn bad_shapes_are_refused_by_name() {
    let gpu = gpu();
    let state = oddity::tape::StepState::new(&gpu).unwrap();
    let mut tape = Tape::new(&gpu, &state);
    let t = |r: u32, c: u32| Tensor::new(&gpu, r, c, "t").unwrap();
    for (zx, wh, steps, want) in [
        (t(2, 12), t(3, 11), 3, "recurrent weights 3x11: H x 4H"),
        (t(2, 4 * 257), t(257, 4 * 257), 1, "1 <= H <= 256"),
        (t(2, 10), t(2, 8), 3, "3 steps of pre-activations 2x10"),
        (t(2, 8), t(2, 8), 0, "0 steps"),
        // Shared inputs for a million sequences of 1024 steps: more state than u32 counts.
        (t(1 << 20, 4), t(1, 4), 1024, "too large a state to keep"),
    ] {
        let e = tape.lstm(&zx, &wh, steps, false).unwrap_err().to_string();
        assert!(e.contains(want), "{e}");
    }
}
