//! DAGMM, the Deep Autoencoding Gaussian Mixture Model (Zong et al., ICLR 2018): a
//! compression network and an estimation network trained together, end to end, on every row
//! given (labels are not read).
//!
//! - **Compression.** An autoencoder (tanh hidden layers, linear code and output) gives each
//!   row a code z_c and a reconstruction x'. The row's representation is
//!   z = [z_c, ||x - x'|| / ||x||, cos(x, x')] (`Tape::recon_features`).
//! - **Estimation.** A small network (tanh) gives each row K logits; their softmax is the
//!   row's membership gamma in K Gaussian components.
//! - **The mixture** of a batch (`Tape::gmm_estimate`): each component's weight, mean and
//!   covariance from the memberships, eps (1e-6) added to each covariance's diagonal; the
//!   inverse and log-determinant on the GPU, the factoring guarded (see `gmm.wgsl`).
//! - **Loss** (the paper's eq. 7): the mean squared reconstruction error ||x - x'||^2, plus
//!   lambda_1 (0.1) times the mean sample energy E(z) = -log sum_k phi_k N(z; mu_k, C_k), plus
//!   lambda_2 (0.005) times sum_k sum_j 1 / C_k,jj. Adam, minibatches drawn on the GPU.
//! - **Scoring.** After training, the mixture is fitted once more on every training row (the
//!   paper's practice: the training set's phi, mu and C) and kept as model state; a row's
//!   score is its energy under it.
//!
//! Columns are standardised first (mean 0, deviation 1 over the training rows; a constant
//! column is only centred), and the statistics are model state. The paper's estimation network
//! has dropout (0.5) after its hidden layer; this one has none.

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
use crate::ops::gmm::{GMM_MAX_COMPS, GMM_MAX_DIMS, gmm_record};
use crate::ops::loss::RowError;
use crate::tape::{DataRows, Plan, Tape, Tensor};

/// Training steps per submit: the host reads the losses between submits and stops a run whose
/// loss is no longer finite.
pub const DAGMM_STEPS_PER_SUBMIT: u32 = 500;

/// A DAGMM's architecture and training set-up.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DagmmConfig {
    pub inputs: u32,
    /// The compression encoder's widths, the last the code size; the decoder mirrors them.
    pub hidden: Vec<u32>,
    /// The estimation network's hidden widths.
    pub estimation: Vec<u32>,
    /// Mixture components K.
    pub components: u32,
    /// The energy's weight lambda_1 and the covariance penalty's lambda_2.
    pub lambda_energy: f32,
    pub lambda_cov: f32,
    /// Added to each covariance's diagonal.
    pub eps: f32,
    pub batch: u32,
    pub epochs: u32,
    pub optimizer: Optimizer,
    pub seed: u64,
}

impl DagmmConfig {
    /// The paper's set-up (its KDDCUP networks): encoder 60-30-10-1, estimation 10 hidden, 4
    /// components, lambda_1 0.1, lambda_2 0.005, Adam 1e-4, batch 1024, 200 epochs.
    pub fn new(inputs: u32) -> DagmmConfig {
        DagmmConfig {
            inputs,
            hidden: vec![60, 30, 10, 1],
            estimation: vec![10],
            components: 4,
            lambda_energy: 0.1,
            lambda_cov: 0.005,
            eps: 1e-6,
            batch: 1024,
            epochs: 200,
            optimizer: Optimizer::adam(1e-4),
            seed: 0,
        }
    }

    /// Values of the representation z: the code and the two reconstruction features.
    pub fn code_dims(&self) -> u32 {
        self.hidden.last().map_or(0, |c| c + 2)
    }
}

/// DAGMM: see the module documentation.
pub struct Dagmm {
    config: DagmmConfig,
    core: ModelCore,
    encoder: Mlp,
    decoder: Mlp,
    estimation: Mlp,
    scaling: ColumnScaling,
    /// The training set's mixture (`components x record`).
    mixture: Slot,
}

/// What one pass of the networks over rows gives.
struct Pass {
    /// The standardised rows and their reconstructions.
    xs: Tensor,
    recon: Tensor,
    z: Tensor,
    logits: Tensor,
}

