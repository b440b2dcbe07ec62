//! Convolution and transposed convolution (`conv.wgsl`): every entry point against its f64 twin
//! at awkward shapes (odd sizes, channel counts that fit no tile, batch 1, strides that skip
//! input, non-square kernels, offsets in shared buffers, written and accumulated, poisoned
//! outputs); the tape's layers against finite differences of an f64 forward for every
//! activation; and the refusals of a geometry that cannot run.

mod common;

use common::grad::check;
use common::kernel::{groups, read, run};
use common::*;
use oddity::ops::Act;
use oddity::ops::conv::{Chw, Conv2d, ConvLayer};
use oddity::ops::loss::RowError;
use oddity::tape::{Tape, Tensor};
use oddity::{Error, Gpu};
use oddity_kernels::kernels as k;
use oddity_kernels::params::{ConvParams, NONE};
use oddity_kernels::reference as r;
use rand::rngs::StdRng;

/// (rows, geometry): convolutions and transposed ones.
fn geometries() -> Vec<(u32, Conv2d)> {
    let c = |i: Chw, o, kk, s, p| Conv2d::new(i, o, kk, s, p).unwrap();
    let t = |i: Chw, o, kk, s, p, op| Conv2d::transposed(i, o, kk, s, p, op).unwrap();
    vec![
        (1, c(Chw::new(1, 1, 1), 1, [1, 1], [1, 1], [0, 0])),
        (3, c(Chw::new(3, 7, 5), 5, [3, 3], [1, 1], [1, 1])),
        (2, c(Chw::new(2, 9, 8), 7, [3, 2], [2, 3], [1, 0])),
        (1, c(Chw::new(5, 6, 6), 3, [5, 5], [3, 3], [2, 2])),
        (4, c(Chw::new(1, 13, 11), 17, [3, 3], [2, 2], [0, 1])),
        (1, t(Chw::new(1, 1, 1), 1, [1, 1], [1, 1], [0, 0], [0, 0])),
        (2, t(Chw::new(3, 4, 5), 2, [3, 3], [2, 2], [1, 1], [1, 0])),
        (3, t(Chw::new(7, 3, 3), 5, [4, 3], [3, 2], [0, 1], [2, 1])),
        (1, t(Chw::new(2, 5, 4), 3, [3, 3], [1, 1], [1, 1], [0, 0])),
    ]
}

/// `n` values with `lead` NaN words before them (a view at an odd offset of a shared buffer).
fn at_offset(rng: &mut StdRng, lead: u32, n: u32) -> Vec<f32> {
    let mut v = vec![f32::NAN; lead as usize];
    v.extend(randn(rng, n as usize, 1.0));
    v
}

/// An f64 twin: its inputs (as the GPU got them) and the output to write into.
type Twin<'a> = dyn Fn(&[Vec<f64>], &mut [f64]) + 'a;

