//! A UAI model's configuration: the base network, the head and their defaults as the
//! registry resolves them for data of a shape ([`Model::configure`]).

use serde::{Deserialize, Serialize};

use super::UaiModel;
use crate::error::{Result, invalid};
use crate::gpu::Gpu;
use crate::models::AutoencoderConfig;
use crate::models::detector::needs_classes;
use crate::models::registry::{DataShape, Model, Settings};

/// Which base network.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum BaseKind {
    Dae,
    /// An MLP classifier over `classes` classes.
    Class {
        classes: u32,
    },
}

/// A UAI model's set-up. `ae` carries the sizes, activation, optimizer, batch, noise (DAE only)
/// and seed for either base; for Class, `hidden` are the MLP's hidden widths (the last is l).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UaiConfig {
    pub ae: AutoencoderConfig,
    pub base: BaseKind,
    /// With the UAI head (DAE_uai, Class_uai) or without (DAE, Class).
    pub uai: bool,
    pub labelled_batch: u32,
    /// The standard deviation of the head's Gaussian prior around its start (None: no prior).
    #[serde(default)]
    pub head_prior_std: Option<f32>,
    /// The steps [`Detector::fit`] trains the base network for, before any label (Algorithm 1
    /// counts its pretraining in `ActiveConfig` instead).
    #[serde(default = "default_fit_steps")]
    pub fit_steps: u32,
    /// The form of the head: [`HEAD_FORM`]. Model files written before it was recorded hold
    /// form 1 (the raw score, a linear weight on it, the prior on the bias too), which this
    /// version cannot score as they were scored.
    #[serde(default = "first_head_form")]
    pub head_form: u32,
    /// The minibatches the head's standardisation of the score averages over (`head.wgsl`: a
    /// plain average of the first ones, then an exponential one of decay 1 / window); 1 (model
    /// files written before it was recorded): each step's own minibatch.
    #[serde(default = "one_minibatch")]
    pub head_stats_window: u32,
}

fn one_minibatch() -> u32 {
    1
}

fn default_fit_steps() -> u32 {
    1000
}

fn first_head_form() -> u32 {
    1
}

/// The head this version builds: the standardised score under an increasing weight, the bias
/// free of the prior (the module documentation).
pub const HEAD_FORM: u32 = 2;

/// The default prior on the head: a standard normal around its start.
pub const HEAD_PRIOR_STD: f32 = 1.0;

/// The Class head's default standardisation window: the Class network's cross-entropy is so
/// heavy-tailed that one minibatch's deviation of it ranges 30-fold (0.023 to 0.70 between the
/// 5th and 95th percentiles of 64-row minibatches, where the whole set's is 0.31), which
/// rescaled the head's weight on the score at random from one step, and one query, to the
/// next; a DAE's reconstruction error varies by about 15% (BENCHMARKS.md, stop 19). DAE_uai
/// keeps 1.
pub const CLASS_HEAD_STATS_WINDOW: u32 = 100;

/// The UAI models' defaults as the registry configures them (`oddity active`'s): minibatch,
/// RMSprop learning rate, and the DAE's input noise.
pub const UAI_BATCH: u32 = 64;
/// The DAE's RMSprop rate for its small networks (up to 256 features, [`uai_dae_hidden`]).
/// The paper's 0.01 leaves half their encoder's first layer dead (no row activates it) after
/// pretraining on the digits, and the head's gradient cannot reshape the code through dead
/// units: DAE_uai then finds no zero on some seeds (BENCHMARKS.md, stop 18). `--lr 0.01` is
/// the paper's set-up. Past 256 features the DAE is the paper's network, at the paper's rate
/// ([`uai_dae_lr`]).
pub const UAI_DAE_LR: f32 = 0.002;
/// The paper's RMSprop rate, which its 256-64-8 DAE keeps past 256 features: on MNIST 5k at
/// 0.002 the DAE learns to rebuild the rare zeros too, and its error ranks them worse (found
/// in the top 100: 5, 3, 2 of 50 on three seeds, against 9, 16, 20 at 0.01; BENCHMARKS.md,
/// stop 20).
pub const UAI_PAPER_LR: f32 = 0.01;
/// The Class network's RMSprop rate (the paper's).
pub const UAI_CLASS_LR: f32 = UAI_PAPER_LR;
pub const UAI_NOISE: f32 = 0.1;

