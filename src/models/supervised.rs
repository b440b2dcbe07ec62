//! Supervised detectors of the ABC paper (Yamanaka et al.): the autoencoding binary classifier
//! on an AE or DAE base, LRC (its unbounded baseline), and the paper's baselines, an AE or DAE
//! trained on normal rows only and a DNN classifier.
//!
//! With L(x) the mean squared reconstruction error of a row and y = 1 normal / 0 known anomaly,
//! ABC minimises y L - (1 - y) log(1 - exp(-L)) and scores p(anomaly | x) = 1 - exp(-L); LRC
//! minimises y L - (1 - y) L. The DNN (three dense layers) minimises the sigmoid cross-entropy of
//! p(anomaly) and scores it. Training is Adam on minibatches drawn on the GPU, one recorded plan
//! replayed an epoch at a time, with early stopping on the loss over a validation split (the
//! parameters of the best epoch are kept, on the GPU).

use serde::{Deserialize, Serialize};

use super::core::{EarlyStopping, FitReport, ModelCore, check_inputs, validation_split};
use super::detector::{Detector, detector_basics};
use super::file::Family;
use super::registry::{DataShape, Model, Settings};
use super::scaling::ColumnScaling;
use crate::data::Dataset;
use crate::error::{Result, invalid, shape};
use crate::gpu::{Gpu, GpuBuffer};
use crate::nn::{ArenaBuilder, EncoderDecoder, Mlp, Optimizer, ParamArena};
use crate::ops::Act;
use crate::ops::loss::{BinaryLoss, RowError};
use crate::tape::{DataRows, Plan, Tape, Tensor};
use oddity_kernels::reference::TAG_STANDARDISED_NOISE;

/// Which supervised detector.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SupervisedKind {
    AbcAe,
    AbcDae,
    Lrc,
    /// Autoencoder on normal rows only.
    Ae,
    /// Denoising autoencoder on normal rows only.
    Dae,
    /// Three dense layers, sigmoid cross-entropy.
    Dnn,
}

impl SupervisedKind {
    pub const ALL: [SupervisedKind; 6] = [
        SupervisedKind::AbcAe,
        SupervisedKind::AbcDae,
        SupervisedKind::Lrc,
        SupervisedKind::Ae,
        SupervisedKind::Dae,
        SupervisedKind::Dnn,
    ];

    /// `abc-ae`, `abc-dae`, `lrc`, `ae`, `dae`, `dnn`.
    pub fn name(self) -> &'static str {
        match self {
            SupervisedKind::AbcAe => "abc-ae",
            SupervisedKind::AbcDae => "abc-dae",
            SupervisedKind::Lrc => "lrc",
            SupervisedKind::Ae => "ae",
            SupervisedKind::Dae => "dae",
            SupervisedKind::Dnn => "dnn",
        }
    }

    pub fn parse(s: &str) -> Option<SupervisedKind> {
        Self::ALL.into_iter().find(|k| k.name() == s)
    }

    /// Trained on normal rows only (the unsupervised baselines).
    pub fn normal_only(self) -> bool {
        self.loss().is_none()
    }

    fn denoising(self) -> bool {
        matches!(self, SupervisedKind::AbcDae | SupervisedKind::Dae)
    }

    fn loss(self) -> Option<BinaryLoss> {
        match self {
            SupervisedKind::AbcAe | SupervisedKind::AbcDae => Some(BinaryLoss::Abc),
            SupervisedKind::Lrc => Some(BinaryLoss::Lrc),
            SupervisedKind::Dnn => Some(BinaryLoss::Logistic),
            SupervisedKind::Ae | SupervisedKind::Dae => None,
        }
    }
}

/// A supervised detector's architecture and training set-up.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SupervisedConfig {
    pub kind: SupervisedKind,
    pub inputs: u32,
    /// Encoder widths, the last the latent size (the decoder mirrors them); for the DNN its
    /// hidden widths (a logit layer follows).
    pub hidden: Vec<u32>,
    pub act: Act,
    /// Input noise of the DAE bases.
    pub noise_std: f32,
    pub optimizer: Optimizer,
    pub batch: u32,
    pub seed: u64,
    /// Epochs at most, and epochs without a better validation loss before stopping.
    pub max_epochs: u32,
    pub patience: u32,
    /// Standardise each column over the training rows before the network (PyOD's
    /// preprocessing; the AE then reconstructs the standardised row). Files written before
    /// the option load without it.
    #[serde(default)]
    pub standardise: bool,
}