/// Runs one entry point on the GPU and on its twin and compares what each wrote at
/// `out_off .. out_off + n` (and nothing else: the rest of the poisoned output stays NaN).
#[allow(clippy::too_many_arguments)]
fn compare(
    gpu: &Gpu,
    name: &str,
    kernel: oddity::gpu::KernelId,
    p: &ConvParams,
    inputs: &[(&str, &[f32])],
    out_len: u32,
    written: &[(u32, u32)],
    twin: &Twin<'_>,
    rng: &mut StdRng,
) {
    let init: Vec<f32> = if p.accumulate != 0 {
        randn(rng, out_len as usize, 1.0)
    } else {
        vec![f32::NAN; out_len as usize]
    };
    let out = gpu.upload(&init, "out").unwrap();
    let bufs: Vec<_> = inputs
        .iter()
        .map(|(n, v)| (*n, gpu.upload(v, n).unwrap()))
        .collect();
    let mut bind: Vec<(&str, &oddity::gpu::GpuBuffer)> =
        bufs.iter().map(|(n, b)| (*n, b)).collect();
    bind.push(("out", &out));
    let grid = if kernel == k::conv::CONV_WGRAD {
        gpu.grid_1d(p.cs * p.cb * p.kh * p.kw + if p.bias_side == 0 { p.cs } else { p.cb })
            .unwrap()
    } else {
        groups(gpu, p.count.max(1))
    };
    run(gpu, kernel, Some(p), &bind, grid);
    let got = read(gpu, &out);
    let mut want: Vec<f64> = wide(&init);
    let wide_inputs: Vec<Vec<f64>> = inputs.iter().map(|(_, v)| wide(v)).collect();
    twin(&wide_inputs, &mut want);
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        let inside = written
            .iter()
            .any(|&(o, n)| (o..o + n).contains(&(i as u32)));
        if !inside {
            assert!(
                g.is_nan() == w.is_nan() && (g.is_nan() || f64::from(*g) == *w),
                "{name}: word {i} outside the output changed: {g} vs {w}"
            );
        }
    }
    for &(o, n) in written {
        let range = o as usize..(o + n) as usize;
        let (g, w) = (&got[range.clone()], &want[range.clone()]);
        let e = out_err(p.accumulate != 0, g, w, &init[range]);
        // The shaders' tanh (as every adapter's, through exp) is exact to about one ulp of 1,
        // not of its value: at a geometry of one output, tanh(-0.00227) came out 4.4e-8 off,
        // 1.9e-5 relative. Such a value passes when every element is within f32's epsilon.
        let abs = g
            .iter()
            .zip(w)
            .map(|(a, b)| (f64::from(*a) - b).abs())
            .fold(0.0, f64::max);
        assert!(
            e < 1e-5 || abs <= f64::from(f32::EPSILON),
            "{name}: rel err {e} (largest difference {abs}) over {n} values at {o}: {g:?} vs {w:?}"
        );
    }
}

#[test]
fn every_entry_point_matches_its_twin() {
    let gpu = gpu();
    let mut rng = rng();
    for (rows, conv) in geometries() {
        let base = conv.kernel_params(rows);
        let (big_n, small_n) = {
            let (b, s) = if conv.transposed {
                (conv.output, conv.input)
            } else {
                (conv.input, conv.output)
            };
            (rows * b.values().unwrap(), rows * s.values().unwrap())
        };
        let weights = conv.weights();
        let bias_c = conv.output.c;
        let big = at_offset(&mut rng, 3, big_n);
        let small = at_offset(&mut rng, 2, small_n);
        let w = at_offset(&mut rng, 5, weights + bias_c);
        for (acc, act, bias) in [
            (0, Act::Identity, true),
            (1, Act::Relu, false),
            (0, Act::LeakyRelu(0.2), true),
            (0, Act::Tanh, false),
            (1, Act::Sigmoid, true),
        ] {
            let name = format!("{rows} x {conv:?} {act:?} acc {acc} bias {bias}");
            let b_off = if bias { 5 + weights } else { NONE };
            // conv_small: the small side from the big side.
            let p = ConvParams {
                big_off: 3,
                w_off: 5,
                b_off: if bias { 5 + weights } else { NONE },
                out_off: 1,
                count: small_n,
                act: act.code(),
                alpha: act.alpha(),
                accumulate: acc,
                ..base
            };
            // Its bias is the small side's channels': over a transposed geometry the
            // kernel is a data gradient and runs without one.
            let p = ConvParams {
                b_off: if conv.transposed { NONE } else { p.b_off },
                ..p
            };
            compare(
                &gpu,
                &format!("conv_small {name}"),
                k::conv::CONV_SMALL,
                &p,
                &[("big", &big), ("w", &w)],
                small_n + 4,
                &[(1, small_n)],
                &|x, out| r::conv_small(&p, &x[0], &x[1], out),
                &mut rng,
            );
            // conv_big: the big side from the small side.
            let p = ConvParams {
                small_off: 2,
                w_off: 5,
                b_off: if conv.transposed { b_off } else { NONE },
                out_off: 2,
                count: big_n,
                act: act.code(),
                alpha: act.alpha(),
                accumulate: acc,
                ..base
            };
            compare(
                &gpu,
                &format!("conv_big {name}"),
                k::conv::CONV_BIG,
                &p,
                &[("small", &small), ("w", &w)],
                big_n + 3,
                &[(2, big_n)],
                &|x, out| r::conv_big(&p, &x[0], &x[1], out),
                &mut rng,
            );
            // conv_wgrad: the weights at 1, the bias after a gap of 2.
            let channels = if conv.transposed { base.cb } else { base.cs };
            let p = ConvParams {
                big_off: 3,
                small_off: 2,
                out_off: 1,
                b_off: if bias { 3 + weights } else { NONE },
                accumulate: acc,
                ..base
            };
            let mut written = vec![(1, weights)];
            if bias {
                written.push((3 + weights, channels));
            }
            compare(
                &gpu,
                &format!("conv_wgrad {name}"),
                k::conv::CONV_WGRAD,
                &p,
                &[("big", &big), ("small", &small)],
                weights + channels + 4,
                &written,
                &|x, out| r::conv_wgrad(&p, &x[0], &x[1], out),
                &mut rng,
            );
        }
        // conv_dact: dY act'(Y) for each activation, Y drawn where the activation reaches.
        for act in [Act::Relu, Act::LeakyRelu(0.3), Act::Tanh, Act::Sigmoid] {
            let y: Vec<f32> = at_offset(&mut rng, 2, small_n)
                .iter()
                .map(|&v| r::act_apply(act.code(), f64::from(act.alpha()), f64::from(v)) as f32)
                .collect();
            let dy = at_offset(&mut rng, 3, small_n);
            let p = ConvParams {
                big_off: 3,
                small_off: 2,
                out_off: 1,
                count: small_n,
                act: act.code(),
                alpha: act.alpha(),
                ..base
            };
            compare(
                &gpu,
                &format!("conv_dact {act:?}"),
                k::conv::CONV_DACT,
                &p,
                &[("big", &dy), ("small", &y)],
                small_n + 2,
                &[(1, small_n)],
                &|x, out| r::conv_dact(&p, &x[0], &x[1], out),
                &mut rng,
            );
        }
    }
}