impl Dagmm {
    pub fn new(gpu: &Gpu, config: DagmmConfig) -> Result<Dagmm> {
        let c = &config;
        let Some((&code, widths)) = c.hidden.split_last() else {
            return Err(invalid("DAGMM", "needs at least the code size"));
        };
        let dims = c.code_dims();
        if c.inputs == 0 || c.batch < 2 || c.epochs == 0 || dims > GMM_MAX_DIMS {
            return Err(invalid(
                "DAGMM",
                format!(
                    "needs inputs, a batch of at least 2, epochs > 0 and a code of at most {} \
                     values (got {} inputs, batch {}, {} epochs, code {code})",
                    GMM_MAX_DIMS - 2,
                    c.inputs,
                    c.batch,
                    c.epochs
                ),
            ));
        }
        if c.components == 0 || c.components > GMM_MAX_COMPS {
            return Err(invalid(
                "DAGMM",
                format!("{} components (1 to {GMM_MAX_COMPS})", c.components),
            ));
        }
        let weights = [c.lambda_energy, c.lambda_cov, c.eps];
        if weights.iter().any(|w| !w.is_finite() || *w < 0.0) || c.eps <= 0.0 {
            return Err(invalid(
                "DAGMM",
                format!(
                    "lambda_1 {} and lambda_2 {} must be finite and >= 0, eps {} finite and > 0",
                    c.lambda_energy, c.lambda_cov, c.eps
                ),
            ));
        }
        let mut b = ArenaBuilder::new(c.seed);
        let mut enc = vec![c.inputs];
        enc.extend(&c.hidden);
        let mut enc_acts = vec![Act::Tanh; c.hidden.len()];
        enc_acts[c.hidden.len() - 1] = Act::Identity;
        let encoder = Mlp::new(&mut b, &enc, &enc_acts)?;
        let mut dec = vec![code];
        dec.extend(widths.iter().rev());
        dec.push(c.inputs);
        let mut dec_acts = vec![Act::Tanh; dec.len() - 1];
        dec_acts[dec.len() - 2] = Act::Identity;
        let decoder = Mlp::new(&mut b, &dec, &dec_acts)?;
        let mut est = vec![dims];
        est.extend(&c.estimation);
        est.push(c.components);
        let mut est_acts = vec![Act::Tanh; est.len() - 1];
        est_acts[est.len() - 2] = Act::Identity;
        let estimation = Mlp::new(&mut b, &est, &est_acts)?;
        let scaling = ColumnScaling::reserve(&mut b, c.inputs)?;
        let record = gmm_record(dims);
        let mixture = b.state(
            c.components,
            record,
            &vec![0.0; (c.components * record) as usize],
        )?;
        let core = ModelCore::new(gpu, b, c.optimizer, c.seed)?;
        Ok(Dagmm {
            config,
            core,
            encoder,
            decoder,
            estimation,
            scaling,
            mixture,
        })
    }

    fn widest(&self) -> u32 {
        let nets = [&self.encoder, &self.decoder, &self.estimation];
        nets.iter().map(|n| n.widest()).max().unwrap_or(1)
    }

    /// The networks on rows `x` (raw): standardised, coded, reconstructed, represented, and
    /// the memberships' logits.
    fn pass(&self, tape: &mut Tape, x: &Tensor) -> Result<Pass> {
        let arena = self.core.arena();
        let xs = self.scaling.apply(&self.core, tape, x)?;
        let code = self.encoder.forward(tape, arena, &xs)?;
        let recon = self.decoder.forward(tape, arena, &code)?;
        let feats = tape.recon_features(&xs, &recon)?;
        let z = tape.concat_cols(&[(&code, true), (&feats, true)])?;
        let logits = self.estimation.forward(tape, arena, &z)?;
        Ok(Pass {
            xs,
            recon,
            z,
            logits,
        })
    }

    /// The training set's mixture from every row of `x`, into the model's state.
    fn fit_mixture(&self, x: &DataRows) -> Result<()> {
        let gpu = self.core.gpu();
        let (n, dims) = (x.rows(), self.config.code_dims());
        let z = Tensor::new(gpu, n, dims, "codes")?;
        let logits = Tensor::new(gpu, n, self.config.components, "logits")?;
        let mut tape = self.core.tape();
        self.core.record_rows(
            &mut tape,
            x,
            self.widest(),
            &[&z, &logits],
            |tape, _, chunk, dst| {
                let pass = self.pass(tape, chunk)?;
                tape.copy(&pass.z, &dst[0])?;
                tape.copy(&pass.logits, &dst[1])
            },
        )?;
        let mixture = tape.gmm_estimate(&z, &logits, self.config.eps)?;
        tape.copy(&mixture, &self.core.param(self.mixture)?)?;
        tape.finish()?.run(1)
    }

