//! The report's variational autoencoder (Deep Learning for Anomaly Detection, Cloudera Fast
//! Forward Labs): a Gaussian encoder q(z|x) = N(mu(x), diag(exp(lv(x)))), a code drawn by
//! reparameterisation, z = mu + exp(lv / 2) eps, and a Gaussian decoder N(dec(z), exp(s) I)
//! whose one log-variance s is learned with the weights. Training minimises the negative ELBO
//! per row (without its constant), e exp(-s) / 2 + D s / 2 + beta KL(q(z|x) || N(0, I)) with
//! e = ||x - dec(z)||^2 over D features, on minibatches drawn on the GPU, with early stopping
//! on the held-out rows' loss.
//!
//! Why the learned variance: a fixed unit-scale decoder (the plain squared error plus KL) on
//! data scaled to [0, 1] weighs the reconstruction so lightly that the KL term wins, every code
//! collapses to the prior and the decoder outputs the mean row (measured on 32-feature
//! synthetic data: KL 0.0002, reconstruction error equal to the data's total variance). The
//! learned s sets the weight from the data's own scale.
//!
//! Scoring is deterministic, at the posterior mean z = mu: the reconstruction error
//! ||x - dec(mu)||^2 ([`VaeScore::Reconstruction`]), or the negative ELBO with its expectation
//! taken at the mean, e exp(-s) / 2 + D s / 2 + beta KL ([`VaeScore::NegativeElbo`], the
//! default).
//!
//! Options: `standardise` scales each column over the training rows first (the VAE then
//! encodes and reconstructs the standardised row; `--standardise` on the command line, with an
//! identity output), and `decoder_log_var` fixes s instead of learning it. PyOD's `VAE` with its
//! KL term on is `standardise` with s = ln(D / 2) (it weighs the mean squared error over the
//! features against the KL term): at that weight the code falls to the prior and the score is
//! the row's standardised distance from the mean (BENCHMARKS.md, stop 24).

use serde::{Deserialize, Serialize};

use super::core::{EarlyStopping, FitReport, ModelCore, check_inputs, validation_split};
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

/// What a VAE scores a row by (higher = more anomalous).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum VaeScore {
    /// ||x - dec(mu)||^2.
    Reconstruction,
    /// The decoder's negative log-likelihood of x at dec(mu), plus beta KL(q(z|x) || N(0, I)).
    NegativeElbo,
}

/// A VAE's architecture and training set-up.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VaeConfig {
    pub inputs: u32,
    /// Encoder widths, the last the latent size L (the encoder's last layer gives 2L values a
    /// row: the means, then the log-variances); the decoder mirrors them.
    pub hidden: Vec<u32>,
    pub act: Act,
    pub output_act: Act,
    /// The KL term's weight (1: the ELBO).
    pub beta: f32,
    pub score: VaeScore,
    pub optimizer: Optimizer,
    pub batch: u32,
    pub seed: u64,
    pub max_epochs: u32,
    pub patience: u32,
    /// Standardise each column over the training rows first; the reconstruction is then of
    /// the standardised row. Files written before the option load without it.
    #[serde(default)]
    pub standardise: bool,
    /// A fixed decoder log-variance s instead of a learned one (None: learned, started at the
    /// data's mean feature variance).
    #[serde(default)]
    pub decoder_log_var: Option<f32>,
}

impl VaeConfig {
    /// relu, sigmoid output (inputs scaled to [0, 1]), beta 1, the negative ELBO as score,
    /// Adam 1e-3, batch 64, at most 100 epochs with patience 10.
    pub fn new(inputs: u32, hidden: &[u32]) -> VaeConfig {
        VaeConfig {
            inputs,
            hidden: hidden.to_vec(),
            act: Act::Relu,
            output_act: Act::Sigmoid,
            beta: 1.0,
            score: VaeScore::NegativeElbo,
            optimizer: Optimizer::adam(1e-3),
            batch: 64,
            seed: 0,
            max_epochs: 100,
            patience: 10,
            standardise: false,
            decoder_log_var: None,
        }
    }
}

/// A variational autoencoder on the GPU.
pub struct Vae {
    core: ModelCore,
    pub config: VaeConfig,
    encoder: Mlp,
    decoder: Mlp,
    /// The decoder's log-variance (1x1; learned, or state when fixed).
    log_var: Slot,
    scaling: Option<ColumnScaling>,
}