/// The f64 forward of a layer: conv (or its transpose), bias, activation.
fn forward64(conv: &Conv2d, rows: u32, act: Act, x: &[f64], param: &[f64]) -> Vec<f64> {
    let p = ConvParams {
        b_off: conv.weights(),
        act: act.code(),
        alpha: act.alpha(),
        ..conv.kernel_params(rows)
    };
    let mut y = vec![0.0; (rows * conv.output.values().unwrap()) as usize];
    if conv.transposed {
        r::conv_big(&p, x, param, &mut y);
    } else {
        r::conv_small(&p, x, param, &mut y);
    }
    y
}

#[test]
fn layers_match_finite_differences_for_every_activation() {
    let gpu = gpu();
    let mut rng = rng();
    let acts = [
        Act::Identity,
        Act::Relu,
        Act::LeakyRelu(0.1),
        Act::Tanh,
        Act::Sigmoid,
    ];
    let cases = [
        (
            2,
            Conv2d::new(Chw::new(2, 5, 4), 3, [3, 3], [2, 1], [1, 1]).unwrap(),
        ),
        (
            1,
            Conv2d::new(Chw::new(3, 4, 4), 2, [2, 3], [1, 2], [0, 1]).unwrap(),
        ),
        (
            2,
            Conv2d::transposed(Chw::new(3, 3, 2), 2, [3, 3], [2, 2], [1, 1], [1, 0]).unwrap(),
        ),
        (
            1,
            Conv2d::transposed(Chw::new(2, 2, 3), 3, [2, 3], [1, 2], [0, 1], [0, 1]).unwrap(),
        ),
    ];
    for (i, (rows, conv)) in cases.into_iter().enumerate() {
        let act = acts[i % acts.len()];
        for act in [act, acts[(i + 2) % acts.len()]] {
            let out = conv.output.values().unwrap();
            let target = randn(&mut rng, (rows * out) as usize, 0.5);
            let tg = Tensor::from_slice(&gpu, &target, rows, out, "target").unwrap();
            let tw = wide(&target);
            let build = move |tape: &mut Tape, t: &[Tensor]| {
                let layer = ConvLayer::new(conv, t[1].clone())?;
                let y = tape.conv2d(&t[0], &layer, act)?;
                let e = tape.row_error(&y, &tg, RowError::SquaredL2)?;
                tape.sum(&e)
            };
            let f = move |x: &[Vec<f64>]| {
                let y = forward64(&conv, rows, act, &x[0], &x[1]);
                y.iter().zip(&tw).map(|(a, b)| (a - b).powi(2)).sum::<f64>()
            };
            let input = conv.input.values().unwrap();
            let inputs = [
                (randn(&mut rng, (rows * input) as usize, 1.0), rows, input),
                (
                    randn(&mut rng, conv.params() as usize, 0.5),
                    1,
                    conv.params(),
                ),
            ];
            check(&gpu, &format!("{conv:?} {act:?}"), &inputs, &build, &f);
        }
    }
}

