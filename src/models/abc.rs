//! Supervised detectors of the ABC paper (Yamanaka et al.): the autoencoding binary classifier
//! on an AE or DAE base, LRC (its unbounded baseline), and the paper's baselines, an AE or DAE
//! trained on normal rows only and a DNN classifier.
//!
//! With L(x) the mean squared reconstruction error of a row and y = 1 normal / 0 known anomaly,
//! ABC minimises y L - (1 - y) log(1 - exp(-L)) and scores p(anomaly | x) = 1 - exp(-L); LRC
//! minimises y L - (1 - y) L. The DNN (three dense layers) minimises the sigmoid cross-entropy of
//! p(anomaly) and scores it. Training is Adam on minibatches drawn on the GPU, one recorded plan
//! replayed an epoch at a time, with early stopping on the loss over a validation split (the
//! parameters of the best epoch are kept, on the GPU).

use serde::{Deserialize, Serialize};

use super::super::nn::{ArenaBuilder, Mlp, Optimizer, OptimizerState, ParamArena, score_chunk};
use crate::data::Schema;
use crate::error::{Result, invalid, shape};
use crate::gpu::{Gpu, GpuBuffer};
use crate::nn::shader_seed;
use crate::ops::Act;
use crate::ops::loss::{BinaryLoss, RowError};
use crate::tape::{Plan, StepState, Tape, Tensor};

/// Which supervised detector.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SupervisedKind {
    AbcAe,
    AbcDae,
    Lrc,
    /// Autoencoder on normal rows only.
    Ae,
    /// Denoising autoencoder on normal rows only.
    Dae,
    /// Three dense layers, sigmoid cross-entropy.
    Dnn,
}

impl SupervisedKind {
    pub const ALL: [SupervisedKind; 6] = [
        SupervisedKind::AbcAe,
        SupervisedKind::AbcDae,
        SupervisedKind::Lrc,
        SupervisedKind::Ae,
        SupervisedKind::Dae,
        SupervisedKind::Dnn,
    ];

    /// `abc-ae`, `abc-dae`, `lrc`, `ae`, `dae`, `dnn`.
    pub fn name(self) -> &'static str {
        match self {
            SupervisedKind::AbcAe => "abc-ae",
            SupervisedKind::AbcDae => "abc-dae",
            SupervisedKind::Lrc => "lrc",
            SupervisedKind::Ae => "ae",
            SupervisedKind::Dae => "dae",
            SupervisedKind::Dnn => "dnn",
        }
    }

    pub fn parse(s: &str) -> Option<SupervisedKind> {
        Self::ALL.into_iter().find(|k| k.name() == s)
    }

    /// Trained on normal rows only (the unsupervised baselines).
    pub fn normal_only(self) -> bool {
        matches!(self, SupervisedKind::Ae | SupervisedKind::Dae)
    }

    fn denoising(self) -> bool {
        matches!(self, SupervisedKind::AbcDae | SupervisedKind::Dae)
    }

    fn loss(self) -> Option<BinaryLoss> {
        match self {
            SupervisedKind::AbcAe | SupervisedKind::AbcDae => Some(BinaryLoss::Abc),
            SupervisedKind::Lrc => Some(BinaryLoss::Lrc),
            SupervisedKind::Dnn => Some(BinaryLoss::Logistic),
            SupervisedKind::Ae | SupervisedKind::Dae => None,
        }
    }
}

/// A supervised detector's architecture and training set-up.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SupervisedConfig {
    pub kind: SupervisedKind,
    pub inputs: u32,
    /// Encoder widths, the last the latent size (the decoder mirrors them); for the DNN its
    /// hidden widths (a logit layer follows).
    pub hidden: Vec<u32>,
    pub act: Act,
    /// Input noise of the DAE bases.
    pub noise_std: f32,
    pub optimizer: Optimizer,
    pub batch: u32,
    pub seed: u64,
    /// Epochs at most, and epochs without a better validation loss before stopping.
    pub max_epochs: u32,
    pub patience: u32,
}

