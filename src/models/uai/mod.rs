//! The UAI models of "Deep Active Learning for Anomaly Detection" (Pimentel et al.): a base
//! network gives a latent code l(x) and an anomaly score s(x); the UAI head is a logistic layer,
//! p(anomaly) = sigmoid(w . [l; f(s)] + b). Its gradient reaches the base network through l but
//! not through s: s enters the head detached.
//!
//! Bases: DAE (l = enc(x + noise), s = ||x - dec(l)||^2, encoder and decoder independent) and
//! Class (an MLP predicting each row's class; s = its cross-entropy, l = its last hidden layer).
//! Without the head (`uai: false`) a model is the unsupervised baseline: it ranks by s(x).
//!
//! Until the first label, a UAI model trains exactly as its base does (the base network's own
//! step plan, the same draws): its first query is the base network's. While the labels hold
//! one class only, its queries alternate the head's best rows with the base network's
//! (`hedge`). From then on every
//! training step is one replayed plan: the base loss on a random minibatch and
//! `labelled_batch` rows drawn on the GPU (with replacement) from the labels given so far, for
//! the head's masked BCE. Both row sets go through the base network as one tensor (minibatch
//! first): one forward pass gives the base loss (the mean score of the minibatch rows) and the
//! labelled rows' l and s; the base loss's gradient is written for the minibatch rows only, so
//! the labelled rows' s stays detached.
//!
//! The head (`head.wgsl`) reads the score standardised, f = (s - mean) / sd, so that its
//! weights are in logit units whatever the base network's scale: a reconstruction error of 0.01
//! or of 50, a cross-entropy near 0. The statistics are the minibatches' over the last
//! `head_stats_window` head steps (scoring uses the last step's): 1 for DAE_uai, whose error
//! varies little between minibatches; 100 for Class_uai, whose cross-entropy's deviation over
//! one minibatch ranges 30-fold, which otherwise rescales the head's weight on the score at
//! random from one query to the next. Its weight on f is exp of a parameter: the head is increasing in the
//! base score, so labels that are all normal (the usual start: the expert sees the top-ranked
//! rows, most of them normal) can weigh the score down but never turn the ranking round. It
//! starts at 0 (the logit is f: the base network's ranking), and with `head_prior_std =
//! Some(sigma)` it is fit as MAP logistic regression under a Gaussian prior N(0, sigma^2 I) on
//! the latent weights and that log weight, the bias free (its pull is 1 / (sigma^2 n) against
//! the mean BCE of n labels, the same balance as the full MAP objective): all-normal labels
//! lower the bias, which costs nothing under the prior, rather than the weight on the score.
//! BENCHMARKS.md (stop 17) has what each of these choices changed.

use super::core::{FitReport, ModelCore, check_inputs};
use super::detector::{
    ActiveDetector, Detector, QueryPlan, detector_basics, needs_classes, prepared,
};
use super::file::Family;
use super::{LabelCounts, LabelSet};
use crate::data::Dataset;
use crate::error::{Result, invalid, shape};
use crate::gpu::{Gpu, GpuBuffer};
use crate::nn::{ArenaBuilder, EncoderDecoder, Mlp, Slot};
use crate::ops::Act;
use crate::ops::data::LabelSource;
use crate::ops::dense::DenseParams;
use crate::ops::head::{HEAD_STATS_START, HeadInput};
use crate::ops::loss::RowError;
use crate::ops::topk::TopK;
use crate::tape::{DataRows, Plan, Tape, Tensor};

mod config;
mod hedge;
pub use config::*;
use hedge::HedgedQuery;

/// The UAI head's trained parameters in the arena, and the score standardisation the last
/// training step used, which scoring reads.
struct HeadSlots {
    weights: Slot,
    /// With the head only (the plain models' arenas are as they always were).
    stats: Option<Slot>,
}

enum Base {
    Dae(EncoderDecoder),
    Class { mlp: Mlp },
}

/// A UAI model (or its base alone) on the GPU.
pub struct UaiModel {
    core: ModelCore,
    pub config: UaiConfig,
    base: Base,
    head: HeadSlots,
    /// Read and written by every head step: the score's running mean, standard deviation and
    /// count (`head.wgsl`). The query plan copies the first two into `head.stats` first.
    step_stats: Tensor,
    /// What Algorithm 1 prepared: every row's class (Class base), the training plan, and the
    /// query plan with its scores and top-k.
    prepared: Option<Prepared>,
}

