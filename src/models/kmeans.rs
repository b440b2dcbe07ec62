//! k-means as a detector, solved on the GPU (`kmeans.wgsl`): k-means++ seeding (each next
//! centroid a row drawn with probability proportional to its squared distance to the nearest
//! centroid so far, by the shaders' counter-based RNG), then Lloyd's steps (assign each row to
//! its nearest centroid, move each centroid to the mean of its rows; a centroid left with no
//! rows keeps its place) until no centroid moves or `max_iter` steps. The host reads back only
//! the centroids' moves, once every [`CHECK_EVERY`] steps. A row's score is its squared
//! distance to the nearest centroid. Each cluster's size and variance (its rows' mean squared
//! distance to the centroid, the iterative detector's criterion) are kept with the centroids as
//! model state (saved in the model file); labels are never read.

use serde::{Deserialize, Serialize};

use super::core::{FitReport, ModelCore, check_inputs};
use super::detector::{Detector, detector_basics};
use super::file::Family;
use super::registry::{DataShape, Model, Settings};
use crate::data::Dataset;
use crate::error::{Result, invalid};
use crate::gpu::{Gpu, GpuBuffer};
use crate::nn::{ArenaBuilder, Optimizer, Slot};
use crate::tape::{DataRows, Plan, Tensor};

/// Lloyd's steps between two reads of the centroids' moves.
pub const CHECK_EVERY: u32 = 10;

/// The RNG tag of the seeding's draws.
const TAG_SEED: u32 = 1;

/// A k-means detector's set-up.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KmeansConfig {
    pub inputs: u32,
    /// Clusters (1 to the training rows).
    pub k: u32,
    /// Lloyd's steps at most (scikit-learn's 300).
    pub max_iter: u32,
    pub seed: u64,
}

/// A k-means detector: see the module documentation.
pub struct Kmeans {
    config: KmeansConfig,
    core: ModelCore,
    /// The centroids (`k x inputs`).
    cent: Slot,
    /// How far each moved (squared) in the last step (`k x 1`).
    moved: Slot,
    /// Each cluster's rows and variance over the training rows (`k x 2`).
    stats: Slot,
    /// Lloyd's steps the last fit took.
    steps: u32,
}

impl Kmeans {
    pub fn new(gpu: &Gpu, config: KmeansConfig) -> Result<Kmeans> {
        let (d, k) = (config.inputs, config.k);
        if d == 0 || k == 0 || config.max_iter == 0 {
            return Err(invalid(
                "k-means",
                format!(
                    "needs a feature, a cluster and a step or more (got {d} features, {k} \
                     clusters, {} steps)",
                    config.max_iter
                ),
            ));
        }
        let mut arena = ArenaBuilder::new(config.seed);
        let cent = arena.state(k, d, &vec![0.0; (k * d) as usize])?;
        let moved = arena.state(k, 1, &vec![0.0; k as usize])?;
        let stats = arena.state(k, 2, &vec![0.0; 2 * k as usize])?;
        // Nothing is trained: the optimizer never runs.
        let core = ModelCore::new(gpu, arena, Optimizer::sgd(1.0), config.seed)?;
        Ok(Kmeans {
            config,
            core,
            cent,
            moved,
            stats,
            steps: 0,
        })
    }

    /// The centroids, `k x inputs`, row-major (read back).
    pub fn centroids(&self) -> Result<Vec<f32>> {
        self.core.param(self.cent)?.read(self.core.gpu())
    }

    /// Each cluster's (rows, variance) over the training rows (read back).
    pub fn clusters(&self) -> Result<Vec<(u32, f32)>> {
        let s = self.core.param(self.stats)?.read(self.core.gpu())?;
        Ok(s.chunks(2).map(|c| (c[0] as u32, c[1])).collect())
    }

    /// Lloyd's steps the last fit took (a multiple of [`CHECK_EVERY`], or `max_iter`).
    pub fn steps(&self) -> u32 {
        self.steps
    }
}

impl Detector for Kmeans {
    fn name(&self) -> &str {
        "kmeans"
    }

    detector_basics!(Family::Detector);

    fn inputs(&self) -> u32 {
        self.config.inputs
    }

    /// Seeds and runs Lloyd's steps on every row given (labels are not read).
    fn fit(&mut self, data: &Dataset) -> Result<FitReport> {
        self.check_width(data)?;
        enough_rows("k-means", self.config.k, "clusters", data)?;
        let gpu = self.core.gpu().clone();
        let rows = data.upload(&gpu)?;
        let x = rows.whole("k-means fitting")?;
        let n = x.rows();
        let (cent, moved, stats) = (
            self.core.param(self.cent)?,
            self.core.param(self.moved)?,
            self.core.param(self.stats)?,
        );
        let (asg, dist) = labels(&gpu, n)?;
        self.steps = solve(
            &self.core,
            x,
            &cent,
            &moved,
            &asg,
            &dist,
            self.config.max_iter,
        )?;
        let steps = self.steps;

        // The clusters the final centroids make.
        let mut tape = self.core.tape();
        tape.kmeans_stats(&asg, &dist, &stats)?;
        tape.finish()?.run(1)?;
        self.core.fitted_on(data);
        Ok(FitReport {
            steps: u64::from(steps),
            ..FitReport::default()
        })
    }