impl Vae {
    pub fn new(gpu: &Gpu, config: VaeConfig) -> Result<Vae> {
        let c = &config;
        let Some((&latent, widths)) = c.hidden.split_last() else {
            return Err(invalid("VAE", "needs at least the latent size"));
        };
        if c.batch == 0 || c.inputs == 0 || !c.beta.is_finite() || c.beta < 0.0 {
            return Err(invalid(
                "VAE",
                format!(
                    "needs inputs, a batch > 0 and a finite KL weight >= 0 (got {} inputs, batch {}, beta {})",
                    c.inputs, c.batch, c.beta
                ),
            ));
        }
        let mut b = ArenaBuilder::new(c.seed);
        let mut enc_sizes = vec![c.inputs];
        enc_sizes.extend(widths);
        enc_sizes.push(2 * latent);
        let mut enc_acts = vec![c.act; enc_sizes.len() - 1];
        enc_acts[enc_sizes.len() - 2] = Act::Identity;
        let encoder = Mlp::new(&mut b, &enc_sizes, &enc_acts)?;
        let mut dec_sizes = vec![latent];
        dec_sizes.extend(widths.iter().rev());
        dec_sizes.push(c.inputs);
        let mut dec_acts = vec![c.act; dec_sizes.len() - 1];
        dec_acts[dec_sizes.len() - 2] = c.output_act;
        let decoder = Mlp::new(&mut b, &dec_sizes, &dec_acts)?;
        let log_var = match c.decoder_log_var {
            Some(s) if s.is_finite() => b.state(1, 1, &[s])?,
            Some(s) => {
                return Err(invalid(
                    "VAE",
                    format!("the decoder's log-variance must be finite (got {s})"),
                ));
            }
            None => b.fixed(1, 1, &[0.0])?,
        };
        let scaling = ColumnScaling::reserve_if(&mut b, c.inputs, c.standardise)?;
        let core = ModelCore::new(gpu, b, c.optimizer, c.seed)?;
        Ok(Vae {
            core,
            config,
            encoder,
            decoder,
            log_var,
            scaling,
        })
    }

    /// `x` standardised where configured (the rows the VAE encodes and reconstructs).
    fn prepare(&self, tape: &mut Tape, x: &Tensor) -> Result<Tensor> {
        ColumnScaling::apply_if(self.scaling.as_ref(), &self.core, tape, x)
    }

    /// Records one training step on rows of `x`: a minibatch, the negative ELBO's two terms
    /// (the mean negative log-likelihood and the mean KL term), backward, Adam.
    pub fn train_plan(&self, x: &DataRows) -> Result<Plan> {
        check_inputs("vae", x, self.config.inputs)?;
        let c = &self.config;
        let log_var = self.core.param(self.log_var)?;
        self.core.train_plan(|tape| {
            let seed = self.core.rng_seed();
            let batch = tape.sample_rows(x, c.batch, 0.0, seed)?;
            let arena = self.core.arena();
            let xs = self.prepare(tape, &batch.clean)?;
            let h = self.encoder.forward(tape, arena, &xs)?;
            let latent = tape.gaussian_latent(&h, Some(seed), c.beta)?;
            let recon = self.decoder.forward(tape, arena, &latent.z)?;
            let e = tape.row_error(&recon, &xs, RowError::SquaredL2)?;
            let nll = tape.gaussian_nll(&e, &log_var, c.inputs)?;
            Ok(vec![tape.mean(&nll)?, tape.mean(&latent.kl)?])
        })
    }

    /// Records each row's negative ELBO at z = mu (with `elbo`), or its reconstruction error,
    /// into `out` (`rows x 1`).
    fn record_scores(&self, tape: &mut Tape, x: &DataRows, elbo: bool, out: &Tensor) -> Result<()> {
        let widest = self.encoder.widest().max(self.decoder.widest());
        let c = &self.config;
        let log_var = self.core.param(self.log_var)?;
        self.core
            .record_rows(tape, x, widest, &[out], |tape, _, x, dst| {
                let x = &self.prepare(tape, x)?;
                let h = self.encoder.forward(tape, self.core.arena(), x)?;
                let latent = tape.gaussian_latent(&h, None, c.beta)?;
                let recon = self.decoder.forward(tape, self.core.arena(), &latent.z)?;
                if !elbo {
                    return tape.row_error_into(&recon, x, RowError::SquaredL2, &dst[0]);
                }
                let e = tape.row_error(&recon, x, RowError::SquaredL2)?;
                let nll = tape.gaussian_nll(&e, &log_var, c.inputs)?;
                tape.copy(&nll, &dst[0])?;
                tape.add_into(&latent.kl, &dst[0])
            })
    }

