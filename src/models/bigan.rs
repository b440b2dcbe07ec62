//! BiGAN (Donahue et al., "Adversarial Feature Learning", ICLR 2017; Dumoulin et al.'s ALI),
//! the report's adversarial detector, scored as Zenati et al. ("Efficient GAN-Based Anomaly
//! Detection", 2018) score it.
//!
//! - **Networks.** An encoder E (`inputs -> hidden -> latent`, leaky ReLU 0.2), a generator G
//!   (`latent -> hidden -> inputs`, ReLU, linear output) and a discriminator D on (x, z) pairs
//!   (`inputs + latent -> hidden -> features -> 1`, leaky ReLU 0.2, a logit).
//! - **Training** alternates two plans, each one Adam step (beta1 0.5, as GANs are trained):
//!   the discriminator's, on `BCE(D(x, E(x)), 1) + BCE(D(G(z), z), 0)` with E and G held;
//!   then the encoder's and generator's, on the same pairs with the labels swapped, D held.
//!   x is a minibatch drawn on the GPU and z ~ N(0, I) drawn there too; each plan updates
//!   only its own networks' words of the one arena; `epochs x rows / batch` rounds are
//!   recorded in turn, 64 rounds a submit, with no host wait.
//! - **Score:** `alpha |x - G(E(x))|^2 + (1 - alpha) |f(x, E(x)) - f(G(E(x)), E(x))|^2`,
//!   f the discriminator's last hidden layer (Zenati et al.'s feature-matching score, squared
//!   rather than their L1), alpha 0.9 by default.
//!
//! Labels are never read: every row given is taken to be normal.

use serde::{Deserialize, Serialize};

use super::core::{FitReport, ModelCore, check_inputs, epoch_rounds, run_rounds};
use super::detector::{Detector, detector_basics};
use super::file::Family;
use super::registry::{DataShape, Model, Settings};
use crate::data::Dataset;
use crate::error::{Result, invalid};
use crate::gpu::{Gpu, GpuBuffer};
use crate::nn::{ArenaBuilder, Mlp, Optimizer};
use crate::ops::Act;
use crate::ops::loss::RowError;
use crate::tape::{DataRows, Plan, Tape, Tensor};

/// A BiGAN's set-up.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BiganConfig {
    pub inputs: u32,
    /// The hidden width of every network.
    pub hidden: u32,
    pub latent: u32,
    /// The discriminator's feature layer (the score's second term compares it).
    pub features: u32,
    pub batch: u32,
    pub epochs: u32,
    /// Adam's rate for both players.
    pub lr: f32,
    /// The reconstruction's weight in the score.
    pub alpha: f32,
    pub seed: u64,
}

impl BiganConfig {
    /// Hidden 64, latent 8, features 32, batch 32, 200 epochs, Adam 1e-4 (PyOD's ALAD's
    /// batch, epochs and rates), alpha 0.9 (Zenati et al.).
    pub fn new(inputs: u32) -> BiganConfig {
        BiganConfig {
            inputs,
            hidden: 64,
            latent: 8,
            features: 32,
            batch: 32,
            epochs: 200,
            lr: 1e-4,
            alpha: 0.9,
            seed: 0,
        }
    }
}

/// BiGAN: see the module documentation.
pub struct Bigan {
    config: BiganConfig,
    core: ModelCore,
    enc: Mlp,
    gen_net: Mlp,
    disc: Mlp,
    /// The arena's words of E and G, then D's: each player's plan trains its own.
    players: [std::ops::Range<u32>; 2],
}

/// The discriminator's features and logit of a pair.
struct Judged {
    features: Tensor,
    logit: Tensor,
}

impl Bigan {
    pub fn new(gpu: &Gpu, config: BiganConfig) -> Result<Bigan> {
        let c = &config;
        let sizes_ok = c.inputs > 0 && c.hidden > 0 && c.latent > 0 && c.features > 0;
        if !sizes_ok || c.batch == 0 || c.epochs == 0 || !(c.lr.is_finite() && c.lr > 0.0) {
            return Err(invalid(
                "BiGAN",
                "needs positive widths, batch, epochs and learning rate",
            ));
        }
        if !(0.0..=1.0).contains(&c.alpha) {
            return Err(invalid(
                "BiGAN",
                format!("alpha must be in [0, 1], not {}", c.alpha),
            ));
        }
        let leaky = Act::LeakyRelu(0.2);
        let mut arena = ArenaBuilder::new(c.seed);
        let enc = Mlp::new(
            &mut arena,
            &[c.inputs, c.hidden, c.latent],
            &[leaky, Act::Identity],
        )?;
        let gen_net = Mlp::new(
            &mut arena,
            &[c.latent, c.hidden, c.inputs],
            &[Act::Relu, Act::Identity],
        )?;
        let split = words(arena.len())?;
        let disc = Mlp::new(
            &mut arena,
            &[c.inputs + c.latent, c.hidden, c.features, 1],
            &[leaky, leaky, Act::Identity],
        )?;
        let end = words(arena.len())?;
        let adam = Optimizer::Adam {
            lr: c.lr,
            beta1: 0.5,
            beta2: 0.999,
            eps: 1e-8,
        };
        let core = ModelCore::new(gpu, arena, adam, c.seed)?;
        Ok(Bigan {
            config,
            core,
            enc,
            gen_net,
            disc,
            players: [0..split, split..end],
        })
    }