struct Prepared {
    _classes: Option<GpuBuffer>,
    /// The base network's step, for the UAI models until the first label.
    base_train: Option<Plan>,
    train: Plan,
    query: QueryPlan,
    /// With the head: the query while the labels hold one class (`hedge`).
    hedged: Option<HedgedQuery>,
}

/// What the base network gives for a batch of rows.
struct BaseOut {
    latent: Tensor,
    /// s(x) per row: detached when `loss` is there.
    score: Tensor,
    /// The mean score of the first rows, when asked for (training).
    loss: Option<Tensor>,
}

impl UaiModel {
    pub fn new(gpu: &Gpu, config: UaiConfig) -> Result<UaiModel> {
        let c = &config.ae;
        if config.uai && config.head_form != HEAD_FORM {
            return Err(invalid(
                "UAI model",
                format!(
                    "{} was saved with head form {} (the raw score under a linear weight), which this version of oddity cannot score as it was scored (it builds form {HEAD_FORM}: the standardised score under an increasing weight); train the model again",
                    config.name(),
                    config.head_form
                ),
            ));
        }
        if let Some(sd) = config.head_prior_std
            && !(sd > 0.0 && (1.0 / (sd * sd)).is_normal())
        {
            return Err(invalid(
                "UAI model",
                format!("the head's prior standard deviation must be positive, got {sd}"),
            ));
        }
        if c.hidden.is_empty()
            || c.batch == 0
            || config.labelled_batch == 0
            || config.head_stats_window == 0
        {
            return Err(invalid(
                "UAI model",
                "needs hidden sizes, batch > 0, labelled batch > 0 and a head statistics window > 0",
            ));
        }
        let mut b = ArenaBuilder::new(c.seed);
        let base = match config.base {
            BaseKind::Dae => Base::Dae(c.encoder_decoder(&mut b)?),
            BaseKind::Class { classes } => {
                if classes < 2 {
                    return Err(invalid(
                        "Class model",
                        format!("needs at least two classes, got {classes}"),
                    ));
                }
                let mut sizes = vec![c.inputs];
                sizes.extend(&c.hidden);
                sizes.push(classes);
                let mut acts = vec![c.act; c.hidden.len() + 1];
                acts[c.hidden.len()] = Act::Identity;
                Base::Class {
                    mlp: Mlp::new(&mut b, &sizes, &acts)?,
                }
            }
        };
        let latent = *c.hidden.last().unwrap_or(&1);
        // The start `head.wgsl` centres the prior on: the logit starts as the standardised s.
        let head = HeadSlots {
            weights: b.fixed(latent + 2, 1, &vec![0f32; latent as usize + 2])?,
            // Never trained (no gradient reaches it): only copied into.
            stats: match config.uai {
                // The (mean, deviation) of the statistics' start.
                true => Some(b.state(2, 1, &HEAD_STATS_START[..2])?),
                false => None,
            },
        };
        let core = ModelCore::new(gpu, b, c.optimizer, c.seed)?;
        let step_stats = Tensor::from_slice(gpu, &HEAD_STATS_START, 3, 1, "head step stats")?;
        Ok(UaiModel {
            core,
            config,
            base,
            head,
            step_stats,
            prepared: None,
        })
    }

    fn widest(&self) -> u32 {
        match &self.base {
            Base::Dae(net) => net.widest(),
            Base::Class { mlp } => mlp.widest(),
        }
    }

    fn check(&self, data: &DataRows, labels: &LabelSet, classes: Option<&GpuBuffer>) -> Result<()> {
        check_inputs("UAI model", data, self.config.ae.inputs)?;
        if labels.capacity() != data.rows() {
            return Err(shape(
                "UAI model",
                format!(
                    "the label set is for {} rows, the data has {}",
                    labels.capacity(),
                    data.rows()
                ),
            ));
        }
        self.check_classes(classes)
    }

