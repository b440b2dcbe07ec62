//! Deep SVDD (Ruff et al., "Deep One-Class Classification", ICML 2018), one-class: a network
//! phi with no bias terms maps the (normal) training rows as close as it can to a centre c, and
//! a row's score is its squared distance ||phi(x) - c||^2.
//!
//! - The network: ReLU layers, none with a bias (a bias would let phi map every row to c, the
//!   trivial solution Ruff et al. rule out), 64-32 by default, the last followed by a ReLU too
//!   (PyOD's `DeepSVDD` network; `relu_out: false` gives Ruff et al.'s linear last layer).
//!   On Fashion-MNIST (T-shirts normal) the last ReLU took three seeds' mean AUROC from 0.49
//!   to 0.86 (BENCHMARKS.md, stop 24).
//! - The centre is fixed before training from one pass of the initial network over every row:
//!   the mean of phi(x), each coordinate within `eps` of 0 pushed out to +-eps (0.1, as Ruff et
//!   al.'s code), which also rules out the trivial solution. It is model state (saved in the
//!   model file), read back once when it is set (`rep` numbers).
//! - Training: minibatches drawn on the GPU, the mean squared distance to c, Adam (1e-4, as
//!   PyOD and Ruff et al.), `epochs x rows / batch` steps, one submit.
//! - Columns are standardised over the training rows first (PyOD's `preprocessing`), the
//!   statistics kept as model state.
//!
//! Labels are never read: every row given is taken to be normal.

use serde::{Deserialize, Serialize};

use super::core::{FitReport, ModelCore, check_inputs};
use super::detector::{Detector, detector_basics};
use super::file::Family;
use super::registry::{DataShape, Model, Settings};
use super::scaling::ColumnScaling;
use crate::data::Dataset;
use crate::error::{Result, invalid};
use crate::gpu::{Gpu, GpuBuffer};
use crate::nn::{ArenaBuilder, Mlp, Optimizer, Slot};
use crate::ops::Act;
use crate::ops::loss::RowError;
use crate::tape::{DataRows, Plan, Tape, Tensor};

/// A Deep SVDD detector's set-up.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeepSvddConfig {
    pub inputs: u32,
    /// Hidden widths, the last the representation's.
    pub hidden: Vec<u32>,
    pub batch: u32,
    pub epochs: u32,
    pub optimizer: Optimizer,
    /// A centre coordinate closer to 0 than this is moved out to +-eps.
    pub eps: f32,
    pub seed: u64,
    /// Standardise each column over the training rows first (PyOD's `preprocessing`). Files
    /// written before the option load without it.
    #[serde(default)]
    pub standardise: bool,
    /// A ReLU after the last layer too (PyOD's network), so phi is non-negative. Files written
    /// before the option load without it (a linear last layer, as Ruff et al.'s networks).
    #[serde(default)]
    pub relu_out: bool,
}

impl DeepSvddConfig {
    /// PyOD's defaults: hidden 64-32, a ReLU after every layer, batch 32, 100 epochs, Adam
    /// 1e-4, columns standardised.
    pub fn new(inputs: u32) -> DeepSvddConfig {
        DeepSvddConfig {
            inputs,
            hidden: vec![64, 32],
            batch: 32,
            epochs: 100,
            optimizer: Optimizer::adam(1e-4),
            eps: 0.1,
            seed: 0,
            standardise: true,
            relu_out: true,
        }
    }
}

/// Deep SVDD: see the module documentation.
pub struct DeepSvdd {
    config: DeepSvddConfig,
    core: ModelCore,
    net: Mlp,
    /// The centre c (`1 x rep`).
    centre: Slot,
    scaling: Option<ColumnScaling>,
}

impl DeepSvdd {
    pub fn new(gpu: &Gpu, config: DeepSvddConfig) -> Result<DeepSvdd> {
        let c = &config;
        if c.hidden.is_empty() || c.batch == 0 || c.epochs == 0 || c.eps.is_nan() || c.eps <= 0.0 {
            return Err(invalid(
                "Deep SVDD",
                "needs hidden widths, batch > 0, epochs > 0 and eps > 0",
            ));
        }
        let mut sizes = vec![c.inputs];
        sizes.extend(&c.hidden);
        let mut acts = vec![Act::Relu; c.hidden.len()];
        if !c.relu_out {
            acts[c.hidden.len() - 1] = Act::Identity;
        }
        let mut arena = ArenaBuilder::new(c.seed);
        let net = Mlp::without_bias(&mut arena, &sizes, &acts)?;
        let rep = net.outputs();
        let centre = arena.state(1, rep, &vec![0.0; rep as usize])?;
        let scaling = ColumnScaling::reserve_if(&mut arena, c.inputs, c.standardise)?;
        let core = ModelCore::new(gpu, arena, c.optimizer, c.seed)?;
        Ok(DeepSvdd {
            config,
            core,
            net,
            centre,
            scaling,
        })
    }

    /// phi of rows `x` (standardised first where configured).
    fn represent(&self, tape: &mut Tape, x: &Tensor) -> Result<Tensor> {
        let xs = ColumnScaling::apply_if(self.scaling.as_ref(), &self.core, tape, x)?;
        self.net.forward(tape, self.core.arena(), &xs)
    }