    /// `rows` samples of the generator, G(z) for z ~ N(0, I) drawn on the GPU (`seed` picks
    /// the draw), read back row-major (`rows x inputs`).
    pub fn generate(&self, rows: u32, seed: u32) -> Result<Vec<f32>> {
        let gpu = self.core.gpu();
        let zero = Tensor::from_slice(
            gpu,
            &vec![0.0; (rows * self.config.latent) as usize],
            rows,
            self.config.latent,
            "zero latent",
        )?;
        let mut tape = self.core.tape();
        let z = tape.gauss_noise(&zero, 1.0, seed, 0)?;
        let x = self.gen_net.forward(&mut tape, self.core.arena(), &z)?;
        tape.finish()?.run(1)?;
        x.read(gpu)
    }

    /// D on the pairs (x, z): its feature layer and its logit.
    fn judge(&self, tape: &mut Tape, x: &Tensor, z: &Tensor, flows: bool) -> Result<Judged> {
        let pair = tape.concat_cols(&[(x, flows), (z, flows)])?;
        let mut outs = self.disc.forward_all(tape, self.core.arena(), &pair)?;
        let logit = outs.pop().expect("three layers");
        let features = outs.pop().expect("three layers");
        Ok(Judged { features, logit })
    }

    /// The minibatch's forward pass: the logits of the real pairs (x, E(x)) and of the
    /// generated pairs (G(z), z), x drawn from `x` and z ~ N(0, I) (noise stream `tag`).
    fn record_pairs(
        &self,
        tape: &mut Tape,
        x: &DataRows,
        inputs: &StepInputs,
        tag: u32,
    ) -> Result<(Tensor, Tensor)> {
        let arena = self.core.arena();
        let seed = self.core.rng_seed();
        let b = tape.sample_rows(x, inputs.batch, 0.0, seed)?;
        let z_enc = self.enc.forward(tape, arena, &b.clean)?;
        let z_prior = tape.gauss_noise(&inputs.latent0, 1.0, seed, tag)?;
        let x_gen = self.gen_net.forward(tape, arena, &z_prior)?;
        let real = self.judge(tape, &b.clean, &z_enc, true)?;
        let fake = self.judge(tape, &x_gen, &z_prior, true)?;
        Ok((real.logit, fake.logit))
    }

    /// The constants of a minibatch of `batch` rows.
    fn step_inputs(&self, batch: u32) -> Result<StepInputs> {
        let gpu = self.core.gpu();
        let column = |v: f32, label: &str| {
            Tensor::from_slice(gpu, &vec![v; batch as usize], batch, 1, label)
        };
        let latent = self.config.latent;
        Ok(StepInputs {
            batch,
            zeros: column(0.0, "fake targets")?,
            ones: column(1.0, "real targets")?,
            latent0: Tensor::from_slice(
                gpu,
                &vec![0.0; (batch * latent) as usize],
                batch,
                latent,
                "zero latent",
            )?,
        })
    }

    /// Refuses data BiGAN cannot train on.
    fn check_data(&self, data: &Dataset) -> Result<()> {
        self.check_width(data)?;
        if data.rows < 2 {
            return Err(invalid(
                "BiGAN",
                format!(
                    "{} has {} row(s); it needs at least 2",
                    data.name, data.rows
                ),
            ));
        }
        Ok(())
    }

    /// `rounds` rounds of training on `data`: each round one Adam step of each of `players`,
    /// in that order (each holding the other's networks), [`ROUNDS_PER_SUBMIT`] rounds a
    /// submit and no host wait. Returns the steps taken. [`Detector::fit`] is this with both players,
    /// the discriminator first.
    pub fn train(&mut self, data: &Dataset, players: &[Player], rounds: u32) -> Result<u64> {
        self.check_data(data)?;
        let x = data.upload(self.core.gpu())?;
        let inputs = self.step_inputs(self.config.batch.min(x.rows()))?;
        let plans = players
            .iter()
            .map(|&player| {
                let disc = player == Player::Discriminator;
                let words = self.players[usize::from(disc)].clone();
                self.core.train_plan_range(words, self.config.lr, |tape| {
                    let (real, fake) = self.record_pairs(tape, &x, &inputs, 1 + u32::from(disc))?;
                    // The discriminator calls real pairs real; the others want the reverse.
                    let (t_real, t_fake) = match disc {
                        true => (&inputs.ones, &inputs.zeros),
                        false => (&inputs.zeros, &inputs.ones),
                    };
                    Ok(vec![
                        tape.bce_with_logits(&real, t_real, None)?,
                        tape.bce_with_logits(&fake, t_fake, None)?,
                    ])
                })
            })
            .collect::<Result<Vec<Plan>>>()?;
        run_rounds(self.core.gpu(), &plans, rounds)?;
        Ok(u64::from(rounds) * plans.len() as u64)
    }

