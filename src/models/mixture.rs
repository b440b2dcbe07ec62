//! A Gaussian mixture with diagonal covariances as a detector, fitted by EM on the GPU
//! (`gmmdiag.wgsl`), as scikit-learn's `GaussianMixture(covariance_type="diag")` with its
//! default start: k-means (k-means++ seeding, Lloyd's steps; [`super::kmeans`]) labels the
//! rows, an M step on those labels gives the first components, then E and M steps alternate
//! until the mean negative log-likelihood changes by less than `tol` over [`CHECK_EVERY`]
//! steps (the host reads that one number back between submits) or `max_iter` steps. Each
//! variance gets `reg` added (scikit-learn's `reg_covar`). A row's score is its negative
//! log-likelihood under the mixture. Each component's weight, means and variances, and its
//! rows (the sum of its responsibilities) and variance (the sum of its variances: its rows'
//! expected squared distance to its mean), are model state (saved in the model file); labels
//! are never read.

use serde::{Deserialize, Serialize};

use super::core::{FitReport, ModelCore, check_inputs};
use super::detector::{Detector, detector_basics};
use super::file::Family;
use super::kmeans::{CHECK_EVERY, enough_rows, labels, scratch_centroids, solve};
use super::registry::{DataShape, Model, Settings};
use crate::data::Dataset;
use crate::error::{Result, invalid};
use crate::gpu::{Gpu, GpuBuffer};
use crate::nn::{ArenaBuilder, Optimizer, Slot};
use crate::tape::{DataRows, Plan, Tensor};

/// A Gaussian mixture detector's set-up.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GmmConfig {
    pub inputs: u32,
    /// Components (1 to the training rows).
    pub k: u32,
    /// EM steps at most (scikit-learn's 100), after the k-means start.
    pub max_iter: u32,
    /// The change of the mean negative log-likelihood that ends EM (scikit-learn's 1e-3).
    pub tol: f32,
    /// Added to every variance (scikit-learn's `reg_covar`, 1e-6).
    pub reg: f32,
    pub seed: u64,
}

impl GmmConfig {
    /// `k` components of `inputs` features with scikit-learn's defaults: 100 steps, tolerance
    /// 1e-3, variance floor 1e-6.
    pub fn sklearn(inputs: u32, k: u32, seed: u64) -> GmmConfig {
        GmmConfig {
            inputs,
            k,
            max_iter: 100,
            tol: 1e-3,
            reg: 1e-6,
            seed,
        }
    }
}

/// An unfitted mixture's records (`k x (1 + 2 d)`): equal weights, means 0, unit variances.
pub(crate) fn unfitted(k: u32, d: u32) -> Vec<f32> {
    let record = 1 + 2 * d;
    (0..k * record)
        .map(|e| match e % record {
            0 => -(k as f32).ln(),
            r if r <= d => 0.0,
            _ => 1.0,
        })
        .collect()
}

/// Fits the mixture `prm` (`k x (1 + 2 cols)`, holding a start for components that may get no
/// rows) to the rows `x` by `c`'s EM from k-means' labels, each component's (rows, variance)
/// into `stats` (`k x 2`, a view of `prm`'s buffer); the EM steps it took. `name` names the
/// data in the error when the likelihood is not finite.
pub(crate) fn em(
    core: &ModelCore,
    x: &Tensor,
    prm: &Tensor,
    stats: &Tensor,
    c: &GmmConfig,
    name: &str,
) -> Result<u32> {
    let gpu = core.gpu();
    let (n, d, k) = (x.rows(), x.cols(), c.k);
    // The k-means start: hard labels, one M step.
    let (cent, moved) = scratch_centroids(gpu, k, d)?;
    let (asg, dist) = labels(gpu, n)?;
    solve(core, x, &cent, &moved, &asg, &dist, 300)?;
    let rn = Tensor::new(gpu, n * k + n, 1, "responsibilities and log-likelihoods")?;
    let resp = Tensor::view(rn.buffer(), rn.offset(), n, k)?;
    let nll = Tensor::view(rn.buffer(), rn.offset() + n * k, n, 1)?;
    let mut tape = core.tape();
    tape.gmm_diag_onehot(&asg, &resp)?;
    tape.gmm_diag_mstep(x, &resp, prm, stats, c.reg)?;
    tape.finish()?.run(1)?;

    // EM, CHECK_EVERY steps a submit, until the mean log-likelihood settles.
    let mut tape = core.tape();
    tape.gmm_diag_estep(x, prm, Some(&resp), &nll)?;
    let mean = tape.mean(&nll)?;
    tape.gmm_diag_mstep(x, &resp, prm, stats, c.reg)?;
    let em = tape.finish()?;
    let (mut steps, mut last) = (0, f32::NAN);
    while steps < c.max_iter {
        let now = CHECK_EVERY.min(c.max_iter - steps);
        em.run(now)?;
        steps += now;
        let m = mean.read(gpu)?[0];
        if !m.is_finite() {
            return Err(invalid(
                "Gaussian mixture",
                format!("the mean log-likelihood of {name} is {m} after {steps} EM steps"),
            ));
        }
        if (last - m).abs() < c.tol {
            break;
        }
        last = m;
    }
    Ok(steps)
}