    /// The centre c (read back).
    pub fn centre(&self) -> Result<Vec<f32>> {
        self.core.param(self.centre)?.read(self.core.gpu())
    }

    /// Each row's squared distance to the centre, into `out` (`rows x 1`).
    fn record_distances(&self, tape: &mut Tape, x: &DataRows, out: &Tensor) -> Result<()> {
        let gpu = self.core.gpu();
        let centre = self.core.param(self.centre)?;
        self.core
            .record_rows(tape, x, self.net.widest(), &[out], |tape, _, chunk, dst| {
                let phi = self.represent(tape, chunk)?;
                let c = Tensor::new(gpu, phi.rows(), phi.cols(), "centre rows")?;
                tape.broadcast_row(&centre, &c)?;
                let d = tape.row_error(&phi, &c, RowError::SquaredL2)?;
                tape.copy(&d, &dst[0])
            })
    }

    /// The centre from one pass of the network as it is over `x`: the mean of phi(x), each
    /// coordinate within eps of 0 moved out to +-eps (the sign its own, + for 0).
    fn set_centre(&self, x: &DataRows) -> Result<()> {
        let gpu = self.core.gpu();
        let rep = self.net.outputs();
        let phi = Tensor::new(gpu, x.rows(), rep, "representations")?;
        let stats = Tensor::new(gpu, 2, rep, "their means")?;
        let mut tape = self.core.tape();
        self.core.record_rows(
            &mut tape,
            x,
            self.net.widest(),
            &[&phi],
            |tape, _, chunk, dst| {
                let out = self.represent(tape, chunk)?;
                tape.copy(&out, &dst[0])
            },
        )?;
        tape.pca_col_stats(&phi, &stats)?;
        tape.finish()?.run(1)?;
        let eps = self.config.eps;
        let mean = gpu.read_f32(stats.buffer(), u64::from(stats.offset()), u64::from(rep))?;
        let c: Vec<f32> = mean
            .iter()
            .map(|&m| match m.abs() < eps {
                true if m < 0.0 => -eps,
                true => eps,
                false => m,
            })
            .collect();
        self.core.param(self.centre)?.write(gpu, &c)
    }
}

impl Detector for DeepSvdd {
    fn name(&self) -> &str {
        "deepsvdd"
    }

    detector_basics!(Family::Detector);

    fn inputs(&self) -> u32 {
        self.config.inputs
    }

    /// Sets the centre from the initial network, then trains `epochs x rows / batch` steps on
    /// every row given (labels are not read).
    fn fit(&mut self, data: &Dataset) -> Result<FitReport> {
        self.check_width(data)?;
        if data.rows < 2 {
            return Err(invalid(
                "Deep SVDD",
                format!(
                    "{} has {} row(s); it needs at least 2",
                    data.name, data.rows
                ),
            ));
        }
        let x = data.upload(self.core.gpu())?;
        ColumnScaling::fit_if(self.scaling.as_ref(), &self.core, data)?;
        self.set_centre(&x)?;
        let c = &self.config;
        let batch = c.batch.min(x.rows());
        let centre = self.core.param(self.centre)?;
        let target = Tensor::new(self.core.gpu(), batch, self.net.outputs(), "centre rows")?;
        let mut tape = self.core.tape();
        tape.broadcast_row(&centre, &target)?;
        tape.finish()?.run(1)?;
        let step = self.core.train_plan(|tape| {
            let b = tape.sample_rows(&x, batch, 0.0, self.core.rng_seed())?;
            let phi = self.represent(tape, &b.clean)?;
            let (_, loss) = tape.row_error_mean(&phi, &target, RowError::SquaredL2, batch)?;
            Ok(vec![loss])
        })?;
        let steps = c.epochs * x.rows().div_ceil(batch).max(1);
        let report = self.core.fit_steps(&step, steps)?;
        self.core.fitted_on(data);
        Ok(FitReport {
            epochs: c.epochs,
            ..report
        })
    }

    fn score_plan(&self, x: &DataRows, _classes: Option<&GpuBuffer>) -> Result<(Plan, Tensor)> {
        check_inputs("Deep SVDD", x, self.config.inputs)?;
        let out = Tensor::new(self.core.gpu(), x.rows(), 1, "scores")?;
        let mut tape = self.core.tape();
        self.record_distances(&mut tape, x, &out)?;
        Ok((tape.finish()?, out))
    }
}

impl Model for DeepSvdd {
    type Config = DeepSvddConfig;

    /// [`DeepSvddConfig::new`] with the settings given (hidden widths, batch, Adam's rate,
    /// epochs, seed).
    fn configure(_name: &str, shape: &DataShape, s: &Settings) -> Result<DeepSvddConfig> {
        let d = DeepSvddConfig::new(shape.inputs);
        Ok(DeepSvddConfig {
            hidden: s.hidden.clone().unwrap_or(d.hidden),
            batch: s.batch.unwrap_or(d.batch),
            epochs: s.max_epochs.unwrap_or(d.epochs),
            optimizer: s.lr.map_or(d.optimizer, Optimizer::adam),
            seed: s.seed,
            ..d
        })
    }

    fn build(gpu: &Gpu, config: DeepSvddConfig) -> Result<DeepSvdd> {
        DeepSvdd::new(gpu, config)
    }
}