impl SupervisedConfig {
    /// The paper's set-up: tanh, encoder 300-100 and latent 20 (10-10 and latent 1 for
    /// two-feature data), the DNN 300-100 (10-10), Adam 1e-3, batch 100; noise 0.1 for DAEs.
    pub fn paper(kind: SupervisedKind, inputs: u32) -> SupervisedConfig {
        let small = inputs <= 2;
        let hidden = match (kind, small) {
            (SupervisedKind::Dnn, true) => vec![10, 10],
            (SupervisedKind::Dnn, false) => vec![300, 100],
            (_, true) => vec![10, 10, 1],
            (_, false) => vec![300, 100, 20],
        };
        SupervisedConfig {
            kind,
            inputs,
            hidden,
            act: Act::Tanh,
            noise_std: if kind.denoising() { 0.1 } else { 0.0 },
            optimizer: Optimizer::adam(1e-3),
            batch: 100,
            seed: 0,
            max_epochs: 100,
            patience: 10,
        }
    }
}

enum Net {
    Ae { encoder: Mlp, decoder: Mlp },
    Dnn { mlp: Mlp },
}

/// What training did.
#[derive(Clone, Debug, Default, Serialize)]
pub struct FitReport {
    pub epochs: u32,
    pub best_epoch: u32,
    pub steps: u64,
    /// The validation loss after each epoch.
    pub val_loss: Vec<f32>,
    /// Mean reconstruction error of the validation split's normal rows and known anomalies
    /// after each epoch (autoencoder bases; empty for the DNN): the ABC paper's Figure 5.
    pub normal_error: Vec<f32>,
    pub anomaly_error: Vec<f32>,
    /// The validation loss stopped being finite (LRC can run away); the best epoch is kept.
    pub diverged: bool,
}

/// A supervised detector on the GPU.
pub struct Supervised {
    gpu: Gpu,
    pub config: SupervisedConfig,
    /// How raw data becomes the model's inputs (set from the training data by
    /// `fit_and_evaluate`, kept in the model file; empty when unknown).
    pub schema: Schema,
    pub arena: ParamArena,
    net: Net,
    opt: OptimizerState,
    state: StepState,
}

impl Supervised {
    pub fn new(gpu: &Gpu, config: SupervisedConfig) -> Result<Supervised> {
        let c = &config;
        if c.hidden.is_empty() || c.batch == 0 || c.inputs == 0 {
            return Err(invalid(
                "supervised detector",
                "needs inputs, hidden sizes and a batch > 0",
            ));
        }
        let mut b = ArenaBuilder::new(c.seed);
        let net = if c.kind == SupervisedKind::Dnn {
            let mut sizes = vec![c.inputs];
            sizes.extend(&c.hidden);
            sizes.push(1);
            let mut acts = vec![c.act; c.hidden.len() + 1];
            acts[c.hidden.len()] = Act::Identity;
            Net::Dnn {
                mlp: Mlp::new(&mut b, &sizes, &acts)?,
            }
        } else {
            let ae = crate::nn::AutoencoderConfig {
                inputs: c.inputs,
                hidden: c.hidden.clone(),
                act: c.act,
                output_act: Act::Identity,
                noise_std: c.noise_std,
                optimizer: c.optimizer,
                batch: c.batch,
                seed: c.seed,
            };
            let (encoder, decoder) = ae.encoder_decoder(&mut b)?;
            Net::Ae { encoder, decoder }
        };
        let arena = b.upload(gpu)?;
        let opt = OptimizerState::new(gpu, c.optimizer, &arena)?;
        Ok(Supervised {
            gpu: gpu.clone(),
            config,
            schema: Schema::default(),
            arena,
            net,
            opt,
            state: StepState::new(gpu)?,
        })
    }

    pub fn gpu(&self) -> &Gpu {
        &self.gpu
    }

