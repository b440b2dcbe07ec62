//! DA3D, double-adversarial activation anomaly detection (Schulze et al.), and A3, activation
//! anomaly analysis (Sperl et al.), as their reference code (Fraunhofer-AISEC/DA3D) trains
//! them.
//!
//! - **The target.** An adversarial autoencoder (AAE): an encoder to a linear code, a decoder
//!   to logits (a sigmoid output, binary cross-entropy against [0, 1] inputs), and a latent
//!   discriminator D (40-20-10-5, a sigmoid) that pushes codes towards N(0, I). Dense, or
//!   convolutional for images ([`body::Body::conv`]: 3x3 stride-2 convolutions, the paper's
//!   32C3-16C3-8C3-16C3 at 28 x 28). Each round: the reconstruction step (encoder and
//!   decoder), D's step on `-mean D(n) + mean D(E(x))` (n ~ N(0, I)), the encoder's step on
//!   `-mean D(E(x))`. A3 trains the same network without D (a plain autoencoder).
//! - **The alarm network** A (1000-500-200-75 on images, leaky ReLU, a logit) reads the
//!   decoder's hidden activations of a row's code and learns, with binary cross-entropy,
//!   normal rows (0) against anomalies (1): trivial ones (inputs drawn from N(0.5, 1)),
//!   simple ones (codes drawn from N(0, sigma^2), sigma = 2, decoded) and generated ones.
//! - **The generator** G (8 -> 50-40-30-20 -> code, leaky ReLU, N(0, I) in) makes codes that
//!   must fool A (`mean A(G(z))`, A's probability) and a critic C (the discriminator's
//!   shape) whose step is on `mean C(g) - 2 mean C(E(x)) - 2 mean C(G(z))`, g ~ N(0, sigma^2):
//!   C learns where the normal and generated codes lie against the wide Gaussian, and G,
//!   minimising `mean C(G(z))`, is pushed out into the wide region.
//! - **Variants** ([`Da3dVariant`]): `da3d` trains A on normal, trivial and generated
//!   anomalies (A, G and C in turn each round, after the AAE); `da3d-simple` on normal rows,
//!   trivial and simple anomalies (no G or C: the reference's TrivialSimpleDA3D, the simple
//!   column of the paper's Table 2); `a3` on normal rows and trivial anomalies, over a plain
//!   autoencoder.
//! - **Score:** A's logit of the row (its anomaly probability's log-odds).
//!
//! D, A, G and C train with dropout 0.1 after each hidden layer, as the reference's (none when
//! scoring). Left out of the reference's networks, and said where results are reported: batch
//! normalisation in the conv AAE, the dense AAE's dropout, and the gradient clipping to a
//! global norm of 0.01 before each adversarial Adam step (Adam's step is nearly blind to a
//! gradient's scale). Labels are never read: every row given is taken to be normal.

mod body;
mod train;

use serde::{Deserialize, Serialize};

pub use body::Body;
pub use train::Da3dStep;

use super::core::{FitReport, ModelCore, check_inputs};
use super::detector::{Detector, detector_basics};
use super::file::Family;
use super::registry::{DataShape, Model, Settings};
use crate::data::Dataset;
use crate::error::{Result, invalid};
use crate::gpu::{Gpu, GpuBuffer};
use crate::nn::{ArenaBuilder, Mlp, Optimizer};
use crate::ops::Act;
use crate::ops::conv::Chw;
use crate::tape::{DataRows, Plan, Tensor};

/// Which anomalies the alarm network learns from, and over which target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Da3dVariant {
    /// Trivial and generated anomalies (the generator and critic trained with the alarm).
    Da3d,
    /// Trivial and simple anomalies: noise rows, and wide Gaussian codes decoded.
    Simple,
    /// Trivial anomalies only, over a plain (not adversarial) autoencoder.
    A3,
}

