//! Autoencoder and denoising autoencoder with independent encoder and decoder weights. Training
//! is one recorded plan (minibatch and noise drawn on the GPU, forward, loss, backward,
//! optimizer, step advance) replayed N times per submit; scoring returns each row's squared
//! reconstruction error (the anomaly score) and its latent vector.

use serde::{Deserialize, Serialize};

use super::{ArenaBuilder, Mlp, Optimizer, OptimizerState, ParamArena};
use crate::error::{Result, invalid};
use crate::gpu::Gpu;
use crate::ops::Act;
use crate::ops::loss::RowError;
use crate::ops::topk::TopK;
use crate::tape::{Plan, StepState, Tape, Tensor};

/// The 32-bit seed the shaders' RNG streams use for a model seed (both halves folded in).
pub fn shader_seed(seed: u64) -> u32 {
    (seed ^ (seed >> 32)) as u32
}

/// An autoencoder's shape and training set-up. The paper's DAE: hidden `[256, 64, 8]`, relu,
/// sigmoid output, noise 0.1, RMSprop 0.01, batch 256.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AutoencoderConfig {
    pub inputs: u32,
    /// Encoder widths, the last one the latent size; the decoder mirrors them.
    pub hidden: Vec<u32>,
    pub act: Act,
    pub output_act: Act,
    /// Std of the Gaussian input noise; 0 trains a plain autoencoder.
    pub noise_std: f32,
    pub optimizer: Optimizer,
    pub batch: u32,
    pub seed: u64,
}

impl AutoencoderConfig {
    /// Reserves an encoder (inputs → hidden, `act`, latent layer linear) and an independent
    /// decoder (the mirror, `output_act` last) in `arena`.
    pub fn encoder_decoder(&self, arena: &mut ArenaBuilder) -> Result<(Mlp, Mlp)> {
        if self.hidden.is_empty() {
            return Err(invalid(
                "autoencoder",
                "needs at least one hidden (latent) size",
            ));
        }
        let mut sizes = vec![self.inputs];
        sizes.extend(&self.hidden);
        let depth = self.hidden.len();
        let mut enc_acts = vec![self.act; depth];
        enc_acts[depth - 1] = Act::Identity;
        let encoder = Mlp::new(arena, &sizes, &enc_acts)?;
        sizes.reverse();
        let mut dec_acts = vec![self.act; depth];
        dec_acts[depth - 1] = self.output_act;
        let decoder = Mlp::new(arena, &sizes, &dec_acts)?;
        Ok((encoder, decoder))
    }

    pub fn dae(inputs: u32, hidden: &[u32]) -> Self {
        AutoencoderConfig {
            inputs,
            hidden: hidden.to_vec(),
            act: Act::Relu,
            output_act: Act::Sigmoid,
            noise_std: 0.1,
            optimizer: Optimizer::rmsprop(0.01),
            batch: 256,
            seed: 0,
        }
    }
}

/// A (denoising) autoencoder on the GPU.
pub struct Autoencoder {
    gpu: Gpu,
    pub config: AutoencoderConfig,
    pub arena: ParamArena,
    pub encoder: Mlp,
    pub decoder: Mlp,
    opt: OptimizerState,
    state: StepState,
    train: Option<(crate::tape::TensorKey, Plan)>,
}

impl Autoencoder {
    pub fn new(gpu: &Gpu, config: AutoencoderConfig) -> Result<Autoencoder> {
        if config.hidden.is_empty() {
            return Err(invalid(
                "autoencoder",
                "needs at least one hidden (latent) size",
            ));
        }
        if config.batch == 0 {
            return Err(invalid("batch size", "0"));
        }
        let mut b = ArenaBuilder::new(config.seed);
        let (encoder, decoder) = config.encoder_decoder(&mut b)?;
        let arena = b.upload(gpu)?;
        let opt = OptimizerState::new(gpu, config.optimizer, &arena)?;
        let state = StepState::new(gpu)?;
        Ok(Autoencoder {
            gpu: gpu.clone(),
            config,
            arena,
            encoder,
            decoder,
            opt,
            state,
            train: None,
        })
    }

    pub fn gpu(&self) -> &Gpu {
        &self.gpu
    }

    /// The GPU step counter (also the RNG stream).
    pub fn step_state(&self) -> &StepState {
        &self.state
    }

    /// The 32-bit seed the shaders' RNG streams use (minibatch rows, noise).
    pub fn rng_seed(&self) -> u32 {
        shader_seed(self.config.seed)
    }

