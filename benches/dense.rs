//! Criterion benches of the dense layer at the UAI paper's DAE shapes (batch 256): forward
//! (GEMM + bias + relu) and backward (dW with db, dX), each timed as one submit and one wait,
//! under each GEMM policy (`auto`: sliced K where K >= 128; `tiled`: 32x32 tiles only at these
//! shapes). The adapter is printed first; on the software adapter pass a small `--sample-size`.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use oddity::gpu::GemmPolicy;
use oddity::ops::Act;
use oddity::ops::dense::DenseParams;
use oddity::ops::loss::RowError;
use oddity::tape::{StepState, Tape, Tensor};
use oddity::{Gpu, Plan};

const BATCH: u32 = 256;
const SHAPES: &[(u32, u32)] = &[
    (784, 256),
    (256, 64),
    (64, 8),
    (8, 64),
    (64, 256),
    (256, 784),
];

fn plans(gpu: &Gpu, k: u32, n: u32) -> (Plan, Plan) {
    let fill = |len: u32| {
        (0..len)
            .map(|i| ((i * 2654435761u32) >> 8) as f32 / 16_777_216.0 - 0.5)
            .collect::<Vec<f32>>()
    };
    let state = StepState::new(gpu).unwrap();
    let x = Tensor::from_slice(gpu, &fill(BATCH * k), BATCH, k, "x").unwrap();
    let w = Tensor::from_slice(gpu, &fill((k + 1) * n), k + 1, n, "w").unwrap();
    let t = Tensor::from_slice(gpu, &fill(BATCH * n), BATCH, n, "t").unwrap();
    let layer = DenseParams::new(w.clone()).unwrap();
    let mut fwd = Tape::new(gpu, &state);
    fwd.dense(&x, &layer, Act::Relu).unwrap();
    let mut bwd = Tape::new(gpu, &state);
    let xg = Tensor::new(gpu, BATCH, k, "xg").unwrap();
    let wg = Tensor::new(gpu, k + 1, n, "wg").unwrap();
    bwd.param(&x, &xg).unwrap();
    bwd.param(&w, &wg).unwrap();
    let y = bwd.dense(&x, &layer, Act::Relu).unwrap();
    let e = bwd.row_error(&y, &t, RowError::SquaredL2).unwrap();
    let loss = bwd.mean(&e).unwrap();
    bwd.backward(&loss).unwrap();
    (fwd.finish().unwrap(), bwd.finish().unwrap())
}

fn dense(c: &mut Criterion) {
    let gpu = Gpu::new().expect("an adapter");
    eprintln!("adapter: {}", gpu.adapter_name());
    let mut g = c.benchmark_group(format!("dense {}", gpu.adapter_name()));
    for (&(k, n), policy) in SHAPES
        .iter()
        .flat_map(|s| [(s, GemmPolicy::Auto), (s, GemmPolicy::Tiled)])
    {
        // Plans keep the kernels of the policy they were recorded under.
        gpu.set_gemm_policy(policy);
        let (fwd, step) = plans(&gpu, k, n);
        let flops = 2 * u64::from(BATCH * k * n);
        g.throughput(Throughput::Elements(flops));
        g.bench_function(format!("forward {BATCH}x{k}x{n} {policy:?}"), |b| {
            b.iter(|| {
                fwd.run(1).unwrap();
                gpu.wait().unwrap();
            })
        });
        g.throughput(Throughput::Elements(3 * flops));
        g.bench_function(
            format!(
                "forward+backward {BATCH}x{k}x{n} {policy:?} ({} dispatches)",
                step.dispatches()
            ),
            |b| {
                b.iter(|| {
                    step.run(1).unwrap();
                    gpu.wait().unwrap();
                })
            },
        );
    }
    g.finish();
}

criterion_group!(benches, dense);
criterion_main!(benches);