    /// Starts the decoder's log-variance at the log of the mean feature variance of `rows`
    /// (of the standardised columns where configured):
    /// the variance that fits a decoder of the mean row, where training starts from. (At 0, a
    /// unit variance, the reconstruction term weighs so little on [0, 1] data that the codes
    /// collapse to the prior before s has moved: see the module documentation.)
    fn start_log_var(&self, data: &Dataset, rows: &[usize]) -> Result<()> {
        let n = rows.len().max(1) as f64;
        let var = (0..data.cols)
            .map(|j| {
                let v = || rows.iter().map(|&i| f64::from(data.row(i)[j]));
                let mean = v().sum::<f64>() / n;
                let var = v().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
                match self.scaling.is_some() {
                    true if var > 0.0 => 1.0,
                    true => 0.0,
                    false => var,
                }
            })
            .sum::<f64>()
            / data.cols.max(1) as f64;
        let s = self.core.param(self.log_var)?;
        s.write(self.core.gpu(), &[var.max(1e-6).ln() as f32])
    }

    /// The decoder's learned variance, exp(s) (read back).
    pub fn decoder_variance(&self) -> Result<f32> {
        let s = self.core.param(self.log_var)?.read(self.core.gpu())?;
        Ok(s[0].exp())
    }

    /// Each row's score as configured (one submit, one wait).
    pub fn scores(&self, x: &DataRows) -> Result<Vec<f32>> {
        self.score_tensor(x, None)
    }
}

impl Detector for Vae {
    fn name(&self) -> &str {
        "vae"
    }

    detector_basics!(Family::Detector);

    fn inputs(&self) -> u32 {
        self.config.inputs
    }

    /// Holds out a random 20% of the rows (seeded) and trains on the rest with early stopping
    /// on the held-out rows' mean negative ELBO (at z = mu); the best epoch's parameters are
    /// kept. Every row given is taken to be normal (labels are not read).
    fn fit(&mut self, data: &Dataset) -> Result<FitReport> {
        self.check_width(data)?;
        let (val, train) = validation_split(&data.name, data.rows, self.config.seed)?;
        ColumnScaling::fit_if(self.scaling.as_ref(), &self.core, data)?;
        if self.core.step_state().step(self.core.gpu())? == 0
            && self.config.decoder_log_var.is_none()
        {
            self.start_log_var(data, &train)?;
        }
        let tx = self.core.rows_data(data, &train, "train")?;
        let vx = self.core.rows_data(data, &val, "validation")?;
        let step = self.train_plan(&tx)?;
        let per_row = Tensor::new(self.core.gpu(), vx.rows(), 1, "validation loss")?;
        let mut tape = self.core.tape();
        self.record_scores(&mut tape, &vx, true, &per_row)?;
        let mean = tape.mean(&per_row)?;
        let validate = tape.finish()?;
        let stopping = EarlyStopping {
            max_epochs: self.config.max_epochs,
            patience: self.config.patience,
        };
        let report = self.core.fit_on_validation_mean(
            &step,
            tx.rows(),
            self.config.batch,
            stopping,
            &validate,
            &mean,
        )?;
        self.core.fitted_on(data);
        Ok(report)
    }

    fn score_plan(&self, x: &DataRows, _classes: Option<&GpuBuffer>) -> Result<(Plan, Tensor)> {
        check_inputs("vae", x, self.config.inputs)?;
        let out = Tensor::new(self.core.gpu(), x.rows(), 1, "scores")?;
        let mut tape = self.core.tape();
        let elbo = self.config.score == VaeScore::NegativeElbo;
        self.record_scores(&mut tape, x, elbo, &out)?;
        Ok((tape.finish()?, out))
    }
}

impl Model for Vae {
    type Config = VaeConfig;

    /// [`VaeConfig::new`] with encoder 256-64-8 for inputs over 256 features, else 32-16-4,
    /// and the settings given.
    fn configure(_name: &str, shape: &DataShape, s: &Settings) -> Result<VaeConfig> {
        let default_hidden = if shape.inputs > 256 {
            vec![256, 64, 8]
        } else {
            vec![32, 16, 4]
        };
        let d = VaeConfig::new(shape.inputs, s.hidden.as_deref().unwrap_or(&default_hidden));
        let standardise = s.standardise.unwrap_or(false);
        Ok(VaeConfig {
            seed: s.seed,
            standardise,
            output_act: if standardise {
                Act::Identity
            } else {
                d.output_act
            },
            batch: s.batch.unwrap_or(d.batch),
            optimizer: s.lr.map_or(d.optimizer, Optimizer::adam),
            max_epochs: s.max_epochs.unwrap_or(d.max_epochs),
            ..d
        })
    }

    fn build(gpu: &Gpu, config: VaeConfig) -> Result<Vae> {
        Vae::new(gpu, config)
    }
}