    /// l(x) and s(x) for rows `input` (noisy or not) whose clean values are `clean`; with
    /// `loss_rows`, also the base loss: the mean s of the first `loss_rows` rows, the only rows
    /// its gradient reaches (s itself is then detached).
    fn base_forward(
        &self,
        tape: &mut Tape,
        input: &Tensor,
        clean: &Tensor,
        cls: Option<(&GpuBuffer, u32)>,
        loss_rows: Option<u32>,
    ) -> Result<BaseOut> {
        match &self.base {
            Base::Dae(net) => {
                let (latent, recon) = net.forward(tape, self.core.arena(), input)?;
                let (score, loss) = match loss_rows {
                    Some(n) => {
                        let (s, l) = tape.row_error_mean(&recon, clean, RowError::SquaredL2, n)?;
                        (s, Some(l))
                    }
                    None => (tape.row_error(&recon, clean, RowError::SquaredL2)?, None),
                };
                Ok(BaseOut {
                    latent,
                    score,
                    loss,
                })
            }
            Base::Class { mlp } => {
                let (cls, off) = cls.ok_or_else(|| invalid("Class model", "no classes"))?;
                let mut outs = mlp.forward_all(tape, self.core.arena(), input)?;
                let logits = outs
                    .pop()
                    .ok_or_else(|| invalid("Class model", "no layers"))?;
                let latent = outs
                    .pop()
                    .ok_or_else(|| invalid("Class model", "no hidden layer"))?;
                let (score, loss) = match loss_rows {
                    Some(n) => {
                        let (s, l) = tape.softmax_ce_mean(&logits, cls, off, n)?;
                        (s, Some(l))
                    }
                    None => (tape.softmax_ce(&logits, cls, off)?, None),
                };
                Ok(BaseOut {
                    latent,
                    score,
                    loss,
                })
            }
        }
    }

    /// Records one training step: the base loss (mean s) on a random minibatch and, with the
    /// head, its BCE (and prior) on `labelled_batch` rows drawn from `labels`, both in one pass
    /// (see the module documentation). `classes` holds every data row's class (u32), needed
    /// by the Class base.
    pub fn train_plan(
        &self,
        data: &DataRows,
        labels: &LabelSet,
        classes: Option<&GpuBuffer>,
    ) -> Result<Plan> {
        self.record_train(data, labels, classes, self.config.uai)
    }

    /// [`Self::train_plan`] with the head or without it (the base network's own step).
    fn record_train(
        &self,
        data: &DataRows,
        labels: &LabelSet,
        classes: Option<&GpuBuffer>,
        with_head: bool,
    ) -> Result<Plan> {
        self.check(data, labels, classes)?;
        let c = &self.config.ae;
        let seed = self.core.rng_seed();
        let noise = if matches!(self.base, Base::Dae(_)) {
            c.noise_std
        } else {
            0.0
        };
        let no_loss = || invalid("UAI model", "the base network gave no loss");
        self.core.train_plan(|tape| {
            if !with_head {
                let batch = tape.sample_rows_with(data, classes, c.batch, noise, seed)?;
                let input = batch.noisy.as_ref().unwrap_or(&batch.clean).clone();
                let cls = batch.class.as_ref().map(|b| (b, 0));
                let out = self.base_forward(tape, &input, &batch.clean, cls, Some(c.batch))?;
                return Ok(vec![out.loss.ok_or_else(no_loss)?]);
            }
            let source = LabelSource {
                lab: &labels.lab,
                cap: labels.capacity(),
                classes,
            };
            let lb = tape.sample_labelled(
                data,
                source,
                c.batch,
                self.config.labelled_batch,
                noise,
                seed,
            )?;
            let input = lb.noisy.as_ref().unwrap_or(&lb.clean).clone();
            let cls = lb.class.as_ref().map(|b| (b, 0));
            let out = self.base_forward(tape, &input, &lb.clean, cls, Some(c.batch))?;
            // Logit, BCE, prior and every gradient of the head in two dispatches.
            let bce = tape.uai_head(
                HeadInput {
                    latent: &out.latent,
                    r0: c.batch,
                    score: &out.score,
                    y: &lb.y,
                    mask: &lb.mask,
                    prior: self
                        .config
                        .head_prior_std
                        .map(|sd| (1.0 / (sd * sd), &lb.count)),
                    stats: &self.step_stats,
                    stats_decay: 1.0 / self.config.head_stats_window as f32,
                },
                &DenseParams::new(self.core.param(self.head.weights)?)?,
            )?;
            Ok(vec![out.loss.ok_or_else(no_loss)?, bce])
        })
    }

