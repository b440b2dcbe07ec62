//! The one-class SVM (Schoelkopf et al., "Estimating the support of a high-dimensional
//! distribution", 2001; the report's OCSVM; PyOD's `OCSVM`) with the RBF kernel, solved on the
//! GPU.
//!
//! - **Scaling.** Each column is standardised (mean 0, population deviation 1) with the
//!   statistics of the rows fitted on, kept in the model; a constant column is refused. The
//!   kernel is `exp(-gamma |x - y|^2)` on standardised rows, gamma `1 / features` by default
//!   (scikit-learn's `"auto"`, PyOD's default, which on standardised columns is also `"scale"`).
//! - **The exact solver** (up to [`OcsvmConfig::exact_max_rows`] rows, and as many as one
//!   binding holds `rows x rows` values): LIBSVM's dual (`0 <= a_i <= 1`, `sum a = nu n`) by
//!   LIBSVM's SMO with second-order working-set selection and tolerance `tol`, on the kernel
//!   matrix formed on the GPU (a Gram GEMM, then the RBF), one workgroup iterating without host
//!   waits; the host reads the status once per batch of dispatches. The solution's support
//!   rows (`a > 0`) with their multipliers and rho are the model's state.
//! - **The approximation** for larger sets ([`OcsvmSolver::Fourier`]; [`OcsvmSolver::Auto`]
//!   takes it past `exact_max_rows`): `features` random Fourier features of the same kernel
//!   (Rahimi and Recht: `phi(z) = sqrt(2 / D) cos(z Omega + b)`, Omega ~ N(0, 2 gamma), b ~
//!   U[0, 2 pi), drawn from the seed), on which the linear one-class SVM's primal
//!   `1/2 |w|^2 + 1/(nu n) sum_i max(0, rho - w . phi_i) - rho` is minimised by Adam on
//!   minibatches drawn on the GPU, as scikit-learn's `SGDOneClassSVM` with a kernel
//!   approximation. Its scores are multiplied by `nu n` so that they are in the exact
//!   solver's units (LIBSVM's multipliers sum to `nu n`). The column statistics are computed
//!   on the host in f64 (the rows may span several uploads). The kernel is approximated to
//!   about `1 / sqrt(features)`, and the subgradient steps leave noise of about the learning
//!   rate: the test holds it to the exact solver's ranking on a set both can solve.
//!
//! A row's score is its negated decision value, `rho - sum_i a_i k(x_i, x)`: positive outside
//! the estimated support, higher = more anomalous (PyOD's `decision_function` on the same
//! scaling and kernel). Labels are never read: every row given is taken to be normal, up to
//! the fraction `nu` the solution may leave outside.

use serde::{Deserialize, Serialize};

use super::core::{FitReport, ModelCore, check_inputs};
use super::detector::{Detector, detector_basics};
use super::file::Family;
use super::registry::{DataShape, Model, Settings};
use super::scaling::ColumnScaling;
use crate::data::Dataset;
use crate::error::{Result, invalid};
use crate::gpu::{Gpu, GpuBuffer};
use crate::nn::{ArenaBuilder, Optimizer, Slot};
use crate::ops::Act;
use crate::ops::dense::DenseParams;
use crate::ops::ocsvm::SmoState;
use crate::tape::{DataRows, Plan, Tape, Tensor};

/// Rows the exact solver takes by default: its kernel matrix is `rows^2` values (64 MiB).
pub const OCSVM_EXACT_MAX_ROWS: u32 = 4096;

/// Random Fourier features of the approximation by default.
pub const OCSVM_FEATURES: u32 = 2048;

/// The fewest Adam steps of the Fourier approximation, however few the rows.
pub const OCSVM_MIN_STEPS: u32 = 1000;

/// SMO iterations at most, as LIBSVM: `max(10^7, 100 n)`.
fn max_iterations(n: u32) -> u64 {
    (100 * u64::from(n)).max(10_000_000)
}

/// Which solver fits the model.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OcsvmSolver {
    /// Exact up to `exact_max_rows` rows, the Fourier approximation beyond.
    #[default]
    Auto,
    Exact,
    Fourier,
}

impl OcsvmSolver {
    /// `auto`, `exact` or `fourier`.
    pub fn parse(s: &str) -> Option<OcsvmSolver> {
        match s {
            "auto" => Some(OcsvmSolver::Auto),
            "exact" => Some(OcsvmSolver::Exact),
            "fourier" => Some(OcsvmSolver::Fourier),
            _ => None,
        }
    }
}

