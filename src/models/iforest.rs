//! The isolation forest (Liu, Ting and Zhou, "Isolation Forest", ICDM 2008): the classic
//! peer a practitioner tries first, so that every active run can be set beside it.
//!
//! Fitting builds `trees` trees on the host, each on its own random subsample of psi =
//! min(`subsample`, rows) rows drawn without replacement: a node splits its rows at a value
//! drawn uniformly between the minimum and maximum of a feature drawn uniformly among those
//! not constant there, until one row is left or the depth reaches the height limit
//! ceil(log2 psi). A row's path length in a tree is the depth of the leaf it ends in plus
//! c(size), c(n) = 2 H(n - 1) - 2 (n - 1) / n (c(2) = 1, else 0), the mean path length of an
//! unsuccessful search among the leaf's rows that the limit left unbuilt. The score is
//! 2^(-E[h(x)] / c(psi)), in (0, 1], higher = more anomalous (sklearn's `score_samples`
//! negated). As sklearn does, a feature is drawn among the non-constant ones.
//!
//! The trees are model state on the GPU (an arena state slot, saved in the model file), and
//! scoring is one dispatch (`iforest.wgsl`) that walks every tree for every row. Labels are
//! never read: under Algorithm 1 it ranks the rows not yet shown by its score each round.

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};

use super::core::{FitReport, ModelCore, check_inputs};
use super::detector::{ActiveDetector, Detector, QueryPlan, prepared};
use super::file::Family;
use super::registry::{DataShape, Model, Settings};
use super::{LabelCounts, LabelSet};
use crate::data::Dataset;
use crate::error::{Result, invalid};
use crate::gpu::{Gpu, GpuBuffer};
use crate::nn::{ArenaBuilder, Optimizer, Slot};
use crate::tape::{DataRows, Plan, Tensor};

/// Trees of Liu et al. (and sklearn's default).
pub const IFOREST_TREES: u32 = 100;
/// Rows per tree of Liu et al. (and sklearn's default).
pub const IFOREST_SUBSAMPLE: u32 = 256;

/// An isolation forest's set-up.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IForestConfig {
    pub inputs: u32,
    pub trees: u32,
    /// Rows per tree at most (psi; fewer when the data has fewer rows).
    pub subsample: u32,
    pub seed: u64,
}

/// An isolation forest: see the module documentation.
pub struct IForest {
    config: IForestConfig,
    /// The registry family it was built for: only under Algorithm 1 does it show the active
    /// face.
    family: Family,
    core: ModelCore,
    nodes: Slot,
    /// Under Algorithm 1: the top k of the scores (computed once, in `prepare`) among the
    /// rows not yet shown.
    prepared: Option<QueryPlan>,
}

/// c(n): the mean path length of an unsuccessful search in a binary search tree of n points
/// (Liu et al., equation 1), 0 for n <= 1.
pub fn average_path_length(n: usize) -> f64 {
    match n {
        0 | 1 => 0.0,
        2 => 1.0,
        _ => {
            let m = (n - 1) as f64;
            2.0 * (m.ln() + 0.577_215_664_901_532_9) - 2.0 * m / n as f64
        }
    }
}

impl IForest {
    /// Nodes a tree has room for: a binary tree with at most `subsample` leaves.
    fn nodes_per_tree(&self) -> u32 {
        2 * self.config.subsample - 1
    }

    /// The node table's tensor (`trees * nodes_per_tree x 4`).
    fn node_table(&self) -> Result<Tensor> {
        self.core.param(self.nodes)
    }