    fn score_plan(&self, x: &DataRows, _classes: Option<&GpuBuffer>) -> Result<(Plan, Tensor)> {
        check_inputs("k-means", x, self.config.inputs)?;
        let gpu = self.core.gpu();
        let out = Tensor::new(gpu, x.rows(), 1, "scores")?;
        let cent = self.core.param(self.cent)?;
        let mut tape = self.core.tape();
        self.core.record_rows(
            &mut tape,
            x,
            self.config.inputs,
            &[&out],
            |tape, _, chunk, dst| tape.kmeans_assign(chunk, &cent, None, &dst[0]),
        )?;
        Ok((tape.finish()?, out))
    }
}

/// An error of `model` unless `data` has `k` rows or more (`what`: clusters, components).
pub(crate) fn enough_rows(model: &'static str, k: u32, what: &str, data: &Dataset) -> Result<()> {
    if (data.rows as u64) < u64::from(k) {
        return Err(invalid(
            model,
            format!(
                "{k} {what} need {k} rows or more; {} has {}",
                data.name, data.rows
            ),
        ));
    }
    Ok(())
}

/// Scratch centroids (`k x d`) and their moves (`k x 1`), views of one buffer, for
/// [`solve`].
pub(crate) fn scratch_centroids(gpu: &Gpu, k: u32, d: u32) -> Result<(Tensor, Tensor)> {
    let b = Tensor::new(gpu, k * d + k, 1, "k-means centroids and moves")?;
    Ok((
        Tensor::view(b.buffer(), b.offset(), k, d)?,
        Tensor::view(b.buffer(), b.offset() + k * d, k, 1)?,
    ))
}

/// Each of `n` rows' assignment and squared distance (`n x 1` each), views of one buffer,
/// for [`solve`].
pub(crate) fn labels(gpu: &Gpu, n: u32) -> Result<(Tensor, Tensor)> {
    let b = Tensor::new(gpu, 2 * n, 1, "assignments and distances")?;
    Ok((
        Tensor::view(b.buffer(), b.offset(), n, 1)?,
        Tensor::view(b.buffer(), b.offset() + n, n, 1)?,
    ))
}

/// k-means on `x` (at least as many rows as `cent` has centroids) into `cent` (`k x cols`;
/// `moved`, `k x 1`, a view of its buffer): k-means++ seeding by `core`'s RNG seed, then
/// Lloyd's steps, [`CHECK_EVERY`] a submit, until no centroid moves or `max_iter` steps. Leaves
/// each row's assignment and squared distance to the final centroids in `asg` and `dist`
/// (`rows x 1`, views of one buffer). Returns the steps taken.
pub(crate) fn solve(
    core: &ModelCore,
    x: &Tensor,
    cent: &Tensor,
    moved: &Tensor,
    asg: &Tensor,
    dist: &Tensor,
    max_iter: u32,
) -> Result<u32> {
    let gpu = core.gpu();
    let (n, k) = (x.rows(), cent.rows());
    let mind = Tensor::new(gpu, n, 1, "k-means++ distances")?;
    let seed = core.rng_seed();
    // k-means++: a uniform first centroid, then each drawn by its squared distance.
    let mut tape = core.tape();
    tape.kmeans_seed_pick(x, None, cent, 0, seed, TAG_SEED)?;
    for j in 1..k {
        tape.kmeans_seed_dist(x, cent, j - 1, &mind, j > 1)?;
        tape.kmeans_seed_pick(x, Some(&mind), cent, j, seed, TAG_SEED)?;
    }
    tape.finish()?.run(1)?;

    // Lloyd's steps, CHECK_EVERY a submit, until no centroid moves.
    let mut tape = core.tape();
    tape.kmeans_assign(x, cent, Some(asg), dist)?;
    tape.kmeans_update(x, asg, cent, moved)?;
    let lloyd = tape.finish()?;
    let mut steps = 0;
    while steps < max_iter {
        let now = CHECK_EVERY.min(max_iter - steps);
        lloyd.run(now)?;
        steps += now;
        if moved.read(gpu)?.iter().all(|&m| m == 0.0) {
            break;
        }
    }
    let mut tape = core.tape();
    tape.kmeans_assign(x, cent, Some(asg), dist)?;
    tape.finish()?.run(1)?;
    Ok(steps)
}

impl Model for Kmeans {
    type Config = KmeansConfig;

    /// `--components` clusters (default 8, scikit-learn's), at most 300 steps.
    fn configure(_name: &str, shape: &DataShape, s: &Settings) -> Result<KmeansConfig> {
        Ok(KmeansConfig {
            inputs: shape.inputs,
            k: s.components.unwrap_or(8),
            max_iter: 300,
            seed: s.seed,
        })
    }

    fn build(gpu: &Gpu, config: KmeansConfig) -> Result<Kmeans> {
        Kmeans::new(gpu, config)
    }
}