    /// The training set's mixture (read back): one record a component.
    pub fn mixture(&self) -> Result<Vec<f32>> {
        self.core.param(self.mixture)?.read(self.core.gpu())
    }
}

impl Detector for Dagmm {
    fn name(&self) -> &str {
        "dagmm"
    }

    detector_basics!(Family::Detector);

    fn inputs(&self) -> u32 {
        self.config.inputs
    }

    /// Trains `epochs x rows / batch` steps on every row given (labels are not read), in
    /// submits of [`DAGMM_STEPS_PER_SUBMIT`], stopping where the loss is no longer finite;
    /// then fits the training set's mixture.
    fn fit(&mut self, data: &Dataset) -> Result<FitReport> {
        self.check_width(data)?;
        if data.rows < 2 {
            return Err(invalid(
                "DAGMM",
                format!(
                    "{} has {} row(s); it needs at least 2",
                    data.name, data.rows
                ),
            ));
        }
        let gpu = self.core.gpu().clone();
        self.scaling.fit(&self.core, data)?;
        let x = data.upload(&gpu)?;
        let c = &self.config;
        let batch = c.batch.min(x.rows());
        let mut losses = Vec::new();
        let step = self.core.train_plan(|tape| {
            let b = tape.sample_rows(&x, batch, 0.0, self.core.rng_seed())?;
            let pass = self.pass(tape, &b.clean)?;
            let mixture = tape.gmm_estimate(&pass.z, &pass.logits, c.eps)?;
            let e = tape.gmm_energy(&pass.z, &mixture)?;
            // The reconstruction error is taken against the standardised rows.
            let error = tape.row_error(&pass.recon, &pass.xs, RowError::SquaredL2)?;
            losses = vec![
                tape.mean(&error)?,
                tape.weighted_mean(&e.energy, c.lambda_energy)?,
                tape.weighted_mean(&e.penalty, c.lambda_cov)?,
            ];
            Ok(losses.clone())
        })?;
        let steps = c.epochs * x.rows().div_ceil(batch).max(1);
        let mut report = FitReport::default();
        let mut done = 0;
        while done < steps {
            let n = DAGMM_STEPS_PER_SUBMIT.min(steps - done);
            step.run(n)?;
            done += n;
            let last: f32 = losses
                .iter()
                .map(|l| l.read(&gpu).map(|v| v[0]))
                .sum::<Result<f32>>()?;
            report.val_loss.push(last);
            if !last.is_finite() {
                return Err(invalid(
                    "DAGMM",
                    format!(
                        "the training loss is {last} after {done} of {steps} steps on {}; \
                         try a lower learning rate or a larger eps",
                        data.name
                    ),
                ));
            }
        }
        self.fit_mixture(&x)?;
        self.core.fitted_on(data);
        Ok(FitReport {
            epochs: c.epochs,
            steps: u64::from(steps),
            ..report
        })
    }

    fn score_plan(&self, x: &DataRows, _classes: Option<&GpuBuffer>) -> Result<(Plan, Tensor)> {
        check_inputs("DAGMM", x, self.config.inputs)?;
        let out = Tensor::new(self.core.gpu(), x.rows(), 1, "scores")?;
        let mixture = self.core.param(self.mixture)?;
        let mut tape = self.core.tape();
        self.core.record_rows(
            &mut tape,
            x,
            self.widest(),
            &[&out],
            |tape, _, chunk, dst| {
                let pass = self.pass(tape, chunk)?;
                let e = tape.gmm_energy(&pass.z, &mixture)?;
                tape.copy(&e.energy, &dst[0])
            },
        )?;
        Ok((tape.finish()?, out))
    }
}

impl Model for Dagmm {
    type Config = DagmmConfig;

    /// [`DagmmConfig::new`] with the settings given (encoder widths, batch, Adam's rate,
    /// epochs, components, seed).
    fn configure(_name: &str, shape: &DataShape, s: &Settings) -> Result<DagmmConfig> {
        let d = DagmmConfig::new(shape.inputs);
        Ok(DagmmConfig {
            hidden: s.hidden.clone().unwrap_or(d.hidden),
            batch: s.batch.unwrap_or(d.batch),
            epochs: s.max_epochs.unwrap_or(d.epochs),
            components: s.components.unwrap_or(d.components),
            optimizer: s.lr.map_or(d.optimizer, Optimizer::adam),
            seed: s.seed,
            ..d
        })
    }

    fn build(gpu: &Gpu, config: DagmmConfig) -> Result<Dagmm> {
        Dagmm::new(gpu, config)
    }
}
