//! Shared test helpers: the adapter (named in every test's output), random inputs, error norms,
//! and an f64 multilayer-perceptron written with plain loops, independent of the kernels.
#![allow(dead_code)]

pub mod grad;
pub mod kernel;

use oddity::Gpu;
use oddity_kernels::reference::{act_apply, act_grad_from_y};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// The adapter under test, one device shared by the tests of a binary (pipelines are built
/// once); every test prints it so a log says where it ran.
pub fn gpu() -> Gpu {
    static GPU: std::sync::OnceLock<Gpu> = std::sync::OnceLock::new();
    let gpu = GPU.get_or_init(own_gpu).clone();
    eprintln!("adapter: {}", gpu.adapter_name());
    gpu
}

/// The devices the reducing kernels are checked on: the shared one (their subgroup variants
/// where the adapter has `SUBGROUP`) and one opened with subgroups off (the workgroup-memory
/// trees every adapter runs). Each prints which it is.
pub fn reduction_gpus() -> Vec<Gpu> {
    static TREES: std::sync::OnceLock<Gpu> = std::sync::OnceLock::new();
    let trees = TREES
        .get_or_init(|| {
            Gpu::with_options(&oddity::gpu::GpuOptions {
                subgroups: false,
                ..oddity::gpu::GpuOptions::from_env().unwrap()
            })
            .unwrap_or_else(|e| panic!("no adapter for GPU tests: {e}"))
        })
        .clone();
    assert!(!trees.subgroups(), "subgroups were turned off");
    let all = vec![gpu(), trees];
    for g in &all {
        eprintln!(
            "reductions: {}",
            if g.subgroups() {
                "subgroups"
            } else {
                "workgroup trees"
            }
        );
    }
    all
}

/// A device of the test's own, for tests that read the runtime's counters.
pub fn own_gpu() -> Gpu {
    Gpu::new().unwrap_or_else(|e| panic!("no adapter for GPU tests: {e}"))
}

/// A fresh generator per call, seeded from the clock: every run draws new inputs. The seed is
/// printed so a failure can be replayed with ODDITY_TEST_SEED.
pub fn rng() -> StdRng {
    let seed = std::env::var("ODDITY_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
        });
    eprintln!("seed: {seed}");
    StdRng::seed_from_u64(seed)
}

pub fn randn(rng: &mut StdRng, n: usize, scale: f32) -> Vec<f32> {
    (0..n)
        .map(|_| rng.random_range(-1.0f32..1.0) * scale)
        .collect()
}

pub fn wide(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&x| f64::from(x)).collect()
}

/// ||got - want|| / ||want|| (Frobenius); infinite if anything is NaN.
pub fn rel_err(got: &[f32], want: &[f64]) -> f64 {
    assert_eq!(got.len(), want.len(), "length mismatch");
    if got.iter().any(|x| !x.is_finite()) {
        return f64::INFINITY;
    }
    let num: f64 = got
        .iter()
        .zip(want)
        .map(|(&g, &w)| (f64::from(g) - w).powi(2))
        .sum();
    let den: f64 = want.iter().map(|w| w * w).sum();
    if den == 0.0 {
        num.sqrt()
    } else {
        (num / den).sqrt()
    }
}

/// The error of a kernel that accumulated onto `init`, relative to the size of the terms it
/// added: ||got - want|| / (||want - init|| + ||init||). Against `want` alone a sum that cancels
/// (0.70 + -0.71 at a 1x1 shape) makes f32's rounding of the terms look large.
pub fn acc_err(got: &[f32], want: &[f64], init: &[f32]) -> f64 {
    assert_eq!(got.len(), want.len(), "length mismatch");
    assert_eq!(init.len(), want.len(), "length mismatch");
    if got.iter().any(|x| !x.is_finite()) {
        return f64::INFINITY;
    }
    let norm = |v: &mut dyn Iterator<Item = f64>| v.map(|x| x * x).sum::<f64>().sqrt();
    let err = norm(&mut got.iter().zip(want).map(|(g, w)| f64::from(*g) - w));
    let term = norm(&mut want.iter().zip(init).map(|(w, i)| w - f64::from(*i)));
    let held = norm(&mut init.iter().map(|i| f64::from(*i)));
    if term + held == 0.0 {
        err
    } else {
        err / (term + held)
    }
}