    fn check(&self, x: &Tensor, y: Option<&GpuBuffer>) -> Result<()> {
        if x.cols() != self.config.inputs {
            return Err(shape(
                self.config.kind.name(),
                format!(
                    "data has {} columns, the model takes {}",
                    x.cols(),
                    self.config.inputs
                ),
            ));
        }
        if let Some(y) = y
            && y.words() < u64::from(x.rows())
        {
            return Err(shape(
                self.config.kind.name(),
                format!("{} labels for {} rows", y.words(), x.rows()),
            ));
        }
        Ok(())
    }

    /// Each row's value: the mean squared reconstruction error, or the DNN's logit.
    /// Rows per scoring chunk ([`score_chunk`]).
    fn score_chunk(&self) -> u32 {
        match &self.net {
            Net::Ae { encoder, decoder } => score_chunk(&self.gpu, &[encoder, decoder]),
            Net::Dnn { mlp } => score_chunk(&self.gpu, &[mlp]),
        }
    }

    fn value(&self, tape: &mut Tape, input: &Tensor, clean: &Tensor) -> Result<Tensor> {
        match &self.net {
            Net::Ae { encoder, decoder } => {
                let l = encoder.forward(tape, &self.arena, input)?;
                let recon = decoder.forward(tape, &self.arena, &l)?;
                tape.row_error(&recon, clean, RowError::Mse)
            }
            Net::Dnn { mlp } => mlp.forward(tape, &self.arena, input),
        }
    }

    /// Each row's loss (for the normal-only baselines, its reconstruction error).
    fn row_loss(
        &self,
        tape: &mut Tape,
        v: &Tensor,
        y: Option<(&GpuBuffer, u32)>,
    ) -> Result<Tensor> {
        match (self.config.kind.loss(), y) {
            (Some(kind), Some((y, off))) => tape.binary_loss(v, y, off, kind),
            (Some(_), None) => Err(invalid(self.config.kind.name(), "needs labels")),
            (None, _) => Ok(v.clone()),
        }
    }

    /// Records one training step on rows `x` with labels `y` (u32, 1 normal, 0 known anomaly;
    /// ignored by the normal-only baselines, whose `x` should hold normal rows only).
    pub fn train_plan(&self, x: &Tensor, y: &GpuBuffer) -> Result<Plan> {
        self.check(x, Some(y))?;
        let c = &self.config;
        let mut tape = Tape::new(&self.gpu, &self.state);
        self.arena.register(&mut tape)?;
        let batch = tape.sample_rows_with(x, Some(y), c.batch, c.noise_std, shader_seed(c.seed))?;
        let input = batch.noisy.as_ref().unwrap_or(&batch.clean).clone();
        let v = self.value(&mut tape, &input, &batch.clean)?;
        let labels = batch.class.as_ref().map(|b| (b, 0));
        let per_row = self.row_loss(&mut tape, &v, labels)?;
        let loss = tape.mean(&per_row)?;
        tape.backward(&loss)?;
        self.opt.record(&mut tape, &self.arena)?;
        tape.advance()?;
        tape.finish()
    }

    /// Records the mean loss over all rows of `x` (clean inputs), a 1x1 tensor; with `y` None,
    /// the mean value (reconstruction error or logit) instead.
    pub fn mean_plan(&self, x: &Tensor, y: Option<&GpuBuffer>) -> Result<(Plan, Tensor)> {
        self.check(x, y)?;
        let mut tape = Tape::new(&self.gpu, &self.state);
        let all = Tensor::new(&self.gpu, x.rows(), 1, "row losses")?;
        for (r0, chunk) in x.row_chunks(self.score_chunk())? {
            let v = self.value(&mut tape, &chunk, &chunk)?;
            let l = match y {
                Some(y) => self.row_loss(&mut tape, &v, Some((y, r0)))?,
                None => v,
            };
            tape.copy(&l, &Tensor::view(all.buffer(), r0, chunk.rows(), 1)?)?;
        }
        let mean = tape.mean(&all)?;
        Ok((tape.finish()?, mean))
    }

