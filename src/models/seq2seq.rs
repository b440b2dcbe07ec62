//! The report's sequence-to-sequence detector for time series: an encoder LSTM reads a window
//! (a row of `steps` steps of `inputs / steps` values each), its last hidden state is the
//! window's code; a decoder LSTM fed that code at every step (from a zero state) gives a hidden
//! state a step, and a dense layer maps each to the step's values. The score is the window's
//! squared reconstruction error (the sum over its values); [`crate::data::series::Windows`]
//! spreads it over the window's points.
//!
//! Training holds out a random 20% of the windows (seeded) and stops early on their mean
//! error (the best epoch's parameters kept), Adam on minibatches drawn on the GPU. Labels are
//! never read: every window given is taken to be normal.

use serde::{Deserialize, Serialize};

use super::core::{EarlyStopping, FitReport, ModelCore, check_inputs, validation_split};
use super::detector::{Detector, detector_basics};
use super::file::Family;
use super::registry::{DataShape, Model, Settings};
use crate::data::Dataset;
use crate::error::{Result, invalid};
use crate::gpu::{Gpu, GpuBuffer};
use crate::nn::{ArenaBuilder, Lstm, Optimizer, Slot};
use crate::ops::Act;
use crate::ops::dense::DenseParams;
use crate::ops::loss::RowError;
use crate::tape::{DataRows, Plan, Tape, Tensor};

/// A sequence-to-sequence detector's set-up.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Seq2seqConfig {
    /// Values a row: `steps` steps of `inputs / steps` values.
    pub inputs: u32,
    pub steps: u32,
    /// The encoder's and the decoder's units (the code's size).
    pub hidden: u32,
    pub batch: u32,
    /// Adam's rate.
    pub lr: f32,
    pub max_epochs: u32,
    /// Epochs without a better validation error before training stops.
    pub patience: u32,
    pub seed: u64,
}

/// The sequence-to-sequence detector: see the module documentation.
pub struct Seq2seq {
    config: Seq2seqConfig,
    core: ModelCore,
    encoder: Lstm,
    decoder: Lstm,
    /// The output layer, `(hidden + 1) x values a step`.
    out: Slot,
}

impl Seq2seq {
    pub fn new(gpu: &Gpu, config: Seq2seqConfig) -> Result<Seq2seq> {
        let c = &config;
        if c.steps == 0 || c.inputs == 0 || !c.inputs.is_multiple_of(c.steps) {
            return Err(invalid(
                "seq2seq",
                format!(
                    "rows of {} values are not {} steps of whole values a step",
                    c.inputs, c.steps
                ),
            ));
        }
        if c.batch == 0 || c.max_epochs == 0 {
            return Err(invalid(
                "seq2seq",
                format!(
                    "needs a minibatch row and an epoch (got {} and {})",
                    c.batch, c.max_epochs
                ),
            ));
        }
        let per_step = c.inputs / c.steps;
        let mut arena = ArenaBuilder::new(c.seed);
        let encoder = Lstm::new(&mut arena, per_step, c.hidden)?;
        let decoder = Lstm::new(&mut arena, c.hidden, c.hidden)?;
        let out = arena.dense(c.hidden, per_step);
        let core = ModelCore::new(gpu, arena, Optimizer::adam(c.lr), c.seed)?;
        Ok(Seq2seq {
            config,
            core,
            encoder,
            decoder,
            out,
        })
    }

    /// The reconstruction of windows `x` (`rows x inputs`).
    fn reconstruct(&self, tape: &mut Tape, x: &Tensor) -> Result<Tensor> {
        let (b, t) = (x.rows(), self.config.steps);
        let arena = self.core.arena();
        let code = self.encoder.forward(tape, arena, x, t, true)?;
        let hs = self.decoder.forward(tape, arena, &code, t, false)?;
        let each = tape.reshape(&hs, b * t, self.config.hidden)?;
        let out = DenseParams::new(arena.param(self.out)?)?;
        let y = tape.dense(&each, &out, Act::Identity)?;
        tape.reshape(&y, b, self.config.inputs)
    }