    /// Builds the forest on `data`'s rows (seeded by the configuration) into the node table:
    /// see the module documentation for the layout and rules.
    fn grow(&self, data: &Dataset) -> Result<()> {
        if data.rows < 2 {
            return Err(invalid(
                "isolation forest",
                format!(
                    "{} has {} row(s); a forest needs at least 2",
                    data.name, data.rows
                ),
            ));
        }
        let psi = (self.config.subsample as usize).min(data.rows);
        let limit = (psi as f64).log2().ceil() as u32;
        let norm = average_path_length(psi);
        let npt = self.nodes_per_tree() as usize;
        let mut rng = StdRng::seed_from_u64(self.config.seed ^ 0x001f_0e57);
        let mut table = Vec::with_capacity(self.config.trees as usize * npt * 4);
        let mut all: Vec<u32> = (0..data.rows as u32).collect();
        for _ in 0..self.config.trees {
            let (sample, _) = all.partial_shuffle(&mut rng, psi);
            let mut tree = Tree {
                x: &data.x,
                cols: data.cols,
                limit,
                norm,
                nodes: Vec::with_capacity(npt),
            };
            tree.grow(sample, 0, &mut rng);
            debug_assert!(tree.nodes.len() <= npt);
            tree.nodes.resize(npt, [-1.0, 0.0, 0.0, 0.0]);
            table.extend(tree.nodes.iter().flatten());
        }
        self.node_table()?.write(self.core.gpu(), &table)
    }
}

/// One tree being grown: nodes in pre-order, the root first.
struct Tree<'a> {
    x: &'a [f32],
    cols: usize,
    limit: u32,
    norm: f64,
    nodes: Vec<[f32; 4]>,
}

impl Tree<'_> {
    /// Grows the subtree of `rows` at `depth`; returns its node's index.
    fn grow(&mut self, rows: &mut [u32], depth: u32, rng: &mut StdRng) -> u32 {
        let at = self.nodes.len();
        self.nodes.push([-1.0, 0.0, 0.0, 0.0]);
        let leaf = |t: &mut Self, n: usize| {
            let h = (f64::from(depth) + average_path_length(n)) / t.norm;
            t.nodes[at] = [-1.0, h as f32, 0.0, 0.0];
        };
        if depth >= self.limit || rows.len() <= 1 {
            leaf(self, rows.len());
            return at as u32;
        }
        let mut features: Vec<usize> = (0..self.cols).collect();
        features.shuffle(rng);
        let value = |r: u32, f: usize| self.x[r as usize * self.cols + f];
        let split = features.into_iter().find_map(|f| {
            let (lo, hi) = rows
                .iter()
                .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &r| {
                    (lo.min(value(r, f)), hi.max(value(r, f)))
                });
            (hi > lo).then_some((f, lo, hi))
        });
        let Some((f, lo, hi)) = split else {
            leaf(self, rows.len());
            return at as u32;
        };
        // A threshold in (lo, hi]: the rows at lo go left, those at hi right; both sides
        // keep at least one row.
        let t = lo + (hi - lo) * rng.random_range(f32::EPSILON..1.0);
        let t = if t > lo { t } else { hi };
        let mut cut = 0;
        for i in 0..rows.len() {
            if value(rows[i], f) < t {
                rows.swap(i, cut);
                cut += 1;
            }
        }
        let (left_rows, right_rows) = rows.split_at_mut(cut);
        let left = self.grow(left_rows, depth + 1, rng);
        let right = self.grow(right_rows, depth + 1, rng);
        self.nodes[at] = [f as f32, t, left as f32, right as f32];
        at as u32
    }
}

impl Detector for IForest {
    fn name(&self) -> &str {
        "iforest"
    }

    fn family(&self) -> Family {
        self.family
    }

    fn core(&self) -> &ModelCore {
        &self.core
    }

    fn core_mut(&mut self) -> &mut ModelCore {
        &mut self.core
    }

    fn config(&self) -> Result<serde_json::Value> {
        super::file::config_json(&self.config)
    }

    fn inputs(&self) -> u32 {
        self.config.inputs
    }

    /// Grows the forest on every row given (labels are not read).
    fn fit(&mut self, data: &Dataset) -> Result<FitReport> {
        self.check_width(data)?;
        self.grow(data)?;
        self.core.fitted_on(data);
        Ok(FitReport::default())
    }

