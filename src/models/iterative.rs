//! The iterative detector for contaminated data (Li et al.): an autoencoder trained on a
//! training set that is chosen again each round, all on the GPU.
//!
//! 1. **The first set from clusters.** k-means (k-means++ seeding, Lloyd's steps;
//!    [`super::kmeans`]) or a diagonal Gaussian mixture (EM from k-means; [`super::mixture`])
//!    clusters every row; the clusters whose variance (their rows' mean squared distance to
//!    the centroid; a component's expected one to its mean, each row in the component most
//!    responsible for it) is at or below the `100 - p0`th percentile of the clusters'
//!    variances give the first training set: anomalies scattered among the normal rows
//!    inflate the variance of the clusters they fall into.
//! 2. **Rounds.** The autoencoder trains `epochs` epochs over the current set (minibatches
//!    drawn on the GPU from its row list), then every row is scored by its reconstruction
//!    error and the rows at or below the `100 - p`th percentile of the scores become the next
//!    set; `rounds` times. `p0 > p` starts tight and then loosens.
//! 3. **Score:** the final autoencoder's reconstruction error, by default the angle between a
//!    row and its reconstruction (the arccos of their cosine similarity, as the paper), or the
//!    squared error.
//!
//! The percentiles are taken on the GPU and the row lists gathered there
//! ([`crate::ops::select`]); the host reads back only each set's size (to count its epochs)
//! and k-means' moves (the mixture's mean log-likelihood). Labels are never read.

use serde::{Deserialize, Serialize};

use super::core::{FitReport, ModelCore, check_inputs, epoch_rounds, run_rounds};
use super::detector::{Detector, detector_basics};
use super::file::Family;
use super::kmeans::{enough_rows, labels, scratch_centroids, solve};
use super::mixture::{GmmConfig, em, unfitted};
use super::registry::{DataShape, Model, Settings};
use crate::data::Dataset;
use crate::error::{Result, invalid};
use crate::gpu::{Gpu, GpuBuffer};
use crate::nn::{ArenaBuilder, EncoderDecoder, Optimizer};
use crate::ops::Act;
use crate::ops::data::LabelSource;
use crate::ops::loss::RowError;
use crate::tape::{DataRows, Plan, Tape, Tensor};

/// The reconstruction error that scores rows and trains the autoencoder.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReconError {
    /// The angle between a row and its reconstruction (arccos of the cosine similarity).
    #[default]
    Angle,
    /// The squared Euclidean distance.
    Squared,
}

/// How the first training set's clusters are found.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Clustering {
    /// k-means: each row in its nearest centroid's cluster.
    #[default]
    Kmeans,
    /// A Gaussian mixture with diagonal covariances (scikit-learn's defaults): each row in
    /// its most responsible component.
    Gmm,
}

impl Clustering {
    /// `kmeans` or `gmm`.
    pub fn parse(s: &str) -> Option<Clustering> {
        match s {
            "kmeans" => Some(Clustering::Kmeans),
            "gmm" => Some(Clustering::Gmm),
            _ => None,
        }
    }
}

impl ReconError {
    /// `angle` or `squared`.
    pub fn parse(s: &str) -> Option<ReconError> {
        match s {
            "angle" => Some(ReconError::Angle),
            "squared" => Some(ReconError::Squared),
            _ => None,
        }
    }
}

/// The iterative detector's set-up.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IterativeConfig {
    pub inputs: u32,
    /// The encoder's widths, the last the code; the decoder mirrors them (ReLU, a sigmoid
    /// output for min-max scaled rows).
    pub hidden: Vec<u32>,
    /// Clusters (k-means') or components (the mixture's) for the first set.
    pub clusters: u32,
    /// How the clusters are found (k-means in model files written before it was an option).
    #[serde(default)]
    pub clustering: Clustering,
    /// The first set: clusters at or below the `100 - p0`th percentile of their variances.
    pub p0: f32,
    /// Each next set: rows at or below the `100 - p`th percentile of the scores.
    pub p: f32,
    /// Rounds of training and re-selection.
    pub rounds: u32,
    /// Epochs over the current set each round.
    pub epochs: u32,
    pub batch: u32,
    /// Adam's rate.
    pub lr: f32,
    pub error: ReconError,
    pub seed: u64,
}

/// The RNG tag of the minibatch draws from the row list.
const SEED_TAG: u32 = 0x17e7;

/// The iterative detector: see the module documentation.
pub struct Iterative {
    config: IterativeConfig,
    core: ModelCore,
    net: EncoderDecoder,
    /// The size of each training set of the last fit: the clusters' first, then each round's.
    selected: Vec<u32>,
}