    /// The two players' objectives on one draw of up to 4096 rows of `data` and as many
    /// latent draws: (the discriminator's `BCE(real, 1) + BCE(generated, 0)`, the encoder's
    /// and generator's `BCE(real, 0) + BCE(generated, 1)`), each the sum of two means.
    pub fn objectives(&self, data: &Dataset) -> Result<(f32, f32)> {
        self.check_data(data)?;
        let x = data.upload(self.core.gpu())?;
        let inputs = self.step_inputs(x.rows().min(4096))?;
        let mut tape = self.core.tape();
        let (real, fake) = self.record_pairs(&mut tape, &x, &inputs, 3)?;
        let terms = [
            tape.bce_with_logits(&real, &inputs.ones, None)?,
            tape.bce_with_logits(&fake, &inputs.zeros, None)?,
            tape.bce_with_logits(&real, &inputs.zeros, None)?,
            tape.bce_with_logits(&fake, &inputs.ones, None)?,
        ];
        tape.finish()?.run(1)?;
        let v = terms
            .iter()
            .map(|t| Ok(t.read(self.core.gpu())?[0]))
            .collect::<Result<Vec<f32>>>()?;
        Ok((v[0] + v[1], v[2] + v[3]))
    }
}

/// The two sides of the game.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Player {
    /// D, on the pairs.
    Discriminator,
    /// E and G together.
    EncoderGenerator,
}

/// A minibatch's constants: its size, the BCE targets and the zero latent the prior's draws
/// are added to.
struct StepInputs {
    batch: u32,
    zeros: Tensor,
    ones: Tensor,
    latent0: Tensor,
}

/// An arena size as words (the arena refuses more than u32 at upload; this only converts).
fn words(n: u64) -> Result<u32> {
    u32::try_from(n).map_err(|_| invalid("BiGAN", "the networks are too large for one arena"))
}

impl Detector for Bigan {
    fn name(&self) -> &str {
        "bigan"
    }

    detector_basics!(Family::Detector);

    fn inputs(&self) -> u32 {
        self.config.inputs
    }

    /// `epochs x rows / batch` rounds of the discriminator's step then the encoder's and
    /// generator's, every row taken to be normal.
    fn fit(&mut self, data: &Dataset) -> Result<FitReport> {
        self.check_data(data)?;
        let c = &self.config;
        let rounds = epoch_rounds(data.rows, c.batch, c.epochs);
        let epochs = c.epochs;
        let steps = self.train(
            data,
            &[Player::Discriminator, Player::EncoderGenerator],
            rounds,
        )?;
        self.core.fitted_on(data);
        Ok(FitReport {
            epochs,
            steps,
            ..FitReport::default()
        })
    }

    fn score_plan(&self, x: &DataRows, _classes: Option<&GpuBuffer>) -> Result<(Plan, Tensor)> {
        check_inputs("BiGAN", x, self.config.inputs)?;
        let gpu = self.core.gpu();
        let arena = self.core.arena();
        let alpha = self.config.alpha;
        let out = Tensor::new(gpu, x.rows(), 1, "scores")?;
        let mut tape = self.core.tape();
        let widest = self
            .config
            .hidden
            .max(self.config.inputs + self.config.latent);
        self.core
            .record_rows(&mut tape, x, widest, &[&out], |tape, _, chunk, dst| {
                let z = self.enc.forward(tape, arena, chunk)?;
                let rec = self.gen_net.forward(tape, arena, &z)?;
                let real = self.judge(tape, chunk, &z, false)?;
                let fake = self.judge(tape, &rec, &z, false)?;
                let e_rec = tape.row_error(&rec, chunk, RowError::SquaredL2)?;
                let e_fm = tape.row_error(&fake.features, &real.features, RowError::SquaredL2)?;
                tape.scaled_into(&e_rec, &dst[0], alpha, false)?;
                tape.scaled_into(&e_fm, &dst[0], 1.0 - alpha, true)
            })?;
        Ok((tape.finish()?, out))
    }
}

impl Model for Bigan {
    type Config = BiganConfig;

    /// [`BiganConfig::new`] with the settings given (the hidden widths' first as the hidden
    /// width and last as the latent size, batch, rate, epochs, seed).
    fn configure(_name: &str, shape: &DataShape, s: &Settings) -> Result<BiganConfig> {
        let d = BiganConfig::new(shape.inputs);
        let hidden = s.hidden.as_ref();
        Ok(BiganConfig {
            hidden: hidden.and_then(|h| h.first().copied()).unwrap_or(d.hidden),
            latent: hidden
                .filter(|h| h.len() > 1)
                .and_then(|h| h.last().copied())
                .unwrap_or(d.latent),
            batch: s.batch.unwrap_or(d.batch),
            epochs: s.max_epochs.unwrap_or(d.epochs),
            lr: s.lr.unwrap_or(d.lr),
            seed: s.seed,
            ..d
        })
    }

    fn build(gpu: &Gpu, config: BiganConfig) -> Result<Bigan> {
        Bigan::new(gpu, config)
    }
}
