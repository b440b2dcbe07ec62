//! The model core: the training skeleton every detector shares, written once. A model is its
//! configuration, its layers (reserved in an [`ArenaBuilder`]) and the loss it records; the
//! core owns the rest:
//!
//! - the parameter arena (every parameter in one buffer, gradients in another), the
//!   optimizer's state and the step counter (the RNG stream and Adam's t);
//! - recording a training step from a closure that builds the loss on a tape
//!   ([`ModelCore::train_plan`]), replayed N times per submit;
//! - recording a pass over any number of rows in chunks that stay under the adapter's binding
//!   limit ([`ModelCore::record_rows`]) and scoring host rows of any count in uploads that do
//!   ([`ModelCore::score_rows`]);
//! - training with early stopping on a validation loss, the best epoch's parameters kept on
//!   the GPU ([`ModelCore::fit_early_stopping`]);
//! - the training state for a model file ([`ModelCore::state`], [`ModelCore::restore`]).

use serde::Serialize;

use super::Threshold;
use super::file::CoreState;
use crate::data::{Dataset, Schema};
use crate::error::{Result, invalid};
use crate::gpu::Gpu;
use crate::nn::{ArenaBuilder, Optimizer, OptimizerState, ParamArena, Slot};
use crate::tape::{DataRows, Plan, StepState, Tape, Tensor};

/// The most rows a chunk takes: every kernel's grid fits (a GEMM's 32-row tiles stay under
/// 65535 workgroups a dimension).
pub const MAX_CHUNK_ROWS: u32 = 1 << 20;

/// The share of training rows [`validation_split`] holds out for early stopping.
pub const VALIDATION_SHARE: f64 = 0.2;

/// A random [`VALIDATION_SHARE`] of `rows` row indices (seeded), at least one, and the rest:
/// (held out, kept), each in the shuffled order. Too few rows to keep one is an error naming
/// `data`.
pub fn validation_split(data: &str, rows: usize, seed: u64) -> Result<(Vec<usize>, Vec<usize>)> {
    use rand::SeedableRng;
    use rand::seq::SliceRandom;
    let mut ix: Vec<usize> = (0..rows).collect();
    ix.shuffle(&mut rand::rngs::StdRng::seed_from_u64(seed ^ 0xabc));
    let n_val = ((rows as f64 * VALIDATION_SHARE).round() as usize).max(1);
    if rows < n_val + 1 {
        return Err(invalid(
            "training data",
            format!("{data}: {rows} training rows are too few to hold out a validation split"),
        ));
    }
    let kept = ix.split_off(n_val);
    Ok((ix, kept))
}

/// Refuses rows `x` whose width is not the `inputs` a model (named `model` in the error)
/// takes.
pub fn check_inputs(model: &'static str, x: &DataRows, inputs: u32) -> Result<()> {
    if x.cols() != inputs {
        return Err(crate::error::shape(
            model,
            format!("data has {} columns, the model takes {inputs}", x.cols()),
        ));
    }
    Ok(())
}

/// The 32-bit seed the shaders' RNG streams use for a model seed (both halves folded in).
pub fn shader_seed(seed: u64) -> u32 {
    (seed ^ (seed >> 32)) as u32
}

/// A model's parameters, optimizer state and step state on the GPU, and what its file keeps
/// beside them: the schema of its training data and its threshold.
pub struct ModelCore {
    gpu: Gpu,
    arena: ParamArena,
    opt: OptimizerState,
    state: StepState,
    seed: u64,
    /// How raw data becomes the model's inputs (empty when unknown).
    pub schema: Schema,
    pub threshold: Option<Threshold>,
    /// Whether the model has been fitted (or loaded from a fitted model's file): a threshold
    /// is refused before.
    fitted: bool,
    /// Called after each epoch of [`ModelCore::fit_early_stopping`] (a command's progress).
    pub on_epoch: Option<EpochHook>,
}

/// What [`ModelCore::fit_early_stopping`] tells its hook after each epoch.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EpochProgress {
    pub epoch: u32,
    pub max_epochs: u32,
    pub val_loss: f32,
    pub best_epoch: u32,
}

/// A hook for [`EpochProgress`] (training waits for it: keep it short).
pub type EpochHook = std::sync::Arc<dyn Fn(&EpochProgress) + Send + Sync>;

/// When [`ModelCore::fit_early_stopping`] stops: after `max_epochs`, or after `patience`
/// epochs without a better validation loss.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct EarlyStopping {
    pub max_epochs: u32,
    pub patience: u32,
}

