//! Criterion benches of the convolution layers at the DA3D conv autoencoder's shapes (batch
//! 64, 28 x 28 images), each beside a dense layer doing the same multiply-adds as one GEMM
//! (im2col's product: rows x output positions by output channels, over input channels x
//! kernel taps): forward, and forward + backward (weight, bias and input gradients), each
//! timed as one submit and one wait. The adapter is printed first; on the software adapter
//! pass a small `--sample-size`.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use oddity::ops::Act;
use oddity::ops::conv::{Chw, Conv2d, ConvLayer};
use oddity::ops::dense::DenseParams;
use oddity::ops::loss::RowError;
use oddity::tape::{StepState, Tape, Tensor};
use oddity::{Gpu, Plan};

const BATCH: u32 = 64;

fn fill(len: u32) -> Vec<f32> {
    (0..len)
        .map(|i| ((i.wrapping_mul(2654435761u32)) >> 8) as f32 / 16_777_216.0 - 0.5)
        .collect()
}

/// The encoder's strided convolutions and the decoder's transposed ones.
fn shapes() -> Vec<Conv2d> {
    let s2 = |i: Chw, c| Conv2d::new(i, c, [3, 3], [2, 2], [1, 1]).unwrap();
    let t2 = |i: Chw, c, op| Conv2d::transposed(i, c, [3, 3], [2, 2], [1, 1], op).unwrap();
    vec![
        s2(Chw::new(1, 28, 28), 32),
        s2(Chw::new(32, 14, 14), 16),
        t2(Chw::new(16, 7, 7), 32, [1, 1]),
        t2(Chw::new(32, 14, 14), 1, [1, 1]),
    ]
}

/// (forward, forward + backward) plans of `layer` from `rows x inputs` to `rows x outputs`.
fn plans(
    gpu: &Gpu,
    rows: u32,
    inputs: u32,
    outputs: u32,
    params: (u32, u32),
    layer: &dyn Fn(&mut Tape, &Tensor, &Tensor) -> Tensor,
) -> (Plan, Plan) {
    let state = StepState::new(gpu).unwrap();
    let x = Tensor::from_slice(gpu, &fill(rows * inputs), rows, inputs, "x").unwrap();
    let w = Tensor::from_slice(gpu, &fill(params.0 * params.1), params.0, params.1, "w").unwrap();
    let t = Tensor::from_slice(gpu, &fill(rows * outputs), rows, outputs, "t").unwrap();
    let mut fwd = Tape::new(gpu, &state);
    layer(&mut fwd, &x, &w);
    let mut step = Tape::new(gpu, &state);
    let xg = Tensor::new(gpu, rows, inputs, "xg").unwrap();
    let wg = Tensor::new(gpu, params.0, params.1, "wg").unwrap();
    step.param(&x, &xg).unwrap();
    step.param(&w, &wg).unwrap();
    let y = layer(&mut step, &x, &w);
    let e = step.row_error(&y, &t, RowError::SquaredL2).unwrap();
    let loss = step.mean(&e).unwrap();
    step.backward(&loss).unwrap();
    (fwd.finish().unwrap(), step.finish().unwrap())
}

fn conv(c: &mut Criterion) {
    let gpu = Gpu::new().expect("an adapter");
    eprintln!("adapter: {}", gpu.adapter_name());
    let mut g = c.benchmark_group(format!("conv {}", gpu.adapter_name()));
    for conv in shapes() {
        let (i, o) = (conv.input.values().unwrap(), conv.output.values().unwrap());
        let macs = u64::from(BATCH) * conv.macs_per_row();
        let conv_plans = plans(&gpu, BATCH, i, o, (1, conv.params()), &|tape, x, w| {
            let layer = ConvLayer::new(conv, w.clone()).unwrap();
            tape.conv2d(x, &layer, Act::LeakyRelu(0.01)).unwrap()
        });
        // The same multiply-adds as one GEMM: (rows x small positions) x (small channels) x
        // (big channels x taps) for a convolution, the transposed product for the other.
        let (small, big) = if conv.transposed {
            (conv.input, conv.output)
        } else {
            (conv.output, conv.input)
        };
        let (m, k, n) = (
            BATCH * small.h * small.w,
            big.c * conv.kernel[0] * conv.kernel[1],
            small.c,
        );
        let (m, k, n) = if conv.transposed {
            (m, n, k)
        } else {
            (m, k, n)
        };
        let gemm_plans = plans(&gpu, m, k, n, (k + 1, n), &|tape, x, w| {
            tape.dense(
                x,
                &DenseParams::new(w.clone()).unwrap(),
                Act::LeakyRelu(0.01),
            )
            .unwrap()
        });
        let name = format!(
            "{} {} -> {} k3 s2",
            if conv.transposed { "conv_t" } else { "conv" },
            conv.input,
            conv.output
        );
        for (what, (fwd, step)) in [("direct", &conv_plans), ("as GEMM", &gemm_plans)] {
            g.throughput(Throughput::Elements(2 * macs));
            g.bench_function(format!("{name} forward {what}"), |b| {
                b.iter(|| {
                    fwd.run(1).unwrap();
                    gpu.wait().unwrap();
                })
            });
            g.throughput(Throughput::Elements(6 * macs));
            g.bench_function(format!("{name} forward+backward {what}"), |b| {
                b.iter(|| {
                    step.run(1).unwrap();
                    gpu.wait().unwrap();
                })
            });
        }
    }
    g.finish();
}

criterion_group!(benches, conv);
criterion_main!(benches);