    /// Records every row's score into `scores` (`rows x 1`): the head's logit with the head,
    /// else s(x); higher = more anomalous. With `base_scores`, s(x) goes there too.
    fn record_scores(
        &self,
        tape: &mut Tape,
        data: &DataRows,
        classes: Option<&GpuBuffer>,
        scores: &Tensor,
        base_scores: Option<&Tensor>,
    ) -> Result<()> {
        let head = DenseParams::new(self.core.param(self.head.weights)?)?;
        let stats = self.head.stats.map(|s| self.core.param(s)).transpose()?;
        let mut outs = vec![scores];
        outs.extend(base_scores);
        self.core
            .record_rows(tape, data, self.widest(), &outs, |tape, r0, x, dst| {
                let out = self.base_forward(tape, x, x, classes.map(|c| (c, r0)), None)?;
                if let Some(b) = dst.get(1) {
                    tape.copy(&out.score, b)?;
                }
                match &stats {
                    Some(st) => tape.uai_head_scores(&out.latent, &out.score, &head, st, &dst[0]),
                    None => tape.copy(&out.score, &dst[0]),
                }
            })
    }

    /// The standardisation the last training step used, copied where scoring reads it (the
    /// start's before any step).
    fn record_stats_copy(&self, tape: &mut Tape) -> Result<()> {
        if let Some(st) = self.head.stats {
            let used = Tensor::view(self.step_stats.buffer(), self.step_stats.offset(), 2, 1)?;
            tape.copy(&used, &self.core.param(st)?)?;
        }
        Ok(())
    }

    /// Records scoring of every row (the head's logit with the head, else s(x); higher = more
    /// anomalous), then the selection of the k best rows not yet seen: one plan, one submit,
    /// k pairs to read back.
    pub fn query_plan(
        &self,
        data: &DataRows,
        labels: &LabelSet,
        classes: Option<&GpuBuffer>,
        k: u32,
    ) -> Result<(Plan, Tensor, TopK)> {
        self.check(data, labels, classes)?;
        let scores = Tensor::new(self.core.gpu(), data.rows(), 1, "scores")?;
        let mut tape = self.core.tape();
        self.record_stats_copy(&mut tape)?;
        self.record_scores(&mut tape, data, classes, &scores, None)?;
        let top = tape.top_k(&scores, Some((&labels.flags, 0)), k)?;
        Ok((tape.finish()?, scores, top))
    }

    /// The hedged query (`hedge`) beside `query`: the head's logits into `query.scores`, as
    /// the plain query's, and the top k of the head's and of s(x)'s.
    fn hedged_plan(
        &self,
        data: &DataRows,
        labels: &LabelSet,
        classes: Option<&GpuBuffer>,
        query: &QueryPlan,
    ) -> Result<HedgedQuery> {
        let base = Tensor::new(self.core.gpu(), data.rows(), 1, "base scores")?;
        let mut tape = self.core.tape();
        self.record_stats_copy(&mut tape)?;
        self.record_scores(&mut tape, data, classes, &query.scores, Some(&base))?;
        let head_top = tape.top_k(&query.scores, Some((&labels.flags, 0)), query.top.k)?;
        let base_top = tape.top_k(&base, Some((&labels.flags, 0)), query.top.k)?;
        let base_logits = tape.top_k_logits(&base_top, &query.scores)?;
        Ok(HedgedQuery {
            plan: tape.finish()?,
            head_top,
            base_top,
            base_logits,
        })
    }

    /// The arena slots of the base network, in order (encoder then decoder, or the MLP).
    pub fn base_slots(&self) -> std::ops::Range<usize> {
        0..self.core.arena().slots.len() - 1 - usize::from(self.head.stats.is_some())
    }

    /// The head's slot in the arena: the latent weights, the log of the weight on the
    /// standardised score, and the bias (`h + 2`).
    pub fn head_slot(&self) -> Slot {
        self.head.weights
    }

    /// Every row's class on the GPU, for the Class base (None for the DAE).
    fn classes(&self, data: &Dataset) -> Result<Option<GpuBuffer>> {
        match (&self.base, &data.class) {
            (Base::Dae(_), _) => Ok(None),
            (Base::Class { .. }, Some(c)) => Ok(Some(self.core.gpu().upload(c, "classes")?)),
            (Base::Class { .. }, None) => Err(needs_classes(&self.config.name(), &data.name)),
        }
    }

    fn check_classes(&self, classes: Option<&GpuBuffer>) -> Result<()> {
        if matches!(self.base, Base::Class { .. }) && classes.is_none() {
            return Err(invalid(
                "Class model",
                "needs every row's class (the data has none)",
            ));
        }
        Ok(())
    }
}