/// One fitted component.
#[derive(Clone, Debug, PartialEq)]
pub struct Component {
    /// Its weight's log.
    pub log_weight: f32,
    pub mean: Vec<f32>,
    /// The diagonal of its covariance (the floor included).
    pub var: Vec<f32>,
}

/// A Gaussian mixture detector: see the module documentation.
pub struct Gmm {
    config: GmmConfig,
    core: ModelCore,
    /// The components (`k x (1 + 2 inputs)`: log weight, means, variances).
    prm: Slot,
    /// Each component's (rows, variance) over the training rows (`k x 2`).
    stats: Slot,
    /// EM steps the last fit took (after k-means).
    steps: u32,
}

impl Gmm {
    pub fn new(gpu: &Gpu, config: GmmConfig) -> Result<Gmm> {
        let (d, k) = (config.inputs, config.k);
        if d == 0 || k == 0 || config.max_iter == 0 {
            return Err(invalid(
                "Gaussian mixture",
                format!(
                    "needs a feature, a component and a step or more (got {d} features, {k} \
                     components, {} steps)",
                    config.max_iter
                ),
            ));
        }
        if !(config.reg > 0.0 && config.reg.is_finite() && config.tol >= 0.0) {
            return Err(invalid(
                "Gaussian mixture",
                format!(
                    "the variance floor must be above 0 and the tolerance at least 0 (got {} \
                     and {})",
                    config.reg, config.tol
                ),
            ));
        }
        let mut arena = ArenaBuilder::new(config.seed);
        let prm = arena.state(k, 1 + 2 * d, &unfitted(k, d))?;
        let stats = arena.state(k, 2, &vec![0.0; 2 * k as usize])?;
        // Nothing is trained: the optimizer never runs.
        let core = ModelCore::new(gpu, arena, Optimizer::sgd(1.0), config.seed)?;
        Ok(Gmm {
            config,
            core,
            prm,
            stats,
            steps: 0,
        })
    }

    /// The components, read back.
    pub fn components(&self) -> Result<Vec<Component>> {
        let d = self.config.inputs as usize;
        let v = self.core.param(self.prm)?.read(self.core.gpu())?;
        Ok(v.chunks(1 + 2 * d)
            .map(|r| Component {
                log_weight: r[0],
                mean: r[1..=d].to_vec(),
                var: r[1 + d..].to_vec(),
            })
            .collect())
    }

    /// Each component's (rows, variance) over the training rows (read back).
    pub fn clusters(&self) -> Result<Vec<(f32, f32)>> {
        let s = self.core.param(self.stats)?.read(self.core.gpu())?;
        Ok(s.chunks(2).map(|c| (c[0], c[1])).collect())
    }

    /// EM steps the last fit took (a multiple of [`CHECK_EVERY`], or `max_iter`).
    pub fn steps(&self) -> u32 {
        self.steps
    }
}

impl Detector for Gmm {
    fn name(&self) -> &str {
        "gmm"
    }

    detector_basics!(Family::Detector);

    fn inputs(&self) -> u32 {
        self.config.inputs
    }

    /// k-means, then EM on every row given (labels are not read).
    fn fit(&mut self, data: &Dataset) -> Result<FitReport> {
        self.check_width(data)?;
        let c = self.config.clone();
        enough_rows("Gaussian mixture", c.k, "components", data)?;
        let rows = data.upload(self.core.gpu())?;
        let x = rows.whole("Gaussian mixture fitting")?;
        let (prm, stats) = (self.core.param(self.prm)?, self.core.param(self.stats)?);
        let steps = em(&self.core, x, &prm, &stats, &c, &data.name)?;
        self.steps = steps;
        self.core.fitted_on(data);
        Ok(FitReport {
            steps: u64::from(steps),
            ..FitReport::default()
        })
    }

    fn score_plan(&self, x: &DataRows, _classes: Option<&GpuBuffer>) -> Result<(Plan, Tensor)> {
        check_inputs("Gaussian mixture", x, self.config.inputs)?;
        let gpu = self.core.gpu();
        let out = Tensor::new(gpu, x.rows(), 1, "scores")?;
        let prm = self.core.param(self.prm)?;
        let mut tape = self.core.tape();
        self.core.record_rows(
            &mut tape,
            x,
            self.config.inputs,
            &[&out],
            |tape, _, chunk, dst| tape.gmm_diag_estep(chunk, &prm, None, &dst[0]),
        )?;
        Ok((tape.finish()?, out))
    }
}

impl Model for Gmm {
    type Config = GmmConfig;

    /// `--components` components (default 4), scikit-learn's 100 steps, tolerance and floor.
    fn configure(_name: &str, shape: &DataShape, s: &Settings) -> Result<GmmConfig> {
        Ok(GmmConfig::sklearn(
            shape.inputs,
            s.components.unwrap_or(4),
            s.seed,
        ))
    }

    fn build(gpu: &Gpu, config: GmmConfig) -> Result<Gmm> {
        Gmm::new(gpu, config)
    }
}
