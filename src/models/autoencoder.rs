//! Autoencoder and denoising autoencoder with independent encoder and decoder weights, on the
//! model core: training is one recorded plan (minibatch and noise drawn on the GPU, forward,
//! loss, backward, optimizer, step advance) replayed N times per submit; scoring returns each
//! row's squared reconstruction error (the anomaly score) and its latent vector.

use serde::{Deserialize, Serialize};

use super::core::{ModelCore, check_inputs};
use crate::error::{Result, invalid};
use crate::gpu::{Gpu, GpuBuffer};
use crate::nn::{ArenaBuilder, EncoderDecoder, Optimizer};
use crate::ops::Act;
use crate::ops::loss::RowError;
use crate::ops::topk::TopK;
use crate::tape::{DataRows, Plan, Tape, Tensor, TensorKey};

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
    /// Reserves the encoder and decoder in `arena` (see [`EncoderDecoder`]).
    pub fn encoder_decoder(&self, arena: &mut ArenaBuilder) -> Result<EncoderDecoder> {
        EncoderDecoder::new(arena, self.inputs, &self.hidden, self.act, self.output_act)
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
    core: ModelCore,
    pub config: AutoencoderConfig,
    pub net: EncoderDecoder,
    train: Option<(TensorKey, Plan)>,
}

impl Autoencoder {
    pub fn new(gpu: &Gpu, config: AutoencoderConfig) -> Result<Autoencoder> {
        if config.batch == 0 {
            return Err(invalid("batch size", "0"));
        }
        let mut b = ArenaBuilder::new(config.seed);
        let net = config.encoder_decoder(&mut b)?;
        let core = ModelCore::new(gpu, b, config.optimizer, config.seed)?;
        Ok(Autoencoder {
            core,
            config,
            net,
            train: None,
        })
    }

    /// The model core: parameters, optimizer and step state, the device.
    pub fn core(&self) -> &ModelCore {
        &self.core
    }

    /// Records one training step on `data` into a plan.
    pub fn train_plan(&self, data: &DataRows) -> Result<Plan> {
        check_inputs("autoencoder", data, self.config.inputs)?;
        let c = &self.config;
        self.core.train_plan(|tape| {
            let batch = tape.sample_rows(data, c.batch, c.noise_std, self.core.rng_seed())?;
            let input = batch.noisy.as_ref().unwrap_or(&batch.clean).clone();
            let (_, recon) = self.net.forward(tape, self.core.arena(), &input)?;
            let rows = batch.clean.rows();
            let (_, loss) = tape.row_error_mean(&recon, &batch.clean, RowError::SquaredL2, rows)?;
            Ok(vec![loss])
        })
    }

    /// Trains `steps` steps on `data`: one submit, no host wait. The plan is recorded on the
    /// first call for a dataset and replayed afterwards.
    pub fn fit(&mut self, data: &DataRows, steps: u32) -> Result<()> {
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
    fn record_scores(&self, tape: &mut Tape, data: &DataRows) -> Result<(Tensor, Tensor)> {
        check_inputs("autoencoder", data, self.config.inputs)?;
        let gpu = self.core.gpu();
        let scores = Tensor::new(gpu, data.rows(), 1, "scores")?;
        let latents = Tensor::new(gpu, data.rows(), self.net.encoder.outputs(), "latents")?;
        let widest = self.net.widest();
        self.core.record_rows(
            tape,
            data,
            widest,
            &[&scores, &latents],
            |tape, _, x, out| {
                let (l, recon) = self.net.forward(tape, self.core.arena(), x)?;
                tape.row_error_into(&recon, x, RowError::SquaredL2, &out[0])?;
                tape.copy(&l, &out[1])
            },
        )?;
        Ok((scores, latents))
    }

    /// Records scoring of every row of `data`: returns the plan, the per-row squared
    /// reconstruction errors (`rows x 1`) and the latent vectors (`rows x latent`) it fills.
    pub fn score_plan(&self, data: &DataRows) -> Result<(Plan, Tensor, Tensor)> {
        let mut tape = self.core.tape();
        let (scores, latents) = self.record_scores(&mut tape, data)?;
        Ok((tape.finish()?, scores, latents))
    }

    /// Records scoring of every row and the selection of the k highest-scoring rows whose
    /// word in `exclude` is 0: one plan, one submit, k pairs to read back.
    pub fn query_plan(&self, data: &DataRows, exclude: &GpuBuffer, k: u32) -> Result<(Plan, TopK)> {
        let mut tape = self.core.tape();
        let (scores, _) = self.record_scores(&mut tape, data)?;
        let top = tape.top_k(&scores, Some((exclude, 0)), k)?;
        Ok((tape.finish()?, top))
    }

    /// Each row's squared reconstruction error: its anomaly score (higher = more anomalous).
    pub fn scores(&self, data: &DataRows) -> Result<Vec<f32>> {
        let (plan, scores, _) = self.score_plan(data)?;
        plan.run(1)?;
        scores.read(self.core.gpu())
    }

    /// Each row's latent vector, row-major.
    pub fn latent(&self, data: &DataRows) -> Result<Vec<f32>> {
        let (plan, _, latents) = self.score_plan(data)?;
        plan.run(1)?;
        latents.read(self.core.gpu())
    }
}