impl Da3dVariant {
    pub fn name(self) -> &'static str {
        match self {
            Da3dVariant::Da3d => "da3d",
            Da3dVariant::Simple => "da3d-simple",
            Da3dVariant::A3 => "a3",
        }
    }

    fn of(name: &str) -> Result<Da3dVariant> {
        [Da3dVariant::Da3d, Da3dVariant::Simple, Da3dVariant::A3]
            .into_iter()
            .find(|v| v.name() == name)
            .ok_or_else(|| invalid("model", format!("{name} is not a DA3D variant")))
    }

    /// The autoencoder is adversarial (has the latent discriminator).
    fn adversarial(self) -> bool {
        self != Da3dVariant::A3
    }
}

/// DA3D's set-up.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Da3dConfig {
    pub variant: Da3dVariant,
    pub inputs: u32,
    /// The rows' image shape: a convolutional autoencoder when given, else a dense one.
    pub image: Option<Chw>,
    /// The autoencoder's hidden widths (dense) or channels (conv), encoder side.
    pub hidden: Vec<u32>,
    pub code: u32,
    pub disc: Vec<u32>,
    pub alarm: Vec<u32>,
    pub gen_in: u32,
    pub gen_hidden: Vec<u32>,
    /// sigma of the wide code distribution (simple anomalies, the critic's reference).
    pub sample_std: f32,
    /// The leaky ReLU slope of every network.
    pub leaky: f32,
    /// Dropout after each hidden layer of D, A, G and C while they train (the reference's
    /// 0.1); 0 for none.
    pub dropout: f32,
    pub batch: u32,
    /// Epochs of the autoencoder's training, then of the alarm network's.
    pub aae_epochs: u32,
    pub alarm_epochs: u32,
    /// Adam's rate for every network.
    pub lr: f32,
    pub seed: u64,
}

impl Da3dConfig {
    /// The reference's settings: code 16, D and C 40-20-10-5, G 8 -> 50-40-30-20, sigma 2,
    /// leaky ReLU 0.01, batch 256, Adam 1e-4; on images the conv AAE (32, 16, 8 channels) and
    /// the big alarm network (1000-500-200-75), on other rows a dense AAE (256-64) and the
    /// small alarm network (100-50-25-10); dropout 0.1 in D, A, G and C. 100 epochs each (the
    /// reference runs 500).
    pub fn new(variant: Da3dVariant, inputs: u32, image: Option<Chw>) -> Da3dConfig {
        let (hidden, alarm) = match image {
            Some(_) => (vec![32, 16, 8], vec![1000, 500, 200, 75]),
            None => (vec![256, 64], vec![100, 50, 25, 10]),
        };
        Da3dConfig {
            variant,
            inputs,
            image,
            hidden,
            code: 16,
            disc: vec![40, 20, 10, 5],
            alarm,
            gen_in: 8,
            gen_hidden: vec![50, 40, 30, 20],
            sample_std: 2.0,
            leaky: 0.01,
            dropout: 0.1,
            batch: 256,
            aae_epochs: 100,
            alarm_epochs: 100,
            lr: 1e-4,
            seed: 0,
        }
    }
}

/// DA3D, its simple variant or A3: see the module documentation.
pub struct Da3d {
    config: Da3dConfig,
    core: ModelCore,
    body: Body,
    disc: Option<Mlp>,
    alarm: Mlp,
    gen_net: Option<Mlp>,
    critic: Option<Mlp>,
    /// The arena's words of each network that trains on its own: the autoencoder (its
    /// encoder first), the encoder alone, D, A, G, C.
    words: Words,
}

/// Arena word ranges of the networks (empty where a variant has no such network).
#[derive(Clone, Debug)]
struct Words {
    body: std::ops::Range<u32>,
    enc: std::ops::Range<u32>,
    disc: std::ops::Range<u32>,
    alarm: std::ops::Range<u32>,
    gen_net: std::ops::Range<u32>,
    critic: std::ops::Range<u32>,
}

fn words(n: u64) -> Result<u32> {
    u32::try_from(n).map_err(|_| invalid("DA3D", "the networks are too large for one arena"))
}