impl Detector for UaiModel {
    fn name(&self) -> &str {
        match (self.config.base, self.config.uai) {
            (BaseKind::Dae, true) => "dae-uai",
            (BaseKind::Dae, false) => "dae",
            (BaseKind::Class { .. }, true) => "class-uai",
            (BaseKind::Class { .. }, false) => "class",
        }
    }

    detector_basics!(Family::Active);

    fn inputs(&self) -> u32 {
        self.config.ae.inputs
    }

    fn needs_classes(&self) -> bool {
        matches!(self.base, Base::Class { .. })
    }

    /// Trains the base network `fit_steps` steps on every row (no label exists yet, so the
    /// head keeps its start: its logit is s(x)).
    fn fit(&mut self, data: &Dataset) -> Result<FitReport> {
        self.check_width(data)?;
        let x = data.upload(self.core.gpu())?;
        let classes = self.classes(data)?;
        let labels = LabelSet::new(self.core.gpu(), data.rows as u32)?;
        let plan = self.record_train(&x, &labels, classes.as_ref(), false)?;
        self.core.fitted_on(data);
        self.core.fit_steps(&plan, self.config.fit_steps)
    }

    fn score_plan(&self, x: &DataRows, classes: Option<&GpuBuffer>) -> Result<(Plan, Tensor)> {
        check_inputs("UAI model", x, self.config.ae.inputs)?;
        self.check_classes(classes)?;
        let scores = Tensor::new(self.core.gpu(), x.rows(), 1, "scores")?;
        let mut tape = self.core.tape();
        self.record_scores(&mut tape, x, classes, &scores, None)?;
        Ok((tape.finish()?, scores))
    }

    fn as_active(&mut self) -> Option<&mut dyn ActiveDetector> {
        Some(self)
    }
}

impl ActiveDetector for UaiModel {
    fn prepare(&mut self, data: &Dataset, x: &DataRows, labels: &LabelSet, k: u32) -> Result<()> {
        let classes = self.classes(data)?;
        let train = self.train_plan(x, labels, classes.as_ref())?;
        let base_train = match self.config.uai {
            true => Some(self.record_train(x, labels, classes.as_ref(), false)?),
            false => None,
        };
        let (plan, scores, top) = self.query_plan(x, labels, classes.as_ref(), k)?;
        let query = QueryPlan { plan, scores, top };
        let hedged = match self.config.uai {
            true => Some(self.hedged_plan(x, labels, classes.as_ref(), &query)?),
            false => None,
        };
        self.core.fitted_on(data);
        self.prepared = Some(Prepared {
            _classes: classes,
            base_train,
            train,
            query,
            hedged,
        });
        Ok(())
    }

    fn train(&mut self, steps: u32, labels: LabelCounts) -> Result<()> {
        let p = prepared(&self.prepared)?;
        match (&p.base_train, labels.total()) {
            (Some(base), 0) => base.run(steps),
            _ => p.train.run(steps),
        }
    }

    /// The head's top k; while the labels hold one class, hedged with the base network's
    /// (`hedge`). Before any label the head's ranking is the base's, and the plain query gives
    /// the same rows.
    fn query(&mut self, labels: LabelCounts) -> Result<Vec<(u32, f32)>> {
        let p = prepared(&self.prepared)?;
        match &p.hedged {
            Some(h) if labels.total() > 0 && !labels.both_classes() => h.select(self.core.gpu()),
            _ => p.query.select(self.core.gpu()),
        }
    }

    fn last_scores(&self) -> Result<Vec<f32>> {
        prepared(&self.prepared)?.query.scores.read(self.core.gpu())
    }

    fn step_plan(&self) -> Option<&Plan> {
        self.prepared.as_ref().map(|p| &p.train)
    }

    /// The step with the labels, the base network's step (before the first label), the
    /// query, and the hedged query (while the labels hold one class); the last two only
    /// with the head.
    fn plans(&self) -> Vec<(&'static str, &Plan)> {
        let Some(p) = &self.prepared else {
            return Vec::new();
        };
        let mut out = vec![("step", &p.train)];
        out.extend(p.base_train.iter().map(|b| ("base step", b)));
        out.push(("query", &p.query.plan));
        out.extend(p.hedged.iter().map(|h| ("hedged query", &h.plan)));
        out
    }
}