/// What fitting found, which sizes the model's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OcsvmFitted {
    /// The exact solution with this many support rows.
    Exact { support: u32 },
    /// The Fourier approximation, trained on this many rows (its scores' scale is nu rows).
    Fourier { rows: u32 },
}

/// A one-class SVM's set-up.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OcsvmConfig {
    pub inputs: u32,
    /// The upper bound on the fraction of training rows outside the support (and lower bound
    /// on the fraction of support rows), in (0, 1].
    pub nu: f32,
    /// The RBF kernel's gamma; None: `1 / inputs`.
    pub gamma: Option<f32>,
    pub solver: OcsvmSolver,
    /// The most rows the exact solver takes (under [`OcsvmSolver::Auto`], the most it is
    /// chosen for).
    pub exact_max_rows: u32,
    /// The exact solver's stopping tolerance on the largest KKT violation (LIBSVM's 1e-3).
    pub tol: f32,
    /// The Fourier approximation's feature count, epochs (at least [`OCSVM_MIN_STEPS`] steps
    /// in all), minibatch and Adam's starting rate.
    pub features: u32,
    pub epochs: u32,
    pub batch: u32,
    pub lr: f32,
    pub seed: u64,
    /// Set by fitting; None before.
    pub fitted: Option<OcsvmFitted>,
}

impl OcsvmConfig {
    /// PyOD's defaults: nu 0.5, gamma 1 / features, tolerance 1e-3; for the approximation
    /// [`OCSVM_FEATURES`] features, 20 epochs of minibatches of 256, Adam from 1e-2.
    pub fn new(inputs: u32) -> OcsvmConfig {
        OcsvmConfig {
            inputs,
            nu: 0.5,
            gamma: None,
            solver: OcsvmSolver::Auto,
            exact_max_rows: OCSVM_EXACT_MAX_ROWS,
            tol: 1e-3,
            features: OCSVM_FEATURES,
            epochs: 20,
            batch: 256,
            lr: 1e-2,
            seed: 0,
            fitted: None,
        }
    }

    /// The kernel's gamma.
    pub fn gamma(&self) -> f32 {
        self.gamma.unwrap_or(1.0 / self.inputs.max(1) as f32)
    }
}

/// The model state of an exact solution.
struct ExactState {
    scaling: ColumnScaling,
    /// The support rows as given (`support x inputs`, standardised when scored).
    support: Slot,
    alpha: Slot,
    rho: Slot,
}

/// The model state of the Fourier approximation.
struct FourierState {
    scaling: ColumnScaling,
    /// Omega over b: a dense layer's `(inputs + 1) x features` (not trained).
    omega: Slot,
    /// The linear SVM's weights (`features x 1`) and rho, trained.
    w: Slot,
    rho: Slot,
}

/// What a model holds: nothing to score with before fitting.
enum State {
    Unfitted,
    Exact(ExactState),
    Fourier(FourierState),
}

/// A one-class SVM: see the module documentation.
pub struct Ocsvm {
    config: OcsvmConfig,
    core: ModelCore,
    state: State,
}

impl Ocsvm {
    pub fn new(gpu: &Gpu, config: OcsvmConfig) -> Result<Ocsvm> {
        let c = &config;
        if !(c.nu > 0.0 && c.nu <= 1.0) {
            return Err(invalid(
                "OCSVM",
                format!("nu must be in (0, 1], not {}", c.nu),
            ));
        }
        if !c.gamma().is_finite() || c.gamma() <= 0.0 {
            return Err(invalid(
                "OCSVM",
                format!("gamma must be positive, not {}", c.gamma()),
            ));
        }
        if c.inputs == 0 || !(c.tol.is_finite() && c.tol > 0.0) || c.exact_max_rows < 2 {
            return Err(invalid(
                "OCSVM",
                "needs features, a positive tolerance and exact_max_rows of 2 or more",
            ));
        }
        if c.features == 0 || c.epochs == 0 || c.batch == 0 || !(c.lr.is_finite() && c.lr > 0.0) {
            return Err(invalid(
                "OCSVM",
                "the Fourier approximation needs features, epochs, a batch and a positive rate",
            ));
        }
        let d = c.inputs;
        let mut arena = ArenaBuilder::new(c.seed);
        let scaling = ColumnScaling::reserve(&mut arena, d)?;
        let state = match c.fitted {
            None => State::Unfitted,
            Some(OcsvmFitted::Exact { support }) => State::Exact(ExactState {
                scaling,
                support: arena.state(support, d, &vec![0.0; (support * d) as usize])?,
                alpha: arena.state(1, support, &vec![0.0; support as usize])?,
                rho: arena.state(1, 1, &[0.0])?,
            }),
            Some(OcsvmFitted::Fourier { .. }) => State::Fourier(FourierState {
                scaling,
                omega: arena.state(d + 1, c.features, &fourier_frequencies(c))?,
                w: arena.fixed(c.features, 1, &vec![0.0; c.features as usize])?,
                rho: arena.fixed(1, 1, &[0.0])?,
            }),
        };
        // Only the Fourier approximation is trained (the exact solver's state is solved).
        let optimizer = match state {
            State::Fourier(_) => Optimizer::adam(c.lr),
            _ => Optimizer::sgd(1.0),
        };
        let core = ModelCore::new(gpu, arena, optimizer, c.seed)?;
        Ok(Ocsvm {
            config,
            core,
            state,
        })
    }