impl Iterative {
    pub fn new(gpu: &Gpu, config: IterativeConfig) -> Result<Iterative> {
        let c = &config;
        let percent = |v: f32| (0.0..100.0).contains(&v);
        if c.inputs == 0 || c.clusters == 0 || c.rounds == 0 || c.epochs == 0 || c.batch == 0 {
            return Err(invalid(
                "iterative detector",
                format!(
                    "needs a feature, a cluster, a round, an epoch and a minibatch row (got {}, \
                     {}, {}, {}, {})",
                    c.inputs, c.clusters, c.rounds, c.epochs, c.batch
                ),
            ));
        }
        if !(percent(c.p0) && percent(c.p)) {
            return Err(invalid(
                "iterative detector",
                format!(
                    "p0 and p are the percent of clusters and rows left out, in [0, 100) (got \
                     {} and {})",
                    c.p0, c.p
                ),
            ));
        }
        let mut arena = ArenaBuilder::new(c.seed);
        let net = EncoderDecoder::new(&mut arena, c.inputs, &c.hidden, Act::Relu, Act::Sigmoid)?;
        let core = ModelCore::new(gpu, arena, Optimizer::adam(c.lr), c.seed)?;
        Ok(Iterative {
            config,
            core,
            net,
            selected: Vec::new(),
        })
    }

    /// The size of each training set of the last fit: the clusters' first, then after each
    /// round but the last.
    pub fn selected(&self) -> &[u32] {
        &self.selected
    }

    /// `rows`' reconstruction errors into `out`, recorded on `tape`.
    fn errors(&self, tape: &mut Tape, rows: &Tensor, out: &Tensor) -> Result<()> {
        let (_, recon) = self.net.forward(tape, self.core.arena(), rows)?;
        match self.config.error {
            ReconError::Angle => tape.row_angle_into(&recon, rows, out),
            ReconError::Squared => tape.row_error_into(&recon, rows, RowError::SquaredL2, out),
        }
    }

    /// Each row's cluster (`rows x 1`) and each cluster's (rows, variance) (`k x 2`) by the
    /// configured clustering.
    fn clusters(&self, x: &Tensor, name: &str) -> Result<(Tensor, Tensor)> {
        let gpu = self.core.gpu();
        let (n, d, k) = (x.rows(), x.cols(), self.config.clusters);
        let (asg, dist) = labels(gpu, n)?;
        match self.config.clustering {
            Clustering::Kmeans => {
                let (cent, moved) = scratch_centroids(gpu, k, d)?;
                solve(&self.core, x, &cent, &moved, &asg, &dist, 300)?;
                let stats = Tensor::new(gpu, k, 2, "cluster statistics")?;
                let mut tape = self.core.tape();
                tape.kmeans_stats(&asg, &dist, &stats)?;
                tape.finish()?.run(1)?;
                Ok((asg, stats))
            }
            Clustering::Gmm => {
                let c = GmmConfig::sklearn(d, k, self.config.seed);
                let record = 1 + 2 * d;
                let mut init = unfitted(k, d);
                init.extend(vec![0.0; 2 * k as usize]);
                let all = Tensor::from_slice(gpu, &init, k * record + 2 * k, 1, "components")?;
                let prm = Tensor::view(all.buffer(), all.offset(), k, record)?;
                let stats = Tensor::view(all.buffer(), all.offset() + k * record, k, 2)?;
                em(&self.core, x, &prm, &stats, &c, name)?;
                let mut tape = self.core.tape();
                tape.gmm_diag_label(x, &prm, &asg)?;
                tape.finish()?.run(1)?;
                Ok((asg, stats))
            }
        }
    }

    /// The size of the set in the row list (its first word).
    fn set_size(&self, lab: &GpuBuffer) -> Result<u32> {
        Ok(self.core.gpu().read_u32(lab, 0, 1)?[0])
    }
}

impl Detector for Iterative {
    fn name(&self) -> &str {
        "iterative-ae"
    }

    detector_basics!(Family::Detector);

    fn inputs(&self) -> u32 {
        self.config.inputs
    }

