//! Principal component analysis as a detector (the report's PCA baseline; PyOD's `PCA`), solved
//! on the GPU. Fitting standardises each column (mean 0, population deviation 1, as PyOD's
//! default `standardization=True`), forms the covariance of the standardised rows (`Z^T Z /
//! (n - 1)`, a GEMM) and diagonalises it with the Jacobi solver of `pca.wgsl`, keeping the
//! `components` largest eigenvalues and their vectors. A row's score is, by
//! [`PcaScore`], the sum of its squared projections on the components, each divided by the
//! component's variance (Shyu et al.'s major-component statistic; components with no variance,
//! as when rows are fewer than features, are left out), or its squared reconstruction error from
//! them. The statistics, components and variances are model state in the arena (saved in the
//! model file); labels are never read.

use serde::{Deserialize, Serialize};

use super::core::{FitReport, ModelCore, check_inputs};
use super::detector::{Detector, detector_basics};
use super::file::Family;
use super::registry::{DataShape, Model, Settings};
use crate::data::Dataset;
use crate::error::{Result, invalid};
use crate::gpu::{Gpu, GpuBuffer};
use crate::nn::{ArenaBuilder, Optimizer, Slot};
use crate::ops::pca::PCA_MAX_FEATURES;
use crate::tape::{DataRows, Plan, Tensor};

/// What a PCA detector scores.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PcaScore {
    /// Sum over the components of projection^2 / variance.
    #[default]
    Projections,
    /// Squared distance to the components' subspace (with every component: 0).
    Reconstruction,
}

/// A PCA detector's set-up.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PcaConfig {
    pub inputs: u32,
    /// Components kept (1 to inputs).
    pub components: u32,
    pub score: PcaScore,
    /// Jacobi sweeps at most (each a rotation of every pair of features).
    pub sweeps: u32,
    pub seed: u64,
}

/// Sweeps at most: Jacobi converges quadratically, in well under 20 for a covariance.
pub const PCA_SWEEPS: u32 = 30;

/// A PCA detector: see the module documentation.
pub struct Pca {
    config: PcaConfig,
    core: ModelCore,
    /// Means, then deviations (`2 x inputs`).
    stats: Slot,
    /// The components, as columns (`inputs x components`).
    w: Slot,
    /// Their variances, descending (`1 x components`).
    vals: Slot,
}

impl Pca {
    pub fn new(gpu: &Gpu, config: PcaConfig) -> Result<Pca> {
        let (d, k) = (config.inputs, config.components);
        if d == 0 || d > PCA_MAX_FEATURES || k == 0 || k > d || config.sweeps == 0 {
            return Err(invalid(
                "PCA",
                format!(
                    "needs 1 to {PCA_MAX_FEATURES} features, 1 to that many components and a \
                     sweep or more (got {d}, {k}, {})",
                    config.sweeps
                ),
            ));
        }
        let mut arena = ArenaBuilder::new(config.seed);
        // Unfitted: mean 0, deviation 1, the first k axes, unit variances.
        let mut stats = vec![0f32; 2 * d as usize];
        stats[d as usize..].fill(1.0);
        let stats = arena.state(2, d, &stats)?;
        let axes: Vec<f32> = (0..d * k)
            .map(|e| f32::from(u8::from(e / k == e % k)))
            .collect();
        let w = arena.state(d, k, &axes)?;
        let vals = arena.state(1, k, &vec![1.0; k as usize])?;
        // Nothing is trained: the optimizer never runs.
        let core = ModelCore::new(gpu, arena, Optimizer::sgd(1.0), config.seed)?;
        Ok(Pca {
            config,
            core,
            stats,
            w,
            vals,
        })
    }

    /// The components' variances, descending (read back).
    pub fn variances(&self) -> Result<Vec<f32>> {
        self.core.param(self.vals)?.read(self.core.gpu())
    }

    /// The components, `inputs x components`, row-major (read back).
    pub fn components(&self) -> Result<Vec<f32>> {
        self.core.param(self.w)?.read(self.core.gpu())
    }
}

impl Detector for Pca {
    fn name(&self) -> &str {
        "pca"
    }

    detector_basics!(Family::Detector);

    fn inputs(&self) -> u32 {
        self.config.inputs
    }

    /// Solves PCA on every row given (labels are not read): one plan, one submit.
    fn fit(&mut self, data: &Dataset) -> Result<FitReport> {
        self.check_width(data)?;
        data.check_standardisable("PCA")?;
        let gpu = self.core.gpu().clone();
        let rows = data.upload(&gpu)?;
        let x = rows.whole("PCA fitting")?;
        let (n, d) = (x.rows(), x.cols());
        let z = Tensor::new(&gpu, n, d, "standardised rows")?;
        let (c, v) = (
            Tensor::new(&gpu, d, d, "covariance")?,
            Tensor::new(&gpu, d, d, "rotations")?,
        );
        let stats = self.core.param(self.stats)?;
        let mut tape = self.core.tape();
        tape.pca_col_stats(x, &stats)?;
        tape.pca_standardize(x, &stats, &z)?;
        tape.pca_covariance(&z, &c)?;
        let scale = 1.0 / (n - 1) as f32;
        let (w, vals) = (self.core.param(self.w)?, self.core.param(self.vals)?);
        tape.pca_eigen(&c, &v, &w, &vals, scale, self.config.sweeps, 1e-7)?;
        tape.finish()?.run(1)?;
        self.core.fitted_on(data);
        Ok(FitReport::default())
    }

    fn score_plan(&self, x: &DataRows, _classes: Option<&GpuBuffer>) -> Result<(Plan, Tensor)> {
        check_inputs("PCA", x, self.config.inputs)?;
        let gpu = self.core.gpu();
        let out = Tensor::new(gpu, x.rows(), 1, "scores")?;
        let (stats, w, vals) = (
            self.core.param(self.stats)?,
            self.core.param(self.w)?,
            self.core.param(self.vals)?,
        );
        let (d, k) = (self.config.inputs, self.config.components);
        let mode = match self.config.score {
            PcaScore::Projections => 0,
            PcaScore::Reconstruction => 1,
        };
        let mut tape = self.core.tape();
        self.core
            .record_rows(&mut tape, x, d.max(k), &[&out], |tape, _, chunk, dst| {
                let z = Tensor::new(gpu, chunk.rows(), d, "standardised rows")?;
                let pr = Tensor::new(gpu, chunk.rows(), k, "projections")?;
                tape.pca_standardize(chunk, &stats, &z)?;
                tape.pca_project(&z, &w, &pr)?;
                tape.pca_scores(&pr, &z, &vals, mode, &dst[0])
            })?;
        Ok((tape.finish()?, out))
    }
}

impl Model for Pca {
    type Config = PcaConfig;

    /// Every component (PyOD's default), the projections score, seeded by the settings (PCA
    /// draws nothing; the seed only names the model).
    fn configure(_name: &str, shape: &DataShape, s: &Settings) -> Result<PcaConfig> {
        Ok(PcaConfig {
            inputs: shape.inputs,
            components: shape.inputs,
            score: PcaScore::Projections,
            sweeps: PCA_SWEEPS,
            seed: s.seed,
        })
    }

    fn build(gpu: &Gpu, config: PcaConfig) -> Result<Pca> {
        Pca::new(gpu, config)
    }
}