    /// Records each row's raw value (reconstruction error or logit) into a `rows x 1` tensor.
    pub fn value_plan(&self, x: &Tensor) -> Result<(Plan, Tensor)> {
        self.check(x, None)?;
        let mut tape = Tape::new(&self.gpu, &self.state);
        let out = Tensor::new(&self.gpu, x.rows(), 1, "values")?;
        for (r0, chunk) in x.row_chunks(self.score_chunk())? {
            let v = self.value(&mut tape, &chunk, &chunk)?;
            tape.copy(&v, &Tensor::view(out.buffer(), r0, chunk.rows(), 1)?)?;
        }
        Ok((tape.finish()?, out))
    }

    /// Anomaly scores, higher = more anomalous: p(anomaly) = 1 - exp(-L) for ABC and LRC, the
    /// sigmoid of the logit for the DNN, L itself for the AE and DAE baselines. The GPU
    /// computes L or the logit; the monotone map to a probability is applied to the values
    /// read back, in f64.
    pub fn scores(&self, x: &Tensor) -> Result<Vec<f32>> {
        let (plan, v) = self.value_plan(x)?;
        plan.run(1)?;
        let v = v.read(&self.gpu)?;
        Ok(match self.config.kind {
            SupervisedKind::AbcAe | SupervisedKind::AbcDae | SupervisedKind::Lrc => v
                .iter()
                .map(|&l| -(-f64::from(l.max(0.0))).exp_m1() as f32)
                .collect(),
            SupervisedKind::Dnn => v
                .iter()
                .map(|&z| (1.0 / (1.0 + (-f64::from(z)).exp())) as f32)
                .collect(),
            SupervisedKind::Ae | SupervisedKind::Dae => v,
        })
    }

    /// Trains with early stopping. `train` and `val` are (rows, labels); for the Figure 5
    /// curves, `track` holds validation rows that are normal and that are known anomalies.
    pub fn fit(
        &mut self,
        train: (&Tensor, &GpuBuffer),
        val: (&Tensor, &GpuBuffer),
        track: Option<(&Tensor, &Tensor)>,
    ) -> Result<FitReport> {
        let c = self.config.clone();
        let step = self.train_plan(train.0, train.1)?;
        let (val_plan, val_loss) = self.mean_plan(val.0, Some(val.1))?;
        let track_plans = match (&self.net, track) {
            (Net::Ae { .. }, Some((n, a))) => {
                Some((self.mean_plan(n, None)?, self.mean_plan(a, None)?))
            }
            _ => None,
        };
        let best = Tensor::new(&self.gpu, self.arena.len(), 1, "best params")?;
        let params = Tensor::view(&self.arena.params, 0, self.arena.len(), 1)?;
        let copy_plan = |from: &Tensor, to: &Tensor| -> Result<Plan> {
            let mut tape = Tape::new(&self.gpu, &self.state);
            tape.copy(from, to)?;
            tape.finish()
        };
        let (save, restore) = (copy_plan(&params, &best)?, copy_plan(&best, &params)?);
        let steps_per_epoch = train.0.rows().div_ceil(c.batch).max(1);
        let mut report = FitReport::default();
        let mut best_loss = f32::INFINITY;
        let mut since = 0;
        save.run(1)?;
        for epoch in 1..=c.max_epochs {
            step.run(steps_per_epoch)?;
            val_plan.run(1)?;
            let loss = val_loss.read(&self.gpu)?[0];
            report.steps += u64::from(steps_per_epoch);
            report.epochs = epoch;
            report.val_loss.push(loss);
            if let Some(((np, nm), (ap, am))) = &track_plans {
                np.run(1)?;
                ap.run(1)?;
                report.normal_error.push(nm.read(&self.gpu)?[0]);
                report.anomaly_error.push(am.read(&self.gpu)?[0]);
            }
            if !loss.is_finite() {
                // LRC's loss is unbounded below: the best finite epoch is kept.
                report.diverged = true;
                break;
            }
            if loss < best_loss {
                best_loss = loss;
                report.best_epoch = epoch;
                save.run(1)?;
                since = 0;
            } else {
                since += 1;
                if since >= c.patience {
                    break;
                }
            }
        }
        restore.run(1)?;
        Ok(report)
    }
}