    /// Clusters, then trains and re-selects `rounds` times (labels are not read).
    fn fit(&mut self, data: &Dataset) -> Result<FitReport> {
        self.check_width(data)?;
        let c = self.config.clone();
        enough_rows("iterative detector", c.clusters, "clusters", data)?;
        let gpu = self.core.gpu().clone();
        let rows = data.upload(&gpu)?;
        let x = rows.whole("the iterative detector's fitting")?;
        let n = x.rows();
        // The row list (count, rows, then the labels sample_labelled reads: zeros).
        let lab = gpu.buffer(1 + 2 * u64::from(n), "training rows")?;

        // 1. The first set: the rows of the clusters of low variance.
        let (asg, stats) = self.clusters(x, &data.name)?;
        let row_var = Tensor::new(&gpu, n, 1, "each row's cluster variance")?;
        let thr = Tensor::new(&gpu, 1, 1, "threshold")?;
        let mut tape = self.core.tape();
        tape.lookup(&asg, &stats, 1, &row_var)?;
        tape.percentile(&stats, 1, f64::from(100.0 - c.p0), &thr)?;
        tape.select_below(&row_var, &thr, &lab, 0)?;
        tape.finish()?.run(1)?;
        self.selected = vec![self.set_size(&lab)?];

        // 2. Rounds: train on the set, score every row, keep the low scores.
        let source = LabelSource {
            lab: &lab,
            cap: n,
            classes: None,
        };
        let seed = self.core.rng_seed() ^ SEED_TAG;
        let train = self.core.train_plan(|tape| {
            let s = tape.sample_labelled(&rows, source, 0, c.batch, 0.0, seed)?;
            let (_, recon) = self.net.forward(tape, self.core.arena(), &s.clean)?;
            let e = match c.error {
                ReconError::Angle => tape.row_angle(&recon, &s.clean)?,
                ReconError::Squared => tape.row_error(&recon, &s.clean, RowError::SquaredL2)?,
            };
            Ok(vec![tape.mean(&e)?])
        })?;
        let (score, scores) = self.score_plan(&rows, None)?;
        let mut tape = self.core.tape();
        tape.percentile(&scores, 0, f64::from(100.0 - c.p), &thr)?;
        tape.select_below(&scores, &thr, &lab, 0)?;
        let reselect = tape.finish()?;
        let mut steps = 0u64;
        for round in 0..c.rounds {
            let size = *self.selected.last().expect("the first set");
            let rounds = epoch_rounds(size as usize, c.batch, c.epochs);
            run_rounds(&gpu, std::slice::from_ref(&train), rounds)?;
            steps += u64::from(rounds);
            if round + 1 < c.rounds {
                score.run(1)?;
                reselect.run(1)?;
                self.selected.push(self.set_size(&lab)?);
            }
        }
        self.core.fitted_on(data);
        let sizes: Vec<String> = self.selected.iter().map(u32::to_string).collect();
        Ok(FitReport {
            steps,
            notes: vec![format!(
                "training sets of {} of {n} rows (the clusters' first, then each round's)",
                sizes.join(", ")
            )],
            ..FitReport::default()
        })
    }

    fn score_plan(&self, x: &DataRows, _classes: Option<&GpuBuffer>) -> Result<(Plan, Tensor)> {
        check_inputs("iterative detector", x, self.config.inputs)?;
        let out = Tensor::new(self.core.gpu(), x.rows(), 1, "scores")?;
        let mut tape = self.core.tape();
        self.core.record_rows(
            &mut tape,
            x,
            self.net.widest(),
            &[&out],
            |tape, _, chunk, dst| self.errors(tape, chunk, &dst[0]),
        )?;
        Ok((tape.finish()?, out))
    }
}

impl Model for Iterative {
    type Config = IterativeConfig;

    /// Hidden `--hidden` (default 64-16, or 32-8 under 64 features), `--components` clusters
    /// (default 10) by `--clustering` (default k-means), `--p0` (default 30) and `--p`
    /// (default 10) percent, `--rounds` (default 5) of `--max-epochs` (default 20) epochs,
    /// minibatches of `--batch` (default 64), Adam at `--lr` (default 1e-3), `--error`
    /// (default the angle).
    fn configure(_name: &str, shape: &DataShape, s: &Settings) -> Result<IterativeConfig> {
        let hidden = if shape.inputs < 64 {
            vec![32, 8]
        } else {
            vec![64, 16]
        };
        Ok(IterativeConfig {
            inputs: shape.inputs,
            hidden: s.hidden.clone().unwrap_or(hidden),
            clusters: s.components.unwrap_or(10),
            clustering: s.clustering.unwrap_or_default(),
            p0: s.p0.unwrap_or(30.0),
            p: s.p.unwrap_or(10.0),
            rounds: s.rounds.unwrap_or(5),
            epochs: s.max_epochs.unwrap_or(20),
            batch: s.batch.unwrap_or(64),
            lr: s.lr.unwrap_or(1e-3),
            error: s.recon_error.unwrap_or_default(),
            seed: s.seed,
        })
    }

    fn build(gpu: &Gpu, config: IterativeConfig) -> Result<Iterative> {
        Iterative::new(gpu, config)
    }
}
