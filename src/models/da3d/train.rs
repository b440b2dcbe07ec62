//! DA3D's training plans: each one Adam step of one network (the others held), recorded once
//! and replayed in turn, [`ROUNDS_PER_SUBMIT`](crate::models::ROUNDS_PER_SUBMIT) rounds a submit, with no host wait.
//!
//! Phase 1, the target: the reconstruction step, then (adversarial variants) D's and the
//! encoder's. Phase 2: the alarm network's step, then (`da3d`) the generator's and the
//! critic's.

use super::{Da3d, Da3dVariant};
use crate::data::Dataset;
use crate::error::Result;
use crate::models::core::{epoch_rounds, run_rounds};
use crate::nn::Dropout;
use crate::ops::Act;
use crate::tape::{DataRows, Plan, Tape, Tensor};

/// The RNG tags of the steps' draws (the minibatch's rows use `TAG_BATCH`).
const TAG_PRIOR: u32 = 10;
const TAG_TRIVIAL: u32 = 11;
const TAG_SIMPLE: u32 = 12;
const TAG_GEN: u32 = 13;
const TAG_WIDE: u32 = 14;
/// The first dropout tags of the passes through a network within one step (each network has
/// at most 8 hidden layers' worth of tags before the next pass's), and of the generator's.
const TAG_DROP_A: u32 = 20;
const TAG_DROP_B: u32 = 28;
const TAG_DROP_C: u32 = 36;
const TAG_DROP_GEN: u32 = 44;

/// A minibatch's constants: BCE targets, and the zeros (or halves) the draws are added to.
struct StepInputs {
    batch: u32,
    zeros: Tensor,
    ones: Tensor,
    code0: Tensor,
    gen0: Tensor,
    half: Tensor,
}

/// One training step: the network it trains (the others held).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Da3dStep {
    /// The encoder and decoder, on binary cross-entropy of the reconstruction.
    Reconstruct,
    /// The latent discriminator D.
    Discriminate,
    /// The encoder alone, on fooling D.
    Regularise,
    /// The alarm network.
    Alarm,
    /// The generator.
    Generate,
    /// The critic.
    Criticise,
}

impl Da3d {
    /// The alarm network's logit of rows `x`: A(activations(E(x))), with `drop` in A's hidden
    /// layers (training passes only).
    pub(super) fn alarm_logit(
        &self,
        tape: &mut Tape,
        x: &Tensor,
        drop: Option<Dropout>,
    ) -> Result<Tensor> {
        let arena = self.core.arena();
        let code = self.body.encode(tape, arena, x)?;
        self.alarm_out(tape, &code, Act::Identity, drop)
    }

    /// The alarm network's last layer on the decoder's activations of `code`, with `act` (the
    /// identity for its logit, the sigmoid for its probability).
    fn alarm_out(
        &self,
        tape: &mut Tape,
        code: &Tensor,
        act: Act,
        drop: Option<Dropout>,
    ) -> Result<Tensor> {
        let arena = self.core.arena();
        let acts = self.body.activations_of(tape, arena, code)?;
        let n = self.alarm.acts.len();
        let hidden = self
            .alarm
            .forward_first_with(tape, arena, &acts, n - 1, drop)?;
        let last = self
            .alarm
            .layers(arena)?
            .pop()
            .expect("the alarm network has layers");
        tape.dense(hidden.last().unwrap_or(&acts), &last, act)
    }

    /// Dropout at the configured rate for a network's pass, its masks drawn with tags
    /// `tag ..` (None at rate 0).
    fn drop(&self, tag: u32) -> Option<Dropout> {
        (self.config.dropout > 0.0).then(|| Dropout {
            rate: self.config.dropout,
            seed: self.core.rng_seed(),
            tag,
        })
    }

    fn step_inputs(&self, batch: u32) -> Result<StepInputs> {
        let gpu = self.core.gpu();
        let filled = |v: f32, cols: u32, label: &str| {
            Tensor::from_slice(gpu, &vec![v; (batch * cols) as usize], batch, cols, label)
        };
        let c = &self.config;
        Ok(StepInputs {
            batch,
            zeros: filled(0.0, 1, "normal targets")?,
            ones: filled(1.0, 1, "anomaly targets")?,
            code0: filled(0.0, c.code, "zero code")?,
            gen0: filled(0.0, c.gen_in, "zero generator input")?,
            half: filled(0.5, c.inputs, "trivial anomalies' mean")?,
        })
    }