/// Known- and unknown-anomaly AUROC and AP (normal test rows against each kind) of a detector
/// trained on a split; None where the test set has no rows of that kind.
#[derive(Clone, Debug, Serialize)]
pub struct Evaluation {
    pub known_auroc: Option<f64>,
    pub unknown_auroc: Option<f64>,
    pub known_ap: Option<f64>,
    pub unknown_ap: Option<f64>,
    pub fit: FitReport,
}

/// The share of training rows held out for early stopping.
pub const VALIDATION_SHARE: f64 = 0.2;

/// Trains `config` on `split`'s training rows (normal rows only for the AE and DAE baselines),
/// a random 20% of them held out for early stopping, and scores the test rows.
pub fn fit_and_evaluate(
    gpu: &Gpu,
    split: &crate::data::abc::AbcSplit,
    config: SupervisedConfig,
) -> Result<(Supervised, Evaluation)> {
    use crate::data::abc::RowKind;
    use rand::SeedableRng;
    use rand::seq::SliceRandom;
    let cols = split.cols;
    if config.inputs as usize != cols {
        return Err(shape(
            config.kind.name(),
            format!(
                "the model takes {} columns, {} has {cols}",
                config.inputs, split.name
            ),
        ));
    }
    let mut rows: Vec<usize> = (0..split.train_rows())
        .filter(|&i| !config.kind.normal_only() || split.train_y[i] == 1)
        .collect();
    rows.shuffle(&mut rand::rngs::StdRng::seed_from_u64(config.seed ^ 0xabc));
    let n_val = ((rows.len() as f64 * VALIDATION_SHARE).round() as usize).max(1);
    if rows.len() < n_val + 1 {
        return Err(invalid(
            "training data",
            format!(
                "{}: {} training rows are too few to hold out a validation split",
                split.name,
                rows.len()
            ),
        ));
    }
    let (val, train) = rows.split_at(n_val);
    let upload = |ix: &[usize], what: &str| -> Result<(Tensor, GpuBuffer)> {
        let x: Vec<f32> = ix
            .iter()
            .flat_map(|&i| &split.train_x[i * cols..(i + 1) * cols])
            .copied()
            .collect();
        let y: Vec<u32> = ix.iter().map(|&i| split.train_y[i]).collect();
        Ok((
            Tensor::from_slice(gpu, &x, ix.len() as u32, cols as u32, what)?,
            gpu.upload(&y, "labels")?,
        ))
    };
    let (tx, ty) = upload(train, "train")?;
    let (vx, vy) = upload(val, "validation")?;
    let of = |y: u32| {
        val.iter()
            .copied()
            .filter(|&i| split.train_y[i] == y)
            .collect::<Vec<_>>()
    };
    let (val_normal, val_known) = (of(1), of(0));
    let track = if val_normal.is_empty() || val_known.is_empty() {
        None
    } else {
        Some((
            upload(&val_normal, "val normal")?.0,
            upload(&val_known, "val known")?.0,
        ))
    };
    let mut model = Supervised::new(gpu, config)?;
    model.schema = split.schema.clone();
    let fit = model.fit((&tx, &ty), (&vx, &vy), track.as_ref().map(|(a, b)| (a, b)))?;
    let test = Tensor::from_slice(
        gpu,
        &split.test_x,
        split.test_rows() as u32,
        cols as u32,
        "test",
    )?;
    let scores = model.scores(&test)?;
    // A kind with no test rows (a CSV split has no unknown anomalies) has no metric.
    let metric = |kind: RowKind| -> Result<(Option<f64>, Option<f64>)> {
        let (s, y) = split.versus(&scores, kind);
        if !y.contains(&1) || !y.contains(&0) {
            return Ok((None, None));
        }
        Ok((
            Some(crate::metrics::auroc(&s, &y)?),
            Some(crate::metrics::average_precision(&s, &y)?),
        ))
    };
    let (known_auroc, known_ap) = metric(RowKind::Known)?;
    let (unknown_auroc, unknown_ap) = metric(RowKind::Unknown)?;
    Ok((
        model,
        Evaluation {
            known_auroc,
            unknown_auroc,
            known_ap,
            unknown_ap,
            fit,
        },
    ))
}