    /// The multipliers of the support rows (read back; empty unless fitted exactly).
    pub fn alphas(&self) -> Result<Vec<f32>> {
        match &self.state {
            State::Exact(e) => self.core.param(e.alpha)?.read(self.core.gpu()),
            _ => Ok(Vec::new()),
        }
    }

    /// rho, the decision function's offset, in the exact solver's units (read back; None
    /// before fitting).
    pub fn rho(&self) -> Result<Option<f32>> {
        let gpu = self.core.gpu();
        match &self.state {
            State::Unfitted => Ok(None),
            State::Exact(e) => Ok(Some(self.core.param(e.rho)?.read(gpu)?[0])),
            State::Fourier(f) => Ok(Some(
                self.core.param(f.rho)?.read(gpu)?[0] * self.fourier_scale(),
            )),
        }
    }

    /// The Fourier scores' factor to the exact solver's units: nu n.
    fn fourier_scale(&self) -> f32 {
        match self.config.fitted {
            Some(OcsvmFitted::Fourier { rows }) => self.config.nu * rows as f32,
            _ => 1.0,
        }
    }

    /// The exact solver on every row of `data`: the multipliers, the status and the rows'
    /// statistics, then the model rebuilt around the support rows.
    fn fit_exact(&mut self, data: &Dataset) -> Result<FitReport> {
        let gpu = self.core.gpu().clone();
        let n = data.rows as u32;
        let d = self.config.inputs;
        let need = 4 * u64::from(n) * u64::from(n);
        if need > gpu.max_binding_bytes() {
            return Err(invalid(
                "OCSVM",
                format!(
                    "the exact solver's {n} x {n} kernel matrix ({} MiB) is more than this \
                     adapter binds ({} MiB); use the Fourier solver",
                    need >> 20,
                    gpu.max_binding_bytes() >> 20
                ),
            ));
        }
        let rows = data.upload(&gpu)?;
        let x = rows.whole("OCSVM fitting")?;
        let gamma = self.config.gamma();
        let stats = Tensor::new(&gpu, 2, d, "column statistics")?;
        let z = Tensor::new(&gpu, n, d, "standardised rows")?;
        let norms = Tensor::new(&gpu, 1, n, "squared norms")?;
        let kmat = Tensor::new(&gpu, n, n, "kernel matrix")?;
        let state = SmoState::new(&gpu, n)?;
        {
            let g = Tensor::new(&gpu, n, n, "Gram matrix")?;
            let mut tape = self.core.tape();
            tape.pca_col_stats(x, &stats)?;
            tape.pca_standardize(x, &stats, &z)?;
            tape.ocsvm_sq_norms(&z, &norms)?;
            tape.ocsvm_gram(&z, &z, &g)?;
            tape.ocsvm_rbf(&g, &norms, &norms, gamma, &kmat)?;
            tape.ocsvm_smo_init(&state, self.config.nu)?;
            tape.finish()?.run(1)?;
        }
        // Batches of dispatches, the status read after each: a dispatch of n iterations costs
        // about as much as the gradient's recomputation that starts it.
        let iters = n.max(1024);
        let mut tape = self.core.tape();
        for _ in 0..16 {
            tape.ocsvm_smo(&kmat, &state, iters, self.config.tol)?;
        }
        let solve = tape.finish()?;
        let mut report = FitReport::default();
        let rho = loop {
            solve.run(1)?;
            let (converged, iterations, rho, gap) = state.read_status(&gpu)?;
            report.steps = iterations;
            if converged {
                break rho;
            }
            if iterations >= max_iterations(n) {
                report.notes.push(format!(
                    "the OCSVM solver stopped after {iterations} iterations with the largest \
                     KKT violation {gap} above the tolerance {}",
                    self.config.tol
                ));
                break rho;
            }
        };
        let alpha = state.alpha.read(&gpu)?;
        let mean_sd = stats.read(&gpu)?;
        let support: Vec<usize> = (0..n as usize).filter(|&i| alpha[i] > 0.0).collect();
        let config = OcsvmConfig {
            fitted: Some(OcsvmFitted::Exact {
                support: support.len() as u32,
            }),
            ..self.config.clone()
        };
        let fitted = Ocsvm::new(&gpu, config)?;
        let State::Exact(e) = &fitted.state else {
            unreachable!("an exact configuration builds an exact state")
        };
        let sv: Vec<f32> = support.iter().flat_map(|&i| data.row(i)).copied().collect();
        let a: Vec<f32> = support.iter().map(|&i| alpha[i]).collect();
        e.scaling.write(&fitted.core, &mean_sd)?;
        fitted.core.param(e.support)?.write(&gpu, &sv)?;
        fitted.core.param(e.alpha)?.write(&gpu, &a)?;
        fitted.core.param(e.rho)?.write(&gpu, &[rho])?;
        *self = fitted;
        Ok(report)
    }