/// What training did.
#[derive(Clone, Debug, Default, Serialize)]
pub struct FitReport {
    /// Epochs run (0 for training by a number of steps).
    pub epochs: u32,
    pub best_epoch: u32,
    pub steps: u64,
    /// The validation loss after each epoch.
    pub val_loss: Vec<f32>,
    /// Mean reconstruction error of the validation split's normal rows and known anomalies
    /// after each epoch, where a model tracks them (the ABC paper's Figure 5); else empty.
    pub normal_error: Vec<f32>,
    pub anomaly_error: Vec<f32>,
    /// The validation loss stopped being finite (LRC can run away); the best epoch is kept.
    pub diverged: bool,
    /// What a user should know about the fit (a solver that stopped short), one line each.
    pub notes: Vec<String>,
}

impl ModelCore {
    /// Uploads the parameters laid out in `arena`, with `optimizer`'s state zeroed and the step
    /// counter at 0. `seed` is the model's (the arena was initialised from it; the shaders'
    /// RNG streams use [`shader_seed`] of it).
    pub fn new(gpu: &Gpu, arena: ArenaBuilder, optimizer: Optimizer, seed: u64) -> Result<Self> {
        let arena = arena.upload(gpu)?;
        let opt = OptimizerState::new(gpu, optimizer, &arena)?;
        Ok(ModelCore {
            gpu: gpu.clone(),
            arena,
            opt,
            state: StepState::new(gpu)?,
            seed,
            schema: Schema::default(),
            fitted: false,
            threshold: None,
            on_epoch: None,
        })
    }

    pub fn gpu(&self) -> &Gpu {
        &self.gpu
    }

    pub fn arena(&self) -> &ParamArena {
        &self.arena
    }

    /// A slot's parameters.
    pub fn param(&self, slot: Slot) -> Result<Tensor> {
        self.arena.param(slot)
    }

    pub fn optimizer(&self) -> Optimizer {
        self.opt.optimizer
    }