impl SupervisedConfig {
    /// The paper's set-up: tanh, encoder 300-100 and latent 20 (10-10 and latent 1 for
    /// two-feature data), the DNN 300-100 (10-10), Adam 1e-3, batch 100; noise 0.1 for DAEs.
    pub fn paper(kind: SupervisedKind, inputs: u32) -> SupervisedConfig {
        let small = inputs <= 2;
        let hidden = match (kind, small) {
            (SupervisedKind::Dnn, true) => vec![10, 10],
            (SupervisedKind::Dnn, false) => vec![300, 100],
            (_, true) => vec![10, 10, 1],
            (_, false) => vec![300, 100, 20],
        };
        SupervisedConfig {
            kind,
            inputs,
            hidden,
            act: Act::Tanh,
            noise_std: if kind.denoising() { 0.1 } else { 0.0 },
            optimizer: Optimizer::adam(1e-3),
            batch: 100,
            seed: 0,
            max_epochs: 100,
            patience: 10,
            standardise: false,
        }
    }
}

enum Net {
    Ae(EncoderDecoder),
    Dnn { mlp: Mlp },
}

/// A supervised detector on the GPU.
pub struct Supervised {
    core: ModelCore,
    pub config: SupervisedConfig,
    net: Net,
    scaling: Option<ColumnScaling>,
}

impl Supervised {
    pub fn new(gpu: &Gpu, config: SupervisedConfig) -> Result<Supervised> {
        let c = &config;
        if c.hidden.is_empty() || c.batch == 0 || c.inputs == 0 {
            return Err(invalid(
                "supervised detector",
                "needs inputs, hidden sizes and a batch > 0",
            ));
        }
        let mut b = ArenaBuilder::new(c.seed);
        let net = if c.kind == SupervisedKind::Dnn {
            let mut sizes = vec![c.inputs];
            sizes.extend(&c.hidden);
            sizes.push(1);
            let mut acts = vec![c.act; c.hidden.len() + 1];
            acts[c.hidden.len()] = Act::Identity;
            Net::Dnn {
                mlp: Mlp::new(&mut b, &sizes, &acts)?,
            }
        } else {
            Net::Ae(EncoderDecoder::new(
                &mut b,
                c.inputs,
                &c.hidden,
                c.act,
                Act::Identity,
            )?)
        };
        let scaling = ColumnScaling::reserve_if(&mut b, c.inputs, c.standardise)?;
        let core = ModelCore::new(gpu, b, c.optimizer, c.seed)?;
        Ok(Supervised {
            core,
            config,
            net,
            scaling,
        })
    }

    /// `x` standardised where configured.
    fn prepare(&self, tape: &mut Tape, x: &Tensor) -> Result<Tensor> {
        ColumnScaling::apply_if(self.scaling.as_ref(), &self.core, tape, x)
    }

    pub fn arena(&self) -> &ParamArena {
        self.core.arena()
    }

    fn check(&self, x: &DataRows, y: Option<&GpuBuffer>) -> Result<()> {
        check_inputs(self.config.kind.name(), x, self.config.inputs)?;
        if let Some(y) = y
            && y.words() < u64::from(x.rows())
        {
            return Err(shape(
                self.config.kind.name(),
                format!("{} labels for {} rows", y.words(), x.rows()),
            ));
        }
        Ok(())
    }

    fn widest(&self) -> u32 {
        match &self.net {
            Net::Ae(net) => net.widest(),
            Net::Dnn { mlp } => mlp.widest(),
        }
    }

    /// Each row's value: the mean squared reconstruction error, or the DNN's logit.
    fn value(&self, tape: &mut Tape, input: &Tensor, clean: &Tensor) -> Result<Tensor> {
        match &self.net {
            Net::Ae(net) => {
                let (_, recon) = net.forward(tape, self.arena(), input)?;
                tape.row_error(&recon, clean, RowError::Mse)
            }
            Net::Dnn { mlp } => mlp.forward(tape, self.arena(), input),
        }
    }

    /// Each row's loss (for the normal-only baselines, its reconstruction error).
    fn row_loss(
        &self,
        tape: &mut Tape,
        v: &Tensor,
        y: Option<(&GpuBuffer, u32)>,
    ) -> Result<Tensor> {
        match (self.config.kind.loss(), y) {
            (Some(kind), Some((y, off))) => tape.binary_loss(v, y, off, kind),
            (Some(_), None) => Err(invalid(self.config.kind.name(), "needs labels")),
            (None, _) => Ok(v.clone()),
        }
    }