#[test]
fn two_layers_down_and_back_up_match_finite_differences() {
    // A strided convolution then a transposed one back to the input's shape (the conv
    // autoencoder's pattern): gradients pass from one layer's input gradient into the other's.
    let gpu = gpu();
    let mut rng = rng();
    let rows = 2;
    let down = Conv2d::new(Chw::new(1, 7, 7), 3, [3, 3], [2, 2], [1, 1]).unwrap();
    let up = Conv2d::transposed(down.output, 1, [3, 3], [2, 2], [1, 1], [0, 0]).unwrap();
    assert_eq!(up.output, down.input);
    let d = down.input.values().unwrap();
    let target = randn(&mut rng, (rows * d) as usize, 0.5);
    let tg = Tensor::from_slice(&gpu, &target, rows, d, "target").unwrap();
    let tw = wide(&target);
    let build = move |tape: &mut Tape, t: &[Tensor]| {
        let h = tape.conv2d(&t[0], &ConvLayer::new(down, t[1].clone())?, Act::Tanh)?;
        let y = tape.conv2d(&h, &ConvLayer::new(up, t[2].clone())?, Act::Sigmoid)?;
        let e = tape.row_error(&y, &tg, RowError::Mse)?;
        tape.sum(&e)
    };
    let f = move |x: &[Vec<f64>]| {
        let h = forward64(&down, rows, Act::Tanh, &x[0], &x[1]);
        let y = forward64(&up, rows, Act::Sigmoid, &h, &x[2]);
        y.iter().zip(&tw).map(|(a, b)| (a - b).powi(2)).sum::<f64>() / f64::from(d)
    };
    let inputs = [
        (randn(&mut rng, (rows * d) as usize, 1.0), rows, d),
        (
            randn(&mut rng, down.params() as usize, 0.5),
            1,
            down.params(),
        ),
        (randn(&mut rng, up.params() as usize, 0.5), 1, up.params()),
    ];
    check(&gpu, "conv down, transposed up", &inputs, &build, &f);
}

fn refused(r: oddity::Result<Conv2d>, words: &[&str]) {
    match r {
        Ok(c) => panic!("{c:?} was accepted"),
        Err(e) => {
            let msg = e.to_string();
            for w in words {
                assert!(msg.contains(w), "{msg:?} does not say {w:?}");
            }
        }
    }
}

