//! DAE_uai: a denoising autoencoder whose latent code l(x) and reconstruction error s(x) feed
//! a logistic head, p(anomaly) = sigmoid(w . [l; s] + b) (Pimentel et al., "Deep Active
//! Learning for Anomaly Detection"). The head's gradient reaches the encoder through l but not
//! through s: s enters the head detached.
//!
//! Every training step is one replayed plan: a minibatch for the DAE loss and, drawn on the GPU
//! from the labels given so far, `labelled_batch` labelled rows for the head's masked BCE. With
//! a handful of labels every step still sees labelled rows (they are drawn with replacement),
//! so a few labels train the head from the first round. Before any label exists the BCE mask
//! is zero and the step is exactly a DAE step.
//!
//! The head starts at w = (0, ..., 0, 1), b = 0: its logit is s(x), so until labels arrive the
//! ranking is the plain DAE's.

use serde::{Deserialize, Serialize};

use super::LabelSet;
use crate::error::{Result, invalid, shape};
use crate::gpu::Gpu;
use crate::nn::{ArenaBuilder, AutoencoderConfig, Mlp, OptimizerState, ParamArena, Slot};
use crate::ops::Act;
use crate::ops::dense::DenseParams;
use crate::ops::loss::RowError;
use crate::ops::topk::TopK;
use crate::tape::{Plan, StepState, Tape, Tensor};

const SCORE_CHUNK: u32 = 8192;

/// DAE_uai's set-up: the autoencoder's, and how many labelled rows each step draws.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UaiConfig {
    pub ae: AutoencoderConfig,
    pub labelled_batch: u32,
}

impl UaiConfig {
    pub fn new(ae: AutoencoderConfig) -> UaiConfig {
        UaiConfig {
            labelled_batch: ae.batch.min(64),
            ae,
        }
    }
}

/// The DAE_uai model on the GPU.
pub struct DaeUai {
    gpu: Gpu,
    pub config: UaiConfig,
    pub arena: ParamArena,
    pub encoder: Mlp,
    pub decoder: Mlp,
    pub head: Slot,
    opt: OptimizerState,
    state: StepState,
}

impl DaeUai {
    pub fn new(gpu: &Gpu, config: UaiConfig) -> Result<DaeUai> {
        let c = &config.ae;
        if c.hidden.is_empty() || c.batch == 0 || config.labelled_batch == 0 {
            return Err(invalid(
                "DAE_uai",
                "needs hidden sizes, batch > 0 and labelled batch > 0",
            ));
        }
        let mut b = ArenaBuilder::new(c.seed);
        let mut enc_sizes = vec![c.inputs];
        enc_sizes.extend(&c.hidden);
        let mut enc_acts = vec![c.act; c.hidden.len()];
        enc_acts[c.hidden.len() - 1] = Act::Identity;
        let encoder = Mlp::new(&mut b, &enc_sizes, &enc_acts)?;
        let dec_sizes: Vec<u32> = enc_sizes.iter().rev().copied().collect();
        let mut dec_acts = vec![c.act; c.hidden.len()];
        dec_acts[c.hidden.len() - 1] = c.output_act;
        let decoder = Mlp::new(&mut b, &dec_sizes, &dec_acts)?;
        let latent = encoder.outputs();
        let mut head_init = vec![0f32; latent as usize + 2];
        head_init[latent as usize] = 1.0;
        let head = b.fixed(latent + 2, 1, &head_init)?;
        let arena = b.upload(gpu)?;
        let opt = OptimizerState::new(gpu, c.optimizer, &arena)?;
        Ok(DaeUai {
            gpu: gpu.clone(),
            config,
            arena,
            encoder,
            decoder,
            head,
            opt,
            state: StepState::new(gpu)?,
        })
    }

    pub fn gpu(&self) -> &Gpu {
        &self.gpu
    }

    pub fn step_state(&self) -> &StepState {
        &self.state
    }

    /// The 32-bit seed of the shaders' RNG streams.
    pub fn rng_seed(&self) -> u32 {
        (self.config.ae.seed ^ (self.config.ae.seed >> 32)) as u32
    }