    /// Records one training step on rows `x` with labels `y` (u32, 1 normal, 0 known anomaly;
    /// ignored by the normal-only baselines, whose `x` should hold normal rows only).
    pub fn train_plan(&self, x: &DataRows, y: &GpuBuffer) -> Result<Plan> {
        self.check(x, Some(y))?;
        let c = &self.config;
        self.core.train_plan(|tape| {
            let seed = self.core.rng_seed();
            // Standardised, a DAE's noise is added after the scaling (in standard deviations).
            let scaled = self.scaling.is_some();
            let noise = if scaled { 0.0 } else { c.noise_std };
            let batch = tape.sample_rows_with(x, Some(y), c.batch, noise, seed)?;
            let clean = self.prepare(tape, &batch.clean)?;
            let input = match &batch.noisy {
                Some(noisy) => noisy.clone(),
                None if scaled && c.noise_std > 0.0 => {
                    tape.gauss_noise(&clean, c.noise_std, seed, TAG_STANDARDISED_NOISE)?
                }
                None => clean.clone(),
            };
            let v = self.value(tape, &input, &clean)?;
            let labels = batch.class.as_ref().map(|b| (b, 0));
            let per_row = self.row_loss(tape, &v, labels)?;
            Ok(vec![tape.mean(&per_row)?])
        })
    }

    /// Records each row's value into `out` (`rows x 1`), or with `y` its loss.
    fn record_values(
        &self,
        tape: &mut Tape,
        x: &DataRows,
        y: Option<&GpuBuffer>,
        out: &Tensor,
    ) -> Result<()> {
        self.core
            .record_rows(tape, x, self.widest(), &[out], |tape, r0, chunk, dst| {
                let xs = self.prepare(tape, chunk)?;
                let v = self.value(tape, &xs, &xs)?;
                let l = match y {
                    Some(y) => self.row_loss(tape, &v, Some((y, r0)))?,
                    None => v,
                };
                tape.copy(&l, &dst[0])
            })
    }

    /// Records the mean loss over all rows of `x` (clean inputs), a 1x1 tensor; with `y` None,
    /// the mean value (reconstruction error or logit) instead.
    pub fn mean_plan(&self, x: &DataRows, y: Option<&GpuBuffer>) -> Result<(Plan, Tensor)> {
        self.check(x, y)?;
        let mut tape = self.core.tape();
        let all = Tensor::new(self.core.gpu(), x.rows(), 1, "row losses")?;
        self.record_values(&mut tape, x, y, &all)?;
        let mean = tape.mean(&all)?;
        Ok((tape.finish()?, mean))
    }

    /// Trains with early stopping. `train` and `val` are (rows, labels); for the Figure 5
    /// curves, `track` holds validation rows that are normal and that are known anomalies.
    pub fn fit_split(
        &mut self,
        train: (&DataRows, &GpuBuffer),
        val: (&DataRows, &GpuBuffer),
        track: Option<(&DataRows, &DataRows)>,
    ) -> Result<FitReport> {
        let c = &self.config;
        let step = self.train_plan(train.0, train.1)?;
        let (val_plan, val_loss) = self.mean_plan(val.0, Some(val.1))?;
        let track_plans = match (&self.net, track) {
            (Net::Ae(_), Some((n, a))) => {
                Some((self.mean_plan(n, None)?, self.mean_plan(a, None)?))
            }
            _ => None,
        };
        let gpu = self.core.gpu();
        let stopping = EarlyStopping {
            max_epochs: c.max_epochs,
            patience: c.patience,
        };
        let steps_per_epoch = train.0.rows().div_ceil(c.batch).max(1);
        self.core
            .fit_early_stopping(&step, steps_per_epoch, stopping, |report| {
                val_plan.run(1)?;
                let loss = val_loss.read(gpu)?[0];
                if let Some(((np, nm), (ap, am))) = &track_plans {
                    np.run(1)?;
                    ap.run(1)?;
                    report.normal_error.push(nm.read(gpu)?[0]);
                    report.anomaly_error.push(am.read(gpu)?[0]);
                }
                Ok(loss)
            })
    }
}

impl Detector for Supervised {
    fn name(&self) -> &str {
        self.config.kind.name()
    }

    detector_basics!(Family::Detector);

    fn inputs(&self) -> u32 {
        self.config.inputs
    }

    fn supervised(&self) -> bool {
        !self.config.kind.normal_only()
    }