/// The error of a kernel that wrote `got` (`accumulate` false: [`rel_err`]) or added it onto
/// `init` ([`acc_err`]).
pub fn out_err(accumulate: bool, got: &[f32], want: &[f64], init: &[f32]) -> f64 {
    if accumulate {
        acc_err(got, want, init)
    } else {
        rel_err(got, want)
    }
}

/// A `rows x cols` tensor of NaN: an output a kernel must overwrite.
pub fn nan_tensor(gpu: &Gpu, rows: u32, cols: u32) -> oddity::Tensor {
    oddity::Tensor::from_slice(
        gpu,
        &vec![f32::NAN; (rows * cols) as usize],
        rows,
        cols,
        "poisoned",
    )
    .unwrap()
}

pub fn rel_err64(got: &[f64], want: &[f64]) -> f64 {
    let num: f64 = got.iter().zip(want).map(|(g, w)| (g - w).powi(2)).sum();
    let den: f64 = want.iter().map(|w| w * w).sum();
    if den == 0.0 {
        num.sqrt()
    } else {
        (num / den).sqrt()
    }
}

/// A dense layer's shape and activation for the f64 helpers.
#[derive(Clone, Copy, Debug)]
pub struct Layer {
    pub k: usize,
    pub n: usize,
    pub act: u32,
    pub alpha: f64,
}

impl Layer {
    pub fn new(k: usize, n: usize, act: u32, alpha: f64) -> Layer {
        Layer { k, n, act, alpha }
    }
}

/// One dense layer in f64: y = act(x W + b), param = W (k x n) then the bias row.
pub fn dense_fwd(l: Layer, x: &[f64], rows: usize, param: &[f64]) -> Vec<f64> {
    let (k, n) = (l.k, l.n);
    let mut y = vec![0.0; rows * n];
    for r in 0..rows {
        for j in 0..n {
            let mut s = param[k * n + j];
            for i in 0..k {
                s += x[r * k + i] * param[i * n + j];
            }
            y[r * n + j] = act_apply(l.act, l.alpha, s);
        }
    }
    y
}

/// Backward of [`dense_fwd`]: returns (dparam, dx) from the output y and its gradient dy.
pub fn dense_bwd(
    l: Layer,
    x: &[f64],
    rows: usize,
    param: &[f64],
    y: &[f64],
    dy: &[f64],
) -> (Vec<f64>, Vec<f64>) {
    let (k, n) = (l.k, l.n);
    let dz: Vec<f64> = dy
        .iter()
        .zip(y)
        .map(|(d, &yv)| d * act_grad_from_y(l.act, l.alpha, yv))
        .collect();
    let mut dp = vec![0.0; (k + 1) * n];
    let mut dx = vec![0.0; rows * k];
    for r in 0..rows {
        for j in 0..n {
            let g = dz[r * n + j];
            dp[k * n + j] += g;
            for i in 0..k {
                dp[i * n + j] += x[r * k + i] * g;
                dx[r * k + i] += g * param[i * n + j];
            }
        }
    }
    (dp, dx)
}

/// A dataset of `x` (rows of `cols` values) with features named f0, f1, ..., each over [0, 1],
/// and the anomaly labels given, if any.
pub fn dataset(
    name: &str,
    cols: usize,
    x: Vec<f32>,
    anomaly: Option<Vec<u8>>,
) -> oddity::data::Dataset {
    oddity::data::Dataset {
        name: name.into(),
        rows: x.len() / cols,
        cols,
        x,
        anomaly,
        class: None,
        schema: oddity::data::Schema::numeric(
            (0..cols).map(|i| format!("f{i}")),
            &vec![(0.0, 1.0); cols],
        ),
        origin: None,
    }
}

/// `model` saved to a model file and loaded back through the registry (the file removed).
pub fn reloaded(
    gpu: &Gpu,
    model: &dyn oddity::models::Detector,
) -> Box<dyn oddity::models::Detector> {
    let path = std::env::temp_dir().join(format!(
        "oddity-{}-{}-{:?}.safetensors",
        model.name(),
        std::process::id(),
        std::thread::current().id()
    ));
    model.save(&path).unwrap();
    let back = oddity::models::registry::load(gpu, &path).unwrap();
    std::fs::remove_file(&path).unwrap();
    back
}

/// Whether two score lists are the same bit for bit.
pub fn same_bits(a: &[f32], b: &[f32]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
}