    /// The exact solution's scores of `x` into `out`.
    fn record_exact_scores(
        &self,
        tape: &mut Tape,
        e: &ExactState,
        x: &DataRows,
        out: &Tensor,
    ) -> Result<()> {
        let gpu = self.core.gpu();
        let d = self.config.inputs;
        let (sv, alpha, rho) = (
            self.core.param(e.support)?,
            self.core.param(e.alpha)?,
            self.core.param(e.rho)?,
        );
        let s = sv.rows();
        let gamma = self.config.gamma();
        let zs = e.scaling.apply(&self.core, tape, &sv)?;
        let sv_norms = Tensor::new(gpu, 1, s, "their squared norms")?;
        tape.ocsvm_sq_norms(&zs, &sv_norms)?;
        self.core
            .record_rows(tape, x, d.max(s), &[out], |tape, _, chunk, dst| {
                let z = e.scaling.apply(&self.core, tape, chunk)?;
                let g = Tensor::new(gpu, chunk.rows(), s, "Gram with the support rows")?;
                tape.ocsvm_gram(&z, &zs, &g)?;
                tape.ocsvm_decision(&z, &g, &sv_norms, &alpha, &rho, gamma, &dst[0])
            })
    }

    /// `u = phi(z) w` for rows `x` (standardised, then their Fourier features).
    fn record_fourier_u(&self, tape: &mut Tape, f: &FourierState, x: &Tensor) -> Result<Tensor> {
        let c = &self.config;
        let z = f.scaling.apply(&self.core, tape, x)?;
        let proj = tape.dense(
            &z,
            &DenseParams::new(self.core.param(f.omega)?)?,
            Act::Identity,
        )?;
        let phi = tape.rff_cos(&proj, (2.0 / c.features as f32).sqrt())?;
        tape.dense(
            &phi,
            &DenseParams::without_bias(self.core.param(f.w)?)?,
            Act::Identity,
        )
    }

    /// The Fourier approximation on every row of `data`: the column statistics (host, f64),
    /// then `epochs x rows / batch` Adam steps on the primal (at least [`OCSVM_MIN_STEPS`]),
    /// in four phases of falling rate, a submit each.
    fn fit_fourier(&mut self, data: &Dataset) -> Result<FitReport> {
        let gpu = self.core.gpu().clone();
        let config = OcsvmConfig {
            fitted: Some(OcsvmFitted::Fourier {
                rows: data.rows as u32,
            }),
            ..self.config.clone()
        };
        let fitted = Ocsvm::new(&gpu, config)?;
        let State::Fourier(f) = &fitted.state else {
            unreachable!("a Fourier configuration builds a Fourier state")
        };
        // The host's f64 statistics (the rows may span several uploads); fit refused
        // constant columns, so every deviation is used as it is.
        f.scaling.fit(&fitted.core, data)?;
        let x = data.upload(&gpu)?;
        let c = &fitted.config;
        let batch = c.batch.min(x.rows());
        let (w, rho) = (fitted.core.param(f.w)?, fitted.core.param(f.rho)?);
        // The rate steps down over four equal phases (lr, lr / 4, lr / 16, lr / 64): the
        // subgradient steps' noise, which a fixed rate leaves at about its size, shrinks with
        // it. Each phase is one plan; all four are submitted without a wait.
        // At least OCSVM_MIN_STEPS: w and rho start at 0 and move by about the rate a step,
        // so a small set's few epochs would stop them short.
        let steps = (c.epochs * x.rows().div_ceil(batch)).max(OCSVM_MIN_STEPS);
        let mut report = FitReport::default();
        for phase in 0..4u32 {
            let lr = c.lr / 4f32.powi(phase as i32);
            let step = fitted.core.train_plan_at(lr, |tape| {
                let b = tape.sample_rows(&x, batch, 0.0, fitted.core.rng_seed())?;
                let u = fitted.record_fourier_u(tape, f, &b.clean)?;
                Ok(vec![tape.ocsvm_primal(&u, &w, &rho, c.nu)?])
            })?;
            let n = steps * (phase + 1) / 4 - steps * phase / 4;
            report.steps += fitted.core.fit_steps(&step, n)?.steps;
        }
        let epochs = c.epochs;
        *self = fitted;
        Ok(FitReport { epochs, ..report })
    }
}