    fn score_plan(&self, x: &DataRows, _classes: Option<&GpuBuffer>) -> Result<(Plan, Tensor)> {
        check_inputs("isolation forest", x, self.config.inputs)?;
        let out = Tensor::new(self.core.gpu(), x.rows(), 1, "scores")?;
        let mut tape = self.core.tape();
        let nodes = self.node_table()?;
        // Each part of the data (one, unless one binding cannot hold it) into its rows of out.
        let mut first = 0;
        for part in x.parts() {
            let dst = Tensor::view(out.buffer(), out.offset() + first, part.rows(), 1)?;
            tape.iforest_scores(part, &nodes, self.config.trees, &dst)?;
            first += part.rows();
        }
        Ok((tape.finish()?, out))
    }

    fn as_active(&mut self) -> Option<&mut dyn ActiveDetector> {
        match self.family {
            Family::Active => Some(self),
            Family::Detector => None,
        }
    }
}

impl Model for IForest {
    type Config = IForestConfig;

    /// Liu et al.'s 100 trees of 256-row subsamples, seeded by the settings' seed; the other
    /// settings do not apply.
    fn configure(_name: &str, shape: &DataShape, s: &Settings) -> Result<IForestConfig> {
        Ok(IForestConfig {
            inputs: shape.inputs,
            trees: IFOREST_TREES,
            subsample: IFOREST_SUBSAMPLE,
            seed: s.seed,
        })
    }

    fn build(gpu: &Gpu, config: IForestConfig) -> Result<IForest> {
        IForest::build_for(gpu, config, Family::Detector)
    }

    fn build_for(gpu: &Gpu, config: IForestConfig, family: Family) -> Result<IForest> {
        if config.inputs == 0 || config.trees == 0 || config.subsample < 2 {
            return Err(invalid(
                "isolation forest",
                format!(
                    "needs inputs > 0, trees > 0 and a subsample of 2 rows or more (got {}, {}, {})",
                    config.inputs, config.trees, config.subsample
                ),
            ));
        }
        let npt = 2 * config.subsample - 1;
        let rows = u64::from(config.trees) * u64::from(npt);
        let rows = u32::try_from(rows)
            .ok()
            .filter(|r| u64::from(*r) * 4 < u64::from(u32::MAX))
            .ok_or_else(|| invalid("isolation forest", "too many trees and rows per tree"))?;
        let mut arena = ArenaBuilder::new(config.seed);
        // Unfitted, every tree is one leaf at path length 0: every row scores 1.
        let mut empty = vec![0f32; rows as usize * 4];
        empty.chunks_mut(4).for_each(|n| n[0] = -1.0);
        let nodes = arena.state(rows, 4, &empty)?;
        // No slot is trained: the optimizer never runs.
        let core = ModelCore::new(gpu, arena, Optimizer::sgd(1.0), config.seed)?;
        Ok(IForest {
            config,
            family,
            core,
            nodes,
            prepared: None,
        })
    }
}

/// Under Algorithm 1 the forest is grown and scores every row once, then each round shows the
/// best rows not yet shown: the peer with no feedback.
impl ActiveDetector for IForest {
    fn prepare(&mut self, data: &Dataset, x: &DataRows, labels: &LabelSet, k: u32) -> Result<()> {
        self.fit(data)?;
        // The scores never change: scored once here, each round only selects.
        let (score, scores) = self.score_plan(x, None)?;
        score.run(1)?;
        let mut tape = self.core.tape();
        let top = tape.top_k(&scores, Some((&labels.flags, 0)), k)?;
        self.prepared = Some(QueryPlan {
            plan: tape.finish()?,
            scores,
            top,
        });
        Ok(())
    }

    fn train(&mut self, _steps: u32, _labels: LabelCounts) -> Result<()> {
        prepared(&self.prepared).map(|_| ())
    }

    fn query(&mut self, _labels: LabelCounts) -> Result<Vec<(u32, f32)>> {
        prepared(&self.prepared)?.select(self.core.gpu())
    }

    fn last_scores(&self) -> Result<Vec<f32>> {
        prepared(&self.prepared)?.scores.read(self.core.gpu())
    }

    fn step_plan(&self) -> Option<&Plan> {
        None
    }

    fn plans(&self) -> Vec<(&'static str, &Plan)> {
        self.prepared.iter().map(|q| ("query", &q.plan)).collect()
    }
}