    /// Holds out a random 20% of the rows (seeded by the configuration's seed) and trains on
    /// the rest with early stopping on the held-out loss; the best epoch's parameters are
    /// kept. ABC, LRC and the DNN learn from `data.anomaly` (required); the AE and DAE
    /// baselines reconstruct every row they are given (give them normal rows).
    fn fit(&mut self, data: &Dataset) -> Result<FitReport> {
        let name = self.name().to_string();
        self.check_width(data)?;
        // y = 1 for normal rows, 0 for known anomalies.
        let y: Vec<u32> = match (&data.anomaly, self.supervised()) {
            (Some(a), _) => a.iter().map(|&v| u32::from(v == 0)).collect(),
            (None, false) => vec![1; data.rows],
            (None, true) => {
                return Err(invalid(
                    "fit",
                    format!("{name} learns from labels, and {} has none", data.name),
                ));
            }
        };
        let (val, train) = validation_split(&data.name, data.rows, self.config.seed)?;
        let upload = |ix: &[usize], what: &str| -> Result<(DataRows, GpuBuffer)> {
            let labels: Vec<u32> = ix.iter().map(|&i| y[i]).collect();
            Ok((
                self.core.rows_data(data, ix, what)?,
                self.core.gpu().upload(&labels, "labels")?,
            ))
        };
        ColumnScaling::fit_if(self.scaling.as_ref(), &self.core, data)?;
        let (tx, ty) = upload(&train, "train")?;
        let (vx, vy) = upload(&val, "validation")?;
        let of = |label: u32| {
            val.iter()
                .copied()
                .filter(|&i| y[i] == label)
                .collect::<Vec<_>>()
        };
        let (val_normal, val_known) = (of(1), of(0));
        let track = if val_normal.is_empty() || val_known.is_empty() {
            None
        } else {
            Some((
                upload(&val_normal, "val normal")?.0,
                upload(&val_known, "val known")?.0,
            ))
        };
        self.core.fitted_on(data);
        self.fit_split((&tx, &ty), (&vx, &vy), track.as_ref().map(|(a, b)| (a, b)))
    }

    /// Each row's L (reconstruction error) or the DNN's logit.
    fn score_plan(&self, x: &DataRows, _classes: Option<&GpuBuffer>) -> Result<(Plan, Tensor)> {
        self.check(x, None)?;
        let mut tape = self.core.tape();
        let out = Tensor::new(self.core.gpu(), x.rows(), 1, "values")?;
        self.record_values(&mut tape, x, None, &out)?;
        Ok((tape.finish()?, out))
    }

    /// p(anomaly) = 1 - exp(-L) for ABC and LRC, the sigmoid of the logit for the DNN, L
    /// itself for the AE and DAE baselines: applied to the values read back, in f64.
    fn finish_scores(&self, v: Vec<f32>) -> Vec<f32> {
        match self.config.kind {
            SupervisedKind::AbcAe | SupervisedKind::AbcDae | SupervisedKind::Lrc => v
                .iter()
                .map(|&l| -(-f64::from(l.max(0.0))).exp_m1() as f32)
                .collect(),
            SupervisedKind::Dnn => v
                .iter()
                .map(|&z| (1.0 / (1.0 + (-f64::from(z)).exp())) as f32)
                .collect(),
            SupervisedKind::Ae | SupervisedKind::Dae => v,
        }
    }
}

impl Model for Supervised {
    type Config = SupervisedConfig;

    /// The ABC paper's set-up ([`SupervisedConfig::paper`]), with the settings given.
    fn configure(name: &str, shape: &DataShape, s: &Settings) -> Result<SupervisedConfig> {
        let kind = SupervisedKind::parse(name)
            .ok_or_else(|| invalid("model", format!("{name:?} is not a supervised detector")))?;
        let paper = SupervisedConfig::paper(kind, shape.inputs);
        Ok(SupervisedConfig {
            seed: s.seed,
            max_epochs: s.max_epochs.unwrap_or(paper.max_epochs),
            hidden: s.hidden.clone().unwrap_or(paper.hidden.clone()),
            batch: s.batch.unwrap_or(paper.batch),
            optimizer: s.lr.map_or(paper.optimizer, Optimizer::adam),
            noise_std: match (s.noise, kind.denoising()) {
                (Some(n), true) => n,
                _ => paper.noise_std,
            },
            standardise: s.standardise.unwrap_or(false),
            ..paper
        })
    }

    fn build(gpu: &Gpu, config: SupervisedConfig) -> Result<Supervised> {
        Supervised::new(gpu, config)
    }
}