impl Da3d {
    pub fn new(gpu: &Gpu, config: Da3dConfig) -> Result<Da3d> {
        let c = &config;
        check_config(c)?;
        let act = Act::LeakyRelu(c.leaky);
        let mut arena = ArenaBuilder::new(c.seed);
        let body = match c.image {
            Some(image) => {
                if image.values()? != c.inputs {
                    return Err(invalid(
                        "DA3D image shape",
                        format!(
                            "{image} images have {} values a row, and the data has {} columns",
                            image.values()?,
                            c.inputs
                        ),
                    ));
                }
                Body::conv(&mut arena, image, &c.hidden, c.code, act)?
            }
            None => Body::dense(&mut arena, c.inputs, &c.hidden, c.code, act)?,
        };
        // The encoder's layers come first in the body's words.
        let enc = 0..body.encoder_words();
        let body_end = words(arena.len())?;
        let net = |arena: &mut ArenaBuilder, input: u32, hidden: &[u32], out: u32, last: Act| {
            let mut sizes = vec![input];
            sizes.extend(hidden);
            sizes.push(out);
            let mut acts = vec![act; hidden.len()];
            acts.push(last);
            Mlp::new(arena, &sizes, &acts)
        };
        let disc = c
            .variant
            .adversarial()
            .then(|| net(&mut arena, c.code, &c.disc, 1, Act::Sigmoid))
            .transpose()?;
        let disc_end = words(arena.len())?;
        let alarm = net(&mut arena, body.activations(), &c.alarm, 1, Act::Identity)?;
        let alarm_end = words(arena.len())?;
        let generating = c.variant == Da3dVariant::Da3d;
        let gen_net = generating
            .then(|| net(&mut arena, c.gen_in, &c.gen_hidden, c.code, Act::Identity))
            .transpose()?;
        let gen_end = words(arena.len())?;
        let critic = generating
            .then(|| net(&mut arena, c.code, &c.disc, 1, Act::Sigmoid))
            .transpose()?;
        let end = words(arena.len())?;
        let adam = Optimizer::Adam {
            lr: c.lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-7,
        };
        let core = ModelCore::new(gpu, arena, adam, c.seed)?;
        Ok(Da3d {
            words: Words {
                body: 0..body_end,
                enc,
                disc: body_end..disc_end,
                alarm: disc_end..alarm_end,
                gen_net: alarm_end..gen_end,
                critic: gen_end..end,
            },
            config,
            core,
            body,
            disc,
            alarm,
            gen_net,
            critic,
        })
    }

    pub fn config(&self) -> &Da3dConfig {
        &self.config
    }

    /// Each row's code (`rows x code`, row-major): where the autoencoder puts the rows, to
    /// compare with the N(0, I) prior the adversarial training aims for.
    pub fn codes(&self, data: &Dataset) -> Result<Vec<f32>> {
        self.check_width(data)?;
        let x = data.upload(self.core.gpu())?;
        let gpu = self.core.gpu();
        let out = Tensor::new(gpu, x.rows(), self.config.code, "codes")?;
        let mut tape = self.core.tape();
        let arena = self.core.arena();
        self.core.record_rows(
            &mut tape,
            &x,
            self.body.widest(),
            &[&out],
            |tape, _, chunk, dst| {
                let code = self.body.encode(tape, arena, chunk)?;
                tape.copy(&code, &dst[0])
            },
        )?;
        tape.finish()?.run(1)?;
        out.read(gpu)
    }

    /// Refuses data this model cannot train on.
    fn check_data(&self, data: &Dataset) -> Result<()> {
        self.check_width(data)?;
        if data.rows < 2 {
            return Err(invalid(
                "DA3D",
                format!(
                    "{} has {} row(s); it needs at least 2",
                    data.name, data.rows
                ),
            ));
        }
        Ok(())
    }
}