impl Detector for Ocsvm {
    fn name(&self) -> &str {
        "ocsvm"
    }

    detector_basics!(Family::Detector);

    fn inputs(&self) -> u32 {
        self.config.inputs
    }

    /// Solves on every row given (labels are not read).
    fn fit(&mut self, data: &Dataset) -> Result<FitReport> {
        self.check_width(data)?;
        data.check_standardisable("OCSVM")?;
        let exact = match self.config.solver {
            OcsvmSolver::Exact => true,
            OcsvmSolver::Fourier => false,
            OcsvmSolver::Auto => data.rows <= self.config.exact_max_rows as usize,
        };
        if exact && data.rows > self.config.exact_max_rows as usize {
            return Err(invalid(
                "OCSVM",
                format!(
                    "{} has {} rows, more than the exact solver takes ({}; its kernel matrix is \
                     rows x rows); use the Fourier solver or fit on a sample (--max-rows)",
                    data.name, data.rows, self.config.exact_max_rows
                ),
            ));
        }
        let report = match exact {
            true => self.fit_exact(data)?,
            false => self.fit_fourier(data)?,
        };
        self.core.fitted_on(data);
        Ok(report)
    }

    fn score_plan(&self, x: &DataRows, _classes: Option<&GpuBuffer>) -> Result<(Plan, Tensor)> {
        check_inputs("OCSVM", x, self.config.inputs)?;
        let out = Tensor::new(self.core.gpu(), x.rows(), 1, "scores")?;
        let mut tape = self.core.tape();
        match &self.state {
            State::Unfitted => {
                return Err(invalid(
                    "OCSVM",
                    "the model has not been fitted: it has nothing to score against",
                ));
            }
            State::Exact(e) => self.record_exact_scores(&mut tape, e, x, &out)?,
            State::Fourier(f) => {
                let (rho, scale) = (self.core.param(f.rho)?, self.fourier_scale());
                let widest = self.config.inputs.max(self.config.features);
                self.core
                    .record_rows(&mut tape, x, widest, &[&out], |tape, _, chunk, dst| {
                        let u = self.record_fourier_u(tape, f, chunk)?;
                        tape.ocsvm_primal_score(&u, &rho, scale, &dst[0])
                    })?;
            }
        }
        Ok((tape.finish()?, out))
    }
}

impl Model for Ocsvm {
    type Config = OcsvmConfig;

    /// [`OcsvmConfig::new`] (PyOD's defaults) with the settings' nu and gamma, seeded by them.
    fn configure(_name: &str, shape: &DataShape, s: &Settings) -> Result<OcsvmConfig> {
        let d = OcsvmConfig::new(shape.inputs);
        Ok(OcsvmConfig {
            nu: s.nu.unwrap_or(d.nu),
            gamma: s.gamma.or(d.gamma),
            solver: s.solver.unwrap_or(d.solver),
            seed: s.seed,
            ..d
        })
    }

    fn build(gpu: &Gpu, config: OcsvmConfig) -> Result<Ocsvm> {
        Ocsvm::new(gpu, config)
    }
}

/// The Fourier approximation's Omega over b as a dense layer, `(inputs + 1) x features`:
/// Omega ~ N(0, 2 gamma), b ~ U[0, 2 pi), from the configuration's seed.
fn fourier_frequencies(c: &OcsvmConfig) -> Vec<f32> {
    use rand::{RngExt, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(c.seed ^ 0x0c5f_0a11);
    let sd = (2.0 * f64::from(c.gamma())).sqrt();
    let (d, n) = (c.inputs as usize, c.features as usize);
    let mut out = Vec::with_capacity((d + 1) * n);
    for _ in 0..d * n {
        // Box-Muller on (0, 1] x [0, 1).
        let (u1, u2): (f64, f64) = (1.0 - rng.random::<f64>(), rng.random());
        out.push((sd * (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32);
    }
    out.extend((0..n).map(|_| (std::f64::consts::TAU * rng.random::<f64>()) as f32));
    out
}