    /// The loss terms of `step` on a minibatch of `x`.
    fn record(
        &self,
        tape: &mut Tape,
        step: Da3dStep,
        x: &DataRows,
        k: &StepInputs,
    ) -> Result<Vec<Tensor>> {
        let arena = self.core.arena();
        let seed = self.core.rng_seed();
        let c = &self.config;
        // The minibatch, drawn only by the steps that read it (the generator's does not).
        let batch = |tape: &mut Tape| -> Result<Tensor> {
            Ok(tape.sample_rows(x, k.batch, 0.0, seed)?.clean)
        };
        // Each pass of a network through dropout draws its masks with its own tags.
        let disc = |tape: &mut Tape, h: &Tensor, tag: u32| {
            let d = self.disc.as_ref().expect("an adversarial variant has D");
            d.forward_with(tape, arena, h, self.drop(tag))
        };
        let generated = |tape: &mut Tape| {
            let g = self.gen_net.as_ref().expect("da3d has G");
            let z = tape.gauss_noise(&k.gen0, 1.0, seed, TAG_GEN)?;
            g.forward_with(tape, arena, &z, self.drop(TAG_DROP_GEN))
        };
        let critic = |tape: &mut Tape, h: &Tensor, tag: u32| {
            let cr = self.critic.as_ref().expect("da3d has C");
            cr.forward_with(tape, arena, h, self.drop(tag))
        };
        match step {
            Da3dStep::Reconstruct => {
                let b = batch(tape)?;
                let rows = b.len();
                let code = self.body.encode(tape, arena, &b)?;
                let logits = self.body.decode(tape, arena, &code)?;
                let column = tape.reshape(&logits, rows, 1)?;
                let target = Tensor::view(b.buffer(), b.offset(), rows, 1)?;
                Ok(vec![tape.bce_with_logits(&column, &target, None)?])
            }
            Da3dStep::Discriminate => {
                let b = batch(tape)?;
                let code = self.body.encode(tape, arena, &b)?;
                let prior = tape.gauss_noise(&k.code0, 1.0, seed, TAG_PRIOR)?;
                let real = disc(tape, &prior, TAG_DROP_A)?;
                let fake = disc(tape, &code, TAG_DROP_B)?;
                Ok(vec![
                    tape.weighted_mean(&real, -1.0)?,
                    tape.weighted_mean(&fake, 1.0)?,
                ])
            }
            Da3dStep::Regularise => {
                let b = batch(tape)?;
                let code = self.body.encode(tape, arena, &b)?;
                let fake = disc(tape, &code, TAG_DROP_A)?;
                Ok(vec![tape.weighted_mean(&fake, -1.0)?])
            }
            Da3dStep::Alarm => {
                let b = batch(tape)?;
                let normal = self.alarm_logit(tape, &b, self.drop(TAG_DROP_A))?;
                let mut terms = vec![tape.bce_with_logits(&normal, &k.zeros, None)?];
                // Every variant learns the trivial anomalies; `da3d` also the generated ones
                // and `da3d-simple` the wide Gaussian codes, both decoded (the reference's
                // DA3D and TrivialSimpleDA3D, the latter its Table 2's simple column).
                let trivial = tape.gauss_noise(&k.half, 1.0, seed, TAG_TRIVIAL)?;
                let mut anomalies =
                    vec![self.alarm_logit(tape, &trivial, self.drop(TAG_DROP_B))?];
                let decoded = match c.variant {
                    Da3dVariant::Simple => {
                        Some(tape.gauss_noise(&k.code0, c.sample_std, seed, TAG_SIMPLE)?)
                    }
                    Da3dVariant::Da3d => Some(generated(tape)?),
                    Da3dVariant::A3 => None,
                };
                if let Some(code) = decoded {
                    let d = self.drop(TAG_DROP_C);
                    anomalies.push(self.alarm_out(tape, &code, Act::Identity, d)?);
                }
                for logit in &anomalies {
                    terms.push(tape.bce_with_logits(logit, &k.ones, None)?);
                }
                Ok(terms)
            }
            Da3dStep::Generate => {
                // The reference's `mean A(G(z)) + mean C(G(z))`, A's probability.
                let g = generated(tape)?;
                let alarm = self.alarm_out(tape, &g, Act::Sigmoid, self.drop(TAG_DROP_A))?;
                let judged = critic(tape, &g, TAG_DROP_B)?;
                Ok(vec![
                    tape.weighted_mean(&alarm, 1.0)?,
                    tape.weighted_mean(&judged, 1.0)?,
                ])
            }
            Da3dStep::Criticise => {
                let b = batch(tape)?;
                let wide = tape.gauss_noise(&k.code0, c.sample_std, seed, TAG_WIDE)?;
                let code = self.body.encode(tape, arena, &b)?;
                let g = generated(tape)?;
                let cw = critic(tape, &wide, TAG_DROP_A)?;
                let cn = critic(tape, &code, TAG_DROP_B)?;
                let cg = critic(tape, &g, TAG_DROP_C)?;
                Ok(vec![
                    tape.weighted_mean(&cw, 1.0)?,
                    tape.weighted_mean(&cn, -2.0)?,
                    tape.weighted_mean(&cg, -2.0)?,
                ])
            }
        }
    }

