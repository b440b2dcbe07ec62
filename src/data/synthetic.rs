//! Data generators. `synthetic_mnist` makes MNIST-shaped data for throughput benchmarks:
//! normal points on a low-rank manifold (sigmoid of a rank-16 projection, as in the PyTorch
//! baseline `torch_uai.py`), anomalies uniform in [0, 1]^d.

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// `n x d` row-major values in [0, 1] and labels (1 = anomaly, about `anomaly_rate` of rows).
pub fn synthetic_mnist(n: usize, d: usize, anomaly_rate: f64, seed: u64) -> (Vec<f32>, Vec<u8>) {
    let mut rng = StdRng::seed_from_u64(seed);
    let rank = 16;
    let mut gauss = move || -> f32 {
        let u1: f64 = rng.random_range(f64::EPSILON..1.0);
        let u2: f64 = rng.random_range(0.0..1.0);
        ((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
    };
    let basis: Vec<f32> = (0..rank * d).map(|_| gauss()).collect();
    let mut x = vec![0f32; n * d];
    let mut y = vec![0u8; n];
    let mut rng = StdRng::seed_from_u64(seed ^ 0x5eed);
    for i in 0..n {
        let row = &mut x[i * d..(i + 1) * d];
        if rng.random_bool(anomaly_rate) {
            y[i] = 1;
            for v in row.iter_mut() {
                *v = rng.random_range(0.0..1.0);
            }
        } else {
            let z: Vec<f32> = (0..rank).map(|_| gauss()).collect();
            for (j, v) in row.iter_mut().enumerate() {
                let s: f32 = (0..rank).map(|r| z[r] * basis[r * d + j]).sum();
                *v = 1.0 / (1.0 + (-s / 4.0).exp());
            }
        }
    }
    (x, y)
}