    fn check(&self, data: &Tensor, labels: &LabelSet) -> Result<()> {
        if data.cols() != self.config.ae.inputs {
            return Err(shape(
                "DAE_uai",
                format!(
                    "data has {} columns, the model takes {}",
                    data.cols(),
                    self.config.ae.inputs
                ),
            ));
        }
        if labels.capacity() != data.rows() {
            return Err(shape(
                "DAE_uai",
                format!(
                    "the label set is for {} rows, the data has {}",
                    labels.capacity(),
                    data.rows()
                ),
            ));
        }
        Ok(())
    }

    /// logit = head([l; detach(s)]) for rows x, with l = enc(input) and s = ||x - dec(l)||^2.
    fn head_logit(
        &self,
        tape: &mut Tape,
        input: &Tensor,
        clean: &Tensor,
    ) -> Result<(Tensor, Tensor, Tensor)> {
        let l = self.encoder.forward(tape, &self.arena, input)?;
        let recon = self.decoder.forward(tape, &self.arena, &l)?;
        let s = tape.row_error(&recon, clean, RowError::SquaredL2)?;
        let h = tape.concat_cols(&[(&l, true), (&s, false)])?;
        let logit = tape.dense(
            &h,
            &DenseParams::new(self.arena.param(self.head)?)?,
            Act::Identity,
        )?;
        Ok((logit, s, l))
    }

    /// Records one training step: the DAE loss on a random minibatch plus the head's BCE on
    /// `labelled_batch` rows drawn from `labels`.
    pub fn train_plan(&self, data: &Tensor, labels: &LabelSet) -> Result<Plan> {
        self.check(data, labels)?;
        let c = &self.config.ae;
        let seed = self.rng_seed();
        let mut tape = Tape::new(&self.gpu, &self.state);
        self.arena.register(&mut tape)?;
        let batch = tape.sample_rows(data, c.batch, c.noise_std, seed)?;
        let input = batch.noisy.as_ref().unwrap_or(&batch.clean).clone();
        let latent = self.encoder.forward(&mut tape, &self.arena, &input)?;
        let recon = self.decoder.forward(&mut tape, &self.arena, &latent)?;
        let err = tape.row_error(&recon, &batch.clean, RowError::SquaredL2)?;
        let base = tape.mean(&err)?;
        let lb = tape.sample_labelled(
            data,
            &labels.lab,
            labels.capacity(),
            self.config.labelled_batch,
            c.noise_std,
            seed,
        )?;
        let l_input = lb.noisy.as_ref().unwrap_or(&lb.clean).clone();
        let (logit, _, _) = self.head_logit(&mut tape, &l_input, &lb.clean)?;
        let bce = tape.bce_with_logits(&logit, &lb.y, Some(&lb.mask))?;
        tape.backward_all(&[&base, &bce])?;
        self.opt.record(&mut tape, &self.arena)?;
        tape.advance()?;
        tape.finish()
    }

    /// Records scoring of every row (the head's logit; higher = more anomalous), then the
    /// selection of the k best rows not yet labelled: one plan, one submit, k pairs to read.
    pub fn query_plan(
        &self,
        data: &Tensor,
        labels: &LabelSet,
        k: u32,
    ) -> Result<(Plan, Tensor, TopK)> {
        self.check(data, labels)?;
        let scores = Tensor::new(&self.gpu, data.rows(), 1, "uai scores")?;
        let mut tape = Tape::new(&self.gpu, &self.state);
        let mut r0 = 0;
        while r0 < data.rows() {
            let n = SCORE_CHUNK.min(data.rows() - r0);
            let x = Tensor::view(
                data.buffer(),
                data.offset() + r0 * data.cols(),
                n,
                data.cols(),
            )?;
            let (logit, _, _) = self.head_logit(&mut tape, &x, &x)?;
            tape.copy(&logit, &Tensor::view(scores.buffer(), r0, n, 1)?)?;
            r0 += n;
        }
        let top = tape.top_k(&scores, Some((&labels.flags, 0)), k)?;
        Ok((tape.finish()?, scores, top))
    }
}