    /// Each row of `x`'s squared reconstruction error into `out` (`rows x 1`), in chunks.
    fn record_errors(&self, tape: &mut Tape, x: &DataRows, out: &Tensor) -> Result<()> {
        let widest = self
            .encoder
            .widest(self.config.steps)
            .max(self.decoder.widest(self.config.steps))
            .max(self.config.inputs);
        self.core
            .record_rows(tape, x, widest, &[out], |tape, _, chunk, dst| {
                let recon = self.reconstruct(tape, chunk)?;
                tape.row_error_into(&recon, chunk, RowError::SquaredL2, &dst[0])
            })
    }
}

impl Detector for Seq2seq {
    fn name(&self) -> &str {
        "seq2seq"
    }

    detector_basics!(Family::Detector);

    fn inputs(&self) -> u32 {
        self.config.inputs
    }

    /// Trains on 80% of the windows with early stopping on the other 20% (labels unread).
    fn fit(&mut self, data: &Dataset) -> Result<FitReport> {
        self.check_width(data)?;
        let c = self.config.clone();
        let (val, train) = validation_split(&data.name, data.rows, c.seed)?;
        let tx = self.core.rows_data(data, &train, "train")?;
        let vx = self.core.rows_data(data, &val, "validation")?;
        let seed = self.core.rng_seed();
        let step = self.core.train_plan(|tape| {
            let batch = tape.sample_rows(&tx, c.batch, 0.0, seed)?;
            let recon = self.reconstruct(tape, &batch.clean)?;
            let e = tape.row_error(&recon, &batch.clean, RowError::SquaredL2)?;
            Ok(vec![tape.mean(&e)?])
        })?;
        let per_row = Tensor::new(self.core.gpu(), vx.rows(), 1, "validation errors")?;
        let mut tape = self.core.tape();
        self.record_errors(&mut tape, &vx, &per_row)?;
        let mean = tape.mean(&per_row)?;
        let validate = tape.finish()?;
        let stopping = EarlyStopping {
            max_epochs: c.max_epochs,
            patience: c.patience,
        };
        let report = self.core.fit_on_validation_mean(
            &step,
            tx.rows(),
            c.batch,
            stopping,
            &validate,
            &mean,
        )?;
        self.core.fitted_on(data);
        Ok(report)
    }

    fn score_plan(&self, x: &DataRows, _classes: Option<&GpuBuffer>) -> Result<(Plan, Tensor)> {
        check_inputs("seq2seq", x, self.config.inputs)?;
        let out = Tensor::new(self.core.gpu(), x.rows(), 1, "scores")?;
        let mut tape = self.core.tape();
        self.record_errors(&mut tape, x, &out)?;
        Ok((tape.finish()?, out))
    }
}

impl Model for Seq2seq {
    type Config = Seq2seqConfig;

    /// `--window` steps a row (default: one value a step), `--hidden` units (its first
    /// width; default 32), minibatches of `--batch` (default 32), Adam at `--lr` (default
    /// 1e-3), at most `--max-epochs` (default 200) with patience 20.
    fn configure(_name: &str, shape: &DataShape, s: &Settings) -> Result<Seq2seqConfig> {
        Ok(Seq2seqConfig {
            inputs: shape.inputs,
            steps: s.window.unwrap_or(shape.inputs),
            hidden: s
                .hidden
                .as_ref()
                .and_then(|h| h.first().copied())
                .unwrap_or(32),
            batch: s.batch.unwrap_or(32),
            lr: s.lr.unwrap_or(1e-3),
            max_epochs: s.max_epochs.unwrap_or(200),
            patience: 20,
            seed: s.seed,
        })
    }

    fn build(gpu: &Gpu, config: Seq2seqConfig) -> Result<Seq2seq> {
        Seq2seq::new(gpu, config)
    }
}