    fn check_data(&self, data: &Tensor) -> Result<()> {
        if data.cols() != self.config.inputs {
            return Err(crate::error::shape(
                "autoencoder",
                format!(
                    "data has {} columns, the model takes {}",
                    data.cols(),
                    self.config.inputs
                ),
            ));
        }
        Ok(())
    }

    /// Records one training step on `data` into a plan.
    pub fn train_plan(&self, data: &Tensor) -> Result<Plan> {
        self.check_data(data)?;
        let mut tape = Tape::new(&self.gpu, &self.state);
        self.arena.register(&mut tape)?;
        let batch = tape.sample_rows(
            data,
            self.config.batch,
            self.config.noise_std,
            self.rng_seed(),
        )?;
        let input = batch.noisy.as_ref().unwrap_or(&batch.clean).clone();
        let latent = self.encoder.forward(&mut tape, &self.arena, &input)?;
        let recon = self.decoder.forward(&mut tape, &self.arena, &latent)?;
        let rows = batch.clean.rows();
        let (_, loss) = tape.row_error_mean(&recon, &batch.clean, RowError::SquaredL2, rows)?;
        tape.backward(&loss)?;
        self.opt.record(&mut tape, &self.arena)?;
        tape.advance()?;
        tape.finish()
    }

    /// Trains `steps` steps on `data`: one submit, no host wait. The plan is recorded on the
    /// first call for a dataset and replayed afterwards.
    pub fn fit(&mut self, data: &Tensor, steps: u32) -> Result<()> {
        if self.train.as_ref().is_none_or(|(k, _)| *k != data.key()) {
            self.train = Some((data.key(), self.train_plan(data)?));
        }
        match &self.train {
            Some((_, plan)) => plan.run(steps),
            None => Ok(()),
        }
    }

    /// Records scoring of every row of `data` into `tape`, in chunks: the per-row squared
    /// reconstruction errors (`rows x 1`) and the latent vectors (`rows x latent`).
    fn record_scores(&self, tape: &mut Tape, data: &Tensor) -> Result<(Tensor, Tensor)> {
        self.check_data(data)?;
        let latent_dim = self.encoder.outputs();
        let scores = Tensor::new(&self.gpu, data.rows(), 1, "scores")?;
        let latents = Tensor::new(&self.gpu, data.rows(), latent_dim, "latents")?;
        let chunk = super::score_chunk(&self.gpu, &[&self.encoder, &self.decoder]);
        for (r0, x) in data.row_chunks(chunk)? {
            let n = x.rows();
            let l = self.encoder.forward(tape, &self.arena, &x)?;
            let recon = self.decoder.forward(tape, &self.arena, &l)?;
            let out = Tensor::view(scores.buffer(), r0, n, 1)?;
            tape.row_error_into(&recon, &x, RowError::SquaredL2, &out)?;
            tape.copy(
                &l,
                &Tensor::view(latents.buffer(), r0 * latent_dim, n, latent_dim)?,
            )?;
        }
        Ok((scores, latents))
    }

    /// Records scoring of every row of `data`: returns the plan, the per-row squared
    /// reconstruction errors (`rows x 1`) and the latent vectors (`rows x latent`) it fills.
    pub fn score_plan(&self, data: &Tensor) -> Result<(Plan, Tensor, Tensor)> {
        let mut tape = Tape::new(&self.gpu, &self.state);
        let (scores, latents) = self.record_scores(&mut tape, data)?;
        Ok((tape.finish()?, scores, latents))
    }

    /// Records scoring of every row and the selection of the k highest-scoring rows whose
    /// word in `exclude` is 0: one plan, one submit, k pairs to read back.
    pub fn query_plan(
        &self,
        data: &Tensor,
        exclude: &crate::gpu::GpuBuffer,
        k: u32,
    ) -> Result<(Plan, TopK)> {
        let mut tape = Tape::new(&self.gpu, &self.state);
        let (scores, _) = self.record_scores(&mut tape, data)?;
        let top = tape.top_k(&scores, Some((exclude, 0)), k)?;
        Ok((tape.finish()?, top))
    }

    /// Each row's squared reconstruction error: its anomaly score (higher = more anomalous).
    pub fn scores(&self, data: &Tensor) -> Result<Vec<f32>> {
        let (plan, scores, _) = self.score_plan(data)?;
        plan.run(1)?;
        scores.read(&self.gpu)
    }

    /// Each row's latent vector, row-major.
    pub fn latent(&self, data: &Tensor) -> Result<Vec<f32>> {
        let (plan, _, latents) = self.score_plan(data)?;
        plan.run(1)?;
        latents.read(&self.gpu)
    }
}