/// The DAE's default encoder for `inputs` features: the paper's 256-64-8 above 256 features,
/// else 32-16-L with the code L = inputs / 8 (rounded up) within 2 ..= 8, so that a table of
/// few features still passes through a bottleneck (a code as wide as the input can copy it).
pub fn uai_dae_hidden(inputs: u32) -> Vec<u32> {
    if inputs > 256 {
        vec![256, 64, 8]
    } else {
        vec![32, 16, inputs.div_ceil(8).clamp(2, 8)]
    }
}

/// The DAE's default RMSprop rate for `inputs` features: [`UAI_PAPER_LR`] with the paper's
/// network past 256 features, else [`UAI_DAE_LR`].
pub fn uai_dae_lr(inputs: u32) -> f32 {
    if inputs > 256 {
        UAI_PAPER_LR
    } else {
        UAI_DAE_LR
    }
}

impl UaiConfig {
    /// DAE_uai with the autoencoder's settings.
    pub fn new(ae: AutoencoderConfig) -> UaiConfig {
        UaiConfig {
            labelled_batch: ae.batch.min(64),
            head_prior_std: Some(HEAD_PRIOR_STD),
            fit_steps: default_fit_steps(),
            head_form: HEAD_FORM,
            head_stats_window: 1,
            ae,
            base: BaseKind::Dae,
            uai: true,
        }
    }

    /// Class_uai over `classes` classes.
    pub fn class(ae: AutoencoderConfig, classes: u32) -> UaiConfig {
        UaiConfig {
            base: BaseKind::Class { classes },
            head_stats_window: CLASS_HEAD_STATS_WINDOW,
            ..UaiConfig::new(ae)
        }
    }

    /// The same model without the head: the unsupervised baseline.
    pub fn without_head(self) -> UaiConfig {
        UaiConfig { uai: false, ..self }
    }

    /// `dae-uai`, `dae`, `class-uai` or `class`.
    pub fn name(&self) -> String {
        let base = match self.base {
            BaseKind::Dae => "dae",
            BaseKind::Class { .. } => "class",
        };
        if self.uai {
            format!("{base}-uai")
        } else {
            base.to_string()
        }
    }
}

impl Model for UaiModel {
    type Config = UaiConfig;

    /// The UAI paper's set-up as `oddity active` runs it: for the DAE models the encoder of
    /// [`uai_dae_hidden`] and RMSprop at [`uai_dae_lr`]; for the Class models 256-64-8 above 256
    /// features, else 32-16-8, and RMSprop [`UAI_CLASS_LR`], over the data's classes; relu,
    /// sigmoid output, noise 0.1, batch 64, the head's prior N(start, 1).
    fn configure(name: &str, shape: &DataShape, s: &Settings) -> Result<UaiConfig> {
        let dim = shape.inputs;
        let dae = matches!(name, "dae" | "dae-uai");
        let default_hidden = match (dae, dim > 256) {
            (true, _) => uai_dae_hidden(dim),
            (false, true) => vec![256, 64, 8],
            (false, false) => vec![32, 16, 8],
        };
        let lr = if dae { uai_dae_lr(dim) } else { UAI_CLASS_LR };
        let ae = AutoencoderConfig {
            batch: s.batch.unwrap_or(UAI_BATCH),
            seed: s.seed,
            noise_std: s.noise.unwrap_or(UAI_NOISE),
            optimizer: crate::nn::Optimizer::rmsprop(s.lr.unwrap_or(lr)),
            ..AutoencoderConfig::dae(dim, s.hidden.as_deref().unwrap_or(&default_hidden))
        };
        let prior = s.head_prior.unwrap_or(HEAD_PRIOR_STD);
        let prior = (prior != 0.0).then_some(prior);
        let classes = || {
            shape
                .classes
                .ok_or_else(|| needs_classes(name, &shape.name))
        };
        let config = match name {
            "dae" => UaiConfig::new(ae).without_head(),
            "dae-uai" => UaiConfig {
                head_prior_std: prior,
                ..UaiConfig::new(ae)
            },
            "class-uai" => UaiConfig {
                head_prior_std: prior,
                ..UaiConfig::class(ae, classes()?)
            },
            "class" => UaiConfig {
                head_prior_std: prior,
                ..UaiConfig::class(ae, classes()?)
            }
            .without_head(),
            other => return Err(invalid("model", format!("{other:?} is not a UAI model"))),
        };
        Ok(UaiConfig {
            fit_steps: s.steps.unwrap_or(config.fit_steps),
            head_stats_window: s.head_stats_window.unwrap_or(config.head_stats_window),
            ..config
        })
    }

    fn build(gpu: &Gpu, config: UaiConfig) -> Result<UaiModel> {
        UaiModel::new(gpu, config)
    }
}