/// The metadata key that marks an oddity model file, and its format version.
const FORMAT_KEY: &str = "oddity_model";
const FORMAT: &str = "supervised/1";

/// Saves the model's parameters (one f32 tensor, "params") with its architecture and training
/// set-up (JSON, "config") and its input schema (JSON, "schema") in the safetensors metadata.
pub fn save(model: &Supervised, path: &std::path::Path) -> Result<()> {
    let params = model.arena.read(&model.gpu)?;
    let bytes: &[u8] = bytemuck::cast_slice(&params);
    let view =
        safetensors::tensor::TensorView::new(safetensors::Dtype::F32, vec![params.len()], bytes)
            .map_err(|e| invalid("model file", e.to_string()))?;
    fn json<T: Serialize>(v: &T) -> Result<String> {
        serde_json::to_string(v).map_err(|e| invalid("model file", e.to_string()))
    }
    let meta = std::collections::HashMap::from([
        (FORMAT_KEY.to_string(), FORMAT.to_string()),
        ("config".to_string(), json(&model.config)?),
        ("schema".to_string(), json(&model.schema)?),
    ]);
    let out = safetensors::serialize([("params", view)], Some(meta))
        .map_err(|e| invalid("model file", e.to_string()))?;
    std::fs::write(path, out).map_err(|e| invalid("model file", format!("{}: {e}", path.display())))
}

/// Loads a model saved by [`save`] onto `gpu`. A file that is truncated, not safetensors, not
/// an oddity model, or whose parameters do not fit its architecture is an error naming it.
pub fn load(gpu: &Gpu, path: &std::path::Path) -> Result<Supervised> {
    let name = path.display().to_string();
    let bad = |detail: String| invalid("model file", format!("{name}: {detail}"));
    let bytes = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
    let st = safetensors::SafeTensors::deserialize(&bytes)
        .map_err(|e| bad(format!("not a readable safetensors file ({e})")))?;
    let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes)
        .map_err(|e| bad(format!("not a readable safetensors file ({e})")))?;
    let meta = meta.metadata().clone().unwrap_or_default();
    match meta.get(FORMAT_KEY).map(String::as_str) {
        Some(FORMAT) => {}
        Some(other) => {
            return Err(bad(format!(
                "model format {other:?}, this build reads {FORMAT:?}"
            )));
        }
        None => return Err(bad("not an oddity model (no oddity_model metadata)".into())),
    }
    let config: SupervisedConfig =
        serde_json::from_str(meta.get("config").map_or("", String::as_str))
            .map_err(|e| bad(format!("its architecture metadata is unreadable ({e})")))?;
    let schema: Schema = match meta.get("schema") {
        Some(s) => serde_json::from_str(s)
            .map_err(|e| bad(format!("its schema metadata is unreadable ({e})")))?,
        None => Schema::default(),
    };
    let t = st
        .tensor("params")
        .map_err(|e| bad(format!("no params tensor ({e})")))?;
    if t.dtype() != safetensors::Dtype::F32 {
        return Err(bad(format!("params are {:?}, expected F32", t.dtype())));
    }
    let params: Vec<f32> = t
        .data()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    let mut model = Supervised::new(gpu, config)?;
    if schema.len() != model.config.inputs as usize && !schema.is_empty() {
        return Err(bad(format!(
            "its schema has {} features, its architecture {} inputs",
            schema.len(),
            model.config.inputs
        )));
    }
    model.schema = schema;
    if params.len() != model.arena.len() as usize {
        return Err(bad(format!(
            "{} parameters, its architecture has {}",
            params.len(),
            model.arena.len()
        )));
    }
    model.arena.write(gpu, &params)?;
    Ok(model)
}