    /// The arena words `step` trains.
    pub fn step_words(&self, step: Da3dStep) -> std::ops::Range<u32> {
        let w = &self.words;
        match step {
            Da3dStep::Reconstruct => w.body.clone(),
            Da3dStep::Discriminate => w.disc.clone(),
            Da3dStep::Regularise => w.enc.clone(),
            Da3dStep::Alarm => w.alarm.clone(),
            Da3dStep::Generate => w.gen_net.clone(),
            Da3dStep::Criticise => w.critic.clone(),
        }
    }

    /// The steps of each phase for this variant: the target's, then the alarm network's.
    pub fn phases(&self) -> [&'static [Da3dStep]; 2] {
        use Da3dStep::*;
        let target: &[Da3dStep] = if self.config.variant.adversarial() {
            &[Reconstruct, Discriminate, Regularise]
        } else {
            &[Reconstruct]
        };
        let alarm: &[Da3dStep] = if self.config.variant == Da3dVariant::Da3d {
            &[Alarm, Generate, Criticise]
        } else {
            &[Alarm]
        };
        [target, alarm]
    }

    /// `rounds` rounds on `data`, each one Adam step of each of `steps` in turn,
    /// [`ROUNDS_PER_SUBMIT`](crate::models::ROUNDS_PER_SUBMIT) rounds a submit with no host wait; returns the steps taken. A step
    /// this variant has no network for is refused.
    pub fn train_rounds(&self, data: &Dataset, steps: &[Da3dStep], rounds: u32) -> Result<u64> {
        self.check_data(data)?;
        let x = data.upload(self.core.gpu())?;
        let k = self.step_inputs(self.config.batch.min(x.rows()))?;
        self.rounds_on(&x, &k, steps, rounds)
    }

    /// [`Da3d::train_rounds`] on rows already uploaded, with their minibatch constants.
    fn rounds_on(
        &self,
        x: &DataRows,
        k: &StepInputs,
        steps: &[Da3dStep],
        rounds: u32,
    ) -> Result<u64> {
        let all = self.phases().concat();
        if let Some(s) = steps.iter().find(|s| !all.contains(s)) {
            return Err(crate::error::invalid(
                "DA3D step",
                format!("{} has no {s:?} step", self.config.variant.name()),
            ));
        }
        let plans = steps
            .iter()
            .map(|&s| {
                self.core
                    .train_plan_range(self.step_words(s), self.config.lr, |tape| {
                        self.record(tape, s, x, k)
                    })
            })
            .collect::<Result<Vec<Plan>>>()?;
        run_rounds(self.core.gpu(), &plans, rounds)?;
        Ok(u64::from(rounds) * plans.len() as u64)
    }

    /// Both phases on `data` (checked by the caller), each for its epochs, the rows uploaded
    /// once; returns the steps taken.
    pub(super) fn train(&mut self, data: &Dataset) -> Result<u64> {
        let x = data.upload(self.core.gpu())?;
        let c = &self.config;
        let k = self.step_inputs(c.batch.min(x.rows()))?;
        let [target, alarm] = self.phases();
        let rounds = |epochs| epoch_rounds(data.rows, c.batch, epochs);
        let mut steps = self.rounds_on(&x, &k, target, rounds(c.aae_epochs))?;
        steps += self.rounds_on(&x, &k, alarm, rounds(c.alarm_epochs))?;
        Ok(steps)
    }
}