#[test]
fn geometries_that_cannot_run_are_refused_by_name() {
    let i = Chw::new(2, 4, 5);
    refused(
        Conv2d::new(i, 3, [5, 5], [1, 1], [0, 0]),
        &["kernel 5x5", "larger than the input 4x5"],
    );
    refused(
        Conv2d::new(i, 3, [3, 0], [1, 1], [0, 0]),
        &["kernel", "3x0"],
    );
    refused(
        Conv2d::new(i, 3, [3, 3], [0, 1], [0, 0]),
        &["stride", "0x1"],
    );
    refused(
        Conv2d::new(i, 0, [3, 3], [1, 1], [0, 0]),
        &["0 output channels"],
    );
    refused(
        Conv2d::new(Chw::new(0, 4, 4), 1, [3, 3], [1, 1], [0, 0]),
        &["input 0x4x4"],
    );
    refused(
        Conv2d::transposed(i, 3, [3, 3], [2, 2], [1, 1], [2, 0]),
        &["output padding", "smaller than the stride"],
    );
    refused(
        Conv2d::transposed(Chw::new(1, 1, 1), 1, [1, 1], [1, 1], [1, 1], [0, 0]),
        &["leave no output"],
    );
    // Sizes past u32 are refused, not wrapped.
    refused(
        Conv2d::new(Chw::new(70_000, 70_000, 1), 1, [1, 1], [1, 1], [0, 0]),
        &["2^32"],
    );
    // Output shapes as PyTorch computes them.
    let c = Conv2d::new(Chw::new(1, 28, 28), 32, [3, 3], [2, 2], [1, 1]).unwrap();
    assert_eq!(c.output, Chw::new(32, 14, 14));
    let t = Conv2d::transposed(Chw::new(16, 7, 7), 8, [3, 3], [2, 2], [1, 1], [1, 1]).unwrap();
    assert_eq!(t.output, Chw::new(8, 14, 14));

    // At use: rows of another width, parameters of another size, a bad slope.
    let gpu = gpu();
    let state = oddity::tape::StepState::new(&gpu).unwrap();
    let mut tape = Tape::new(&gpu, &state);
    let param =
        Tensor::from_slice(&gpu, &vec![0.0; c.params() as usize], 1, c.params(), "p").unwrap();
    let layer = ConvLayer::new(c, param.clone()).unwrap();
    let x = Tensor::from_slice(&gpu, &[0.0; 2 * 700], 2, 700, "x").unwrap();
    let e = tape.conv2d(&x, &layer, Act::Relu).unwrap_err();
    assert!(matches!(e, Error::Shape { .. }), "{e}");
    assert!(
        e.to_string().contains("700") && e.to_string().contains("1x28x28"),
        "{e}"
    );
    let x = Tensor::from_slice(&gpu, &[0.0; 784], 1, 784, "x").unwrap();
    let e = tape.conv2d(&x, &layer, Act::LeakyRelu(-1.0)).unwrap_err();
    assert!(e.to_string().contains("slope"), "{e}");
    let e = ConvLayer::new(t, param).unwrap_err();
    assert!(e.to_string().contains("parameters hold"), "{e}");
}

#[test]
fn a_reshaped_tensor_passes_its_gradient_back() {
    // Per-element BCE on a conv layer's output seen as one column (the conv autoencoder's
    // reconstruction loss): the reshape must hand the column's gradient to the layer.
    let gpu = gpu();
    let mut rng = rng();
    let rows = 3;
    let conv = Conv2d::new(Chw::new(2, 4, 3), 2, [2, 2], [1, 1], [1, 0]).unwrap();
    let out = conv.output.values().unwrap();
    let n = rows * out;
    let target: Vec<f32> = randn(&mut rng, n as usize, 1.0)
        .iter()
        .map(|v| 1.0 / (1.0 + (-v).exp()))
        .collect();
    let tg = Tensor::from_slice(&gpu, &target, n, 1, "target").unwrap();
    let tw = wide(&target);
    let build = move |tape: &mut Tape, t: &[Tensor]| {
        let y = tape.conv2d(&t[0], &ConvLayer::new(conv, t[1].clone())?, Act::Identity)?;
        let column = tape.reshape(&y, n, 1)?;
        tape.bce_with_logits(&column, &tg, None)
    };
    let f = move |x: &[Vec<f64>]| {
        let z = forward64(&conv, rows, Act::Identity, &x[0], &x[1]);
        z.iter()
            .zip(&tw)
            .map(|(z, y)| z.max(0.0) - z * y + (-z.abs()).exp().ln_1p())
            .sum::<f64>()
            / f64::from(n)
    };
    let input = conv.input.values().unwrap();
    let inputs = [
        (randn(&mut rng, (rows * input) as usize, 1.0), rows, input),
        (
            randn(&mut rng, conv.params() as usize, 0.5),
            1,
            conv.params(),
        ),
    ];
    check(&gpu, "conv + reshape + bce", &inputs, &build, &f);
    // A reshape to another count is refused.
    let state = oddity::tape::StepState::new(&gpu).unwrap();
    let mut tape = Tape::new(&gpu, &state);
    let x = Tensor::from_slice(&gpu, &[0.0; 6], 2, 3, "x").unwrap();
    let e = tape.reshape(&x, 4, 2).unwrap_err();
    assert!(e.to_string().contains("holds 6 values, not 4 x 2"), "{e}");
}