    /// The GPU step counter (also the RNG stream).
    pub fn step_state(&self) -> &StepState {
        &self.state
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The 32-bit seed of the shaders' RNG streams (minibatch rows, noise).
    pub fn rng_seed(&self) -> u32 {
        shader_seed(self.seed)
    }

    /// Whether the model has been fitted.
    pub fn fitted(&self) -> bool {
        self.fitted
    }

    /// Marks the model fitted on `data`, whose schema becomes the model's.
    pub fn fitted_on(&mut self, data: &Dataset) {
        self.schema = data.schema.clone();
        self.fitted = true;
    }

    /// Marks the model fitted (a model file said so).
    pub fn mark_fitted(&mut self) {
        self.fitted = true;
    }

    /// A tape for a forward-only plan (scoring, validation) on this model's step state.
    pub fn tape(&self) -> Tape {
        Tape::new(&self.gpu, &self.state)
    }

    /// Records one training step: `losses` builds the loss terms (1x1 tensors) on a tape whose
    /// parameters are all registered; the step is then the backward pass of their sum, one
    /// optimizer update of the whole arena and the step counter's advance.
    pub fn train_plan(
        &self,
        losses: impl FnOnce(&mut Tape) -> Result<Vec<Tensor>>,
    ) -> Result<Plan> {
        self.train_plan_at(self.opt.optimizer.lr(), losses)
    }

    /// [`ModelCore::train_plan`] with the optimizer at learning rate `lr` (a phase of a
    /// schedule; every phase updates the same optimizer state).
    pub fn train_plan_at(
        &self,
        lr: f32,
        losses: impl FnOnce(&mut Tape) -> Result<Vec<Tensor>>,
    ) -> Result<Plan> {
        self.train_plan_range(0..self.arena.len(), lr, losses)
    }

    /// [`ModelCore::train_plan_at`] training only the parameters within the arena's words
    /// `range`: the others are constants of the step, get no gradient and are not updated (a
    /// model whose networks train in turn records a plan for each).
    pub fn train_plan_range(
        &self,
        range: std::ops::Range<u32>,
        lr: f32,
        losses: impl FnOnce(&mut Tape) -> Result<Vec<Tensor>>,
    ) -> Result<Plan> {
        let mut tape = self.tape();
        self.arena.register_range(&mut tape, range.clone())?;
        let losses = losses(&mut tape)?;
        let refs: Vec<&Tensor> = losses.iter().collect();
        tape.backward_all(&refs)?;
        self.opt.record_range(&mut tape, &self.arena, lr, range)?;
        tape.advance()?;
        tape.finish()
    }

    /// Rows per chunk for a network whose widest layer (input, hidden or output) has `widest`
    /// values a row: as many as the adapter binds at that width, at most [`MAX_CHUNK_ROWS`].
    /// Fewer chunks are fewer dispatches and larger GEMMs (60000 x 784 is two chunks on
    /// llvmpipe's 128 MiB bindings, one on a GPU); a plan allocates every chunk's
    /// activations either way.
    pub fn chunk_rows(&self, widest: u32) -> u32 {
        let rows = self.gpu.max_binding_bytes() / (4 * u64::from(widest.max(1)));
        rows.clamp(1, u64::from(MAX_CHUNK_ROWS)) as u32
    }

    /// Records `f` over every row of `data` in chunks of [`ModelCore::chunk_rows`]`(widest)`
    /// rows: `f(tape, first_row, rows, outs)` gets a chunk's rows and the views of `outs` (each
    /// `data.rows()` rows) at those rows, to write.
    pub fn record_rows(
        &self,
        tape: &mut Tape,
        data: &DataRows,
        widest: u32,
        outs: &[&Tensor],
        mut f: impl FnMut(&mut Tape, u32, &Tensor, &[Tensor]) -> Result<()>,
    ) -> Result<()> {
        if let Some(o) = outs.iter().find(|o| o.rows() != data.rows()) {
            return Err(crate::error::shape(
                "record_rows",
                format!(
                    "an output of {} rows for {} data rows",
                    o.rows(),
                    data.rows()
                ),
            ));
        }
        for (r0, x) in data.row_chunks(self.chunk_rows(widest))? {
            let views = outs
                .iter()
                .map(|o| Tensor::view(o.buffer(), o.offset() + r0 * o.cols(), x.rows(), o.cols()))
                .collect::<Result<Vec<_>>>()?;
            f(tape, r0, &x, &views)?;
        }
        Ok(())
    }

    /// Scores any number of host rows of `cols` values (row-major) in uploads of at most
    /// `rows_per_upload` rows (at most [`ModelCore::chunk_rows`]`(cols)`, what one binding
    /// holds), each scored by `score(rows, first_row)` (one value a row).
    pub fn score_rows(
        &self,
        x: &[f32],
        cols: u32,
        rows_per_upload: u32,
        mut score: impl FnMut(&Tensor, u32) -> Result<Vec<f32>>,
    ) -> Result<Vec<f32>> {
        let cols_us = cols.max(1) as usize;
        if !x.len().is_multiple_of(cols_us) {
            return Err(invalid(
                "rows",
                format!("{} values are not whole rows of {cols}", x.len()),
            ));
        }
        let per_upload = rows_per_upload.clamp(1, self.chunk_rows(cols)) as usize;
        let mut out = Vec::with_capacity(x.len() / cols_us);
        for (i, piece) in x.chunks(per_upload * cols_us).enumerate() {
            let rows = (piece.len() / cols_us) as u32;
            let t = Tensor::from_slice(&self.gpu, piece, rows, cols, "rows to score")?;
            let scores = score(&t, (i * per_upload) as u32)?;
            if scores.len() != rows as usize {
                return Err(crate::error::shape(
                    "score_rows",
                    format!("{} scores for {rows} rows", scores.len()),
                ));
            }
            out.extend(scores);
        }
        Ok(out)
    }

    /// Rows `ix` of `data`, in that order, as a tensor.
    pub fn rows_data(&self, data: &Dataset, ix: &[usize], label: &str) -> Result<DataRows> {
        let x: Vec<f32> = ix.iter().flat_map(|&i| data.row(i)).copied().collect();
        DataRows::upload(
            &self.gpu,
            &x,
            ix.len() as u32,
            data.cols as u32,
            label,
            false,
        )
    }

    /// Replays `plan` `steps` times (one submit, no wait) and reports it.
    pub fn fit_steps(&self, plan: &Plan, steps: u32) -> Result<FitReport> {
        plan.run(steps)?;
        Ok(FitReport {
            steps: u64::from(steps),
            ..FitReport::default()
        })
    }

    /// Trains with early stopping: each epoch replays `step` `steps_per_epoch` times, then
    /// `validate` returns the validation loss (and may add to the report: tracked curves).
    /// The parameters of the epoch with the lowest loss are copied aside on the GPU and
    /// restored at the end; a loss that stops being finite ends training (the best finite
    /// epoch is kept).
    pub fn fit_early_stopping(
        &self,
        step: &Plan,
        steps_per_epoch: u32,
        stopping: EarlyStopping,
        mut validate: impl FnMut(&mut FitReport) -> Result<f32>,
    ) -> Result<FitReport> {
        let best = Tensor::new(&self.gpu, self.arena.len(), 1, "best params")?;
        let params = Tensor::view(&self.arena.params, 0, self.arena.len(), 1)?;
        let copy_plan = |from: &Tensor, to: &Tensor| -> Result<Plan> {
            let mut tape = self.tape();
            tape.copy(from, to)?;
            tape.finish()
        };
        let (save, restore) = (copy_plan(&params, &best)?, copy_plan(&best, &params)?);
        let mut report = FitReport::default();
        let mut best_loss = f32::INFINITY;
        let mut since = 0;
        save.run(1)?;
        for epoch in 1..=stopping.max_epochs {
            step.run(steps_per_epoch)?;
            report.steps += u64::from(steps_per_epoch);
            report.epochs = epoch;
            let loss = validate(&mut report)?;
            report.val_loss.push(loss);
            if !loss.is_finite() {
                report.diverged = true;
                break;
            }
            let better = loss < best_loss;
            if better {
                best_loss = loss;
                report.best_epoch = epoch;
                save.run(1)?;
                since = 0;
            } else {
                since += 1;
            }
            if let Some(hook) = &self.on_epoch {
                hook(&EpochProgress {
                    epoch,
                    max_epochs: stopping.max_epochs,
                    val_loss: loss,
                    best_epoch: report.best_epoch,
                });
            }
            if !better && since >= stopping.patience {
                break;
            }
        }
        restore.run(1)?;
        Ok(report)
    }

    /// [`ModelCore::fit_early_stopping`] in epochs of `train_rows / batch` steps (at least
    /// one), the validation loss the `1 x 1` `mean` that one replay of `validate` fills.
    pub fn fit_on_validation_mean(
        &self,
        step: &Plan,
        train_rows: u32,
        batch: u32,
        stopping: EarlyStopping,
        validate: &Plan,
        mean: &Tensor,
    ) -> Result<FitReport> {
        let steps_per_epoch = train_rows.div_ceil(batch.max(1)).max(1);
        self.fit_early_stopping(step, steps_per_epoch, stopping, |_| {
            validate.run(1)?;
            Ok(mean.read(&self.gpu)?[0])
        })
    }

    /// The parameters, optimizer state and step counter, read back (blocking).
    pub fn state(&self) -> Result<CoreState> {
        Ok(CoreState {
            params: self.arena.read(&self.gpu)?,
            optimizer: Some(self.opt.read(&self.gpu)?),
            step: Some(self.state.step(&self.gpu)?),
        })
    }

    /// Overwrites the parameters, and the optimizer state and step counter where `state` has
    /// them (a file of the first format has neither: the optimizer then starts afresh).
    pub fn restore(&self, state: &CoreState) -> Result<()> {
        if state.params.len() != self.arena.len() as usize {
            return Err(invalid(
                "model state",
                format!(
                    "{} parameters, the architecture has {}",
                    state.params.len(),
                    self.arena.len()
                ),
            ));
        }
        self.arena.write(&self.gpu, &state.params)?;
        if let Some(o) = &state.optimizer {
            self.opt.write(&self.gpu, o)?;
        }
        if let Some(s) = state.step {
            self.state.set_step(&self.gpu, s)?;
        }
        Ok(())
    }
}

/// Training rounds recorded into one submit.
pub const ROUNDS_PER_SUBMIT: u32 = 64;

/// The rounds of `epochs` epochs over `rows` rows in minibatches of `batch` (at most the
/// rows): each epoch `rows / batch` rounds, rounded up, at least one.
pub fn epoch_rounds(rows: usize, batch: u32, epochs: u32) -> u32 {
    let rows = u32::try_from(rows).unwrap_or(u32::MAX);
    let batch = batch.min(rows).max(1);
    epochs.saturating_mul(rows.div_ceil(batch).max(1))
}

/// `rounds` rounds of `plans`, each round every plan once in order (networks that train in
/// turn), [`ROUNDS_PER_SUBMIT`] rounds recorded into one submit, with no host wait.
pub fn run_rounds(gpu: &crate::gpu::Gpu, plans: &[crate::tape::Plan], rounds: u32) -> Result<()> {
    let mut left = rounds;
    while left > 0 {
        let now = left.min(ROUNDS_PER_SUBMIT);
        let order: Vec<(&crate::tape::Plan, u32)> = (0..now)
            .flat_map(|_| plans.iter().map(|p| (p, 1)))
            .collect();
        crate::tape::run_all(gpu, &order)?;
        left -= now;
    }
    Ok(())
}