fn check_config(c: &Da3dConfig) -> Result<()> {
    let widths = [&c.hidden, &c.disc, &c.alarm, &c.gen_hidden];
    if c.inputs == 0 || c.code == 0 || c.gen_in == 0 || widths.iter().any(|w| w.contains(&0)) {
        return Err(invalid("DA3D", "every width must be at least 1"));
    }
    if c.hidden.is_empty() {
        return Err(invalid(
            "DA3D",
            "the autoencoder needs at least one hidden layer: the alarm network reads the decoder's hidden activations",
        ));
    }
    if c.batch == 0 || c.aae_epochs == 0 || c.alarm_epochs == 0 {
        return Err(invalid("DA3D", "batch and epochs must be at least 1"));
    }
    if !(c.lr.is_finite() && c.lr > 0.0) {
        return Err(invalid(
            "DA3D",
            format!("learning rate {} (must be > 0)", c.lr),
        ));
    }
    if !(c.sample_std.is_finite() && c.sample_std > 0.0) {
        return Err(invalid(
            "DA3D",
            format!("sample std {} (must be > 0)", c.sample_std),
        ));
    }
    if !(0.0..1.0).contains(&c.dropout) {
        return Err(invalid(
            "DA3D",
            format!("dropout {} (must be in [0, 1))", c.dropout),
        ));
    }
    if !(c.leaky.is_finite() && c.leaky > 0.0) {
        return Err(invalid(
            "DA3D",
            format!("leaky ReLU slope {} (must be > 0)", c.leaky),
        ));
    }
    Ok(())
}

impl Detector for Da3d {
    fn name(&self) -> &str {
        self.config.variant.name()
    }

    detector_basics!(Family::Detector);

    fn inputs(&self) -> u32 {
        self.config.inputs
    }

    /// The autoencoder's rounds, then the alarm network's (with the generator and critic for
    /// `da3d`), every row taken to be normal.
    fn fit(&mut self, data: &Dataset) -> Result<FitReport> {
        self.check_data(data)?;
        let steps = self.train(data)?;
        self.core.fitted_on(data);
        Ok(FitReport {
            epochs: self.config.aae_epochs + self.config.alarm_epochs,
            steps,
            ..FitReport::default()
        })
    }

    fn score_plan(&self, x: &DataRows, _classes: Option<&GpuBuffer>) -> Result<(Plan, Tensor)> {
        check_inputs("DA3D", x, self.config.inputs)?;
        let gpu = self.core.gpu();
        let out = Tensor::new(gpu, x.rows(), 1, "scores")?;
        let mut tape = self.core.tape();
        let widest = self.body.widest().max(self.alarm.widest());
        self.core
            .record_rows(&mut tape, x, widest, &[&out], |tape, _, chunk, dst| {
                let logit = self.alarm_logit(tape, chunk, None)?;
                tape.copy(&logit, &dst[0])
            })?;
        Ok((tape.finish()?, out))
    }
}

impl Model for Da3d {
    type Config = Da3dConfig;

    /// [`Da3dConfig::new`] for the variant `name`, the image shape given (`--image`), with the
    /// settings given: the hidden widths (the last the code), batch, rate, epochs (each phase),
    /// seed.
    fn configure(name: &str, shape: &DataShape, s: &Settings) -> Result<Da3dConfig> {
        let d = Da3dConfig::new(Da3dVariant::of(name)?, shape.inputs, s.image);
        let (hidden, code) = match s.hidden.as_deref() {
            Some([h @ .., code]) if !h.is_empty() => (h.to_vec(), *code),
            Some(h) => {
                return Err(invalid(
                    "hidden",
                    format!(
                        "{h:?}: DA3D takes the autoencoder's hidden widths (or channels) then its code size, at least two numbers"
                    ),
                ));
            }
            None => (d.hidden.clone(), d.code),
        };
        Ok(Da3dConfig {
            hidden,
            code,
            batch: s.batch.unwrap_or(d.batch),
            aae_epochs: s.max_epochs.unwrap_or(d.aae_epochs),
            alarm_epochs: s.max_epochs.unwrap_or(d.alarm_epochs),
            lr: s.lr.unwrap_or(d.lr),
            seed: s.seed,
            ..d
        })
    }

    fn build(gpu: &Gpu, config: Da3dConfig) -> Result<Da3d> {
        Da3d::new(gpu, config)
    }
}
