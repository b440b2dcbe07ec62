//! The face every detector shows, in the manner of PyOD and scikit-learn: fit on rows, score
//! them (higher = more anomalous), a threshold set from a contamination rate or a held-out
//! percentile, predict 0/1, save and load. The UAI models add the active-learning face
//! ([`ActiveDetector`]): fit the base, take labels, query the top k.
//!
//! ```no_run
//! # fn main() -> oddity::Result<()> {
//! use oddity::models::{Settings, Threshold, registry};
//! let gpu = oddity::Gpu::new()?;
//! let data = oddity::data::digits()?;
//! let mut vae = registry::detector("vae")?.build(&gpu, &data, &Settings::default())?;
//! vae.fit(&data)?;
//! let scores = vae.score(&data)?;
//! vae.set_threshold(Some(Threshold::contamination(&scores, 0.05)?))?;
//! let flagged = vae.predict(&data)?; // 1 = anomaly
//! vae.save("vae.safetensors".as_ref())?;
//! let back = registry::load(&gpu, "vae.safetensors".as_ref())?;
//! # Ok(()) }
//! ```

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::core::{FitReport, ModelCore};
use super::file::{Family, ModelFile};
use super::{LabelCounts, LabelSet};
use crate::data::{Dataset, Schema};
use crate::error::{Result, invalid, shape};
use crate::gpu::{Gpu, GpuBuffer};
use crate::tape::{DataRows, Plan, Tensor};

/// How a threshold was set, kept with it in the model file.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "rule")]
pub enum ThresholdRule {
    /// Flags this share of the scores it was set from (PyOD's `contamination`).
    Contamination { rate: f64 },
    /// The given percentile of held-out (normal) rows' scores.
    Percentile { percentile: f64 },
    /// A value given as it is.
    Fixed,
}

/// The score from which a row is flagged as an anomaly (`score >= value`).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Threshold {
    pub value: f64,
    #[serde(flatten)]
    pub rule: ThresholdRule,
}

impl Threshold {
    /// The threshold that flags a `rate` share of `scores` (those of the training rows): their
    /// (1 - rate) quantile, interpolated as numpy's percentile, as PyOD sets `threshold_`.
    pub fn contamination(scores: &[f32], rate: f64) -> Result<Threshold> {
        Ok(Threshold {
            value: crate::metrics::contamination_threshold(scores, rate)?,
            rule: ThresholdRule::Contamination { rate },
        })
    }

    /// The `percentile`-th percentile (0 to 100) of `scores`, those of held-out rows taken to
    /// be normal: about (100 - percentile)% of normal data is then flagged.
    pub fn percentile(scores: &[f32], percentile: f64) -> Result<Threshold> {
        if !(0.0..=100.0).contains(&percentile) {
            return Err(invalid(
                "threshold percentile",
                format!("{percentile} is outside [0, 100]"),
            ));
        }
        Ok(Threshold {
            value: crate::metrics::quantile(scores, percentile / 100.0)?,
            rule: ThresholdRule::Percentile { percentile },
        })
    }

    pub fn fixed(value: f64) -> Threshold {
        Threshold {
            value,
            rule: ThresholdRule::Fixed,
        }
    }

    /// 1 for each score at or above the threshold, else 0.
    pub fn flags(&self, scores: &[f32]) -> Vec<u8> {
        scores
            .iter()
            .map(|&s| u8::from(f64::from(s) >= self.value))
            .collect()
    }
}

/// A detector: see the module documentation. Every method that a user's data or a device can
/// make fail returns an error, never panics.
pub trait Detector {
    /// The registry name (`vae`, `abc-ae`, `dae-uai`, ...).
    fn name(&self) -> &str;

    /// The registry family it was built from.
    fn family(&self) -> Family;

    /// The model core: parameters, optimizer and step state, schema, threshold.
    fn core(&self) -> &ModelCore;
    fn core_mut(&mut self) -> &mut ModelCore;

    /// The configuration, as its model file keeps it.
    fn config(&self) -> Result<serde_json::Value>;

    /// The number of features a row must have.
    fn inputs(&self) -> u32;

    /// Refuses `data` whose rows do not have the features the model takes, naming both.
    fn check_width(&self, data: &Dataset) -> Result<()> {
        if data.cols != self.inputs() as usize {
            return Err(shape(
                "data",
                format!(
                    "{} has {} features, {} takes {}",
                    data.name,
                    data.cols,
                    self.name(),
                    self.inputs()
                ),
            ));
        }
        Ok(())
    }

    /// Whether fitting learns from the rows' anomaly labels (the supervised detectors); the
    /// others are fit on rows taken to be normal, or on all rows.
    fn supervised(&self) -> bool {
        false
    }

    /// Whether scoring needs every row's class (the Class models).
    fn needs_classes(&self) -> bool {
        false
    }

    /// Trains on `data`'s rows. The supervised detectors learn from `data.anomaly` (1 =
    /// anomaly) and refuse data without it; the others ignore it. The data's schema becomes
    /// the model's (kept in its file, to encode new data as this data was).
    fn fit(&mut self, data: &Dataset) -> Result<FitReport>;

    /// Records the scoring of rows already on the GPU (`classes`: each row's class, for the
    /// models that need it): the plan and the `rows x 1` tensor it fills. Its values rank
    /// rows as [`Detector::score`] does; [`Detector::finish_scores`] turns them into scores.
    fn score_plan(&self, x: &DataRows, classes: Option<&GpuBuffer>) -> Result<(Plan, Tensor)>;

    /// The map from what [`Detector::score_plan`] computes to the scores `score` returns
    /// (monotone; the identity unless a model says otherwise).
    fn finish_scores(&self, raw: Vec<f32>) -> Vec<f32> {
        raw
    }

    /// Each row's anomaly score for rows already on the GPU: [`Detector::score_plan`] run
    /// once and read back (one submit, one wait).
    fn score_tensor(&self, x: &DataRows, classes: Option<&GpuBuffer>) -> Result<Vec<f32>> {
        let (plan, scores) = self.score_plan(x, classes)?;
        plan.run(1)?;
        Ok(self.finish_scores(scores.read(self.gpu())?))
    }

    /// Each row's anomaly score, higher = more anomalous, for any number of rows (uploaded in
    /// pieces that each fit one binding of the adapter).
    fn score(&self, data: &Dataset) -> Result<Vec<f32>> {
        self.check_width(data)?;
        let classes = match (&data.class, self.needs_classes()) {
            (Some(c), true) => Some(c),
            (None, true) => return Err(needs_classes(self.name(), &data.name)),
            (_, false) => None,
        };
        let core = self.core();
        let per_upload = core.chunk_rows(self.inputs());
        core.score_rows(&data.x, self.inputs(), per_upload, |x, r0| {
            let cls = classes
                .map(|c| {
                    let rows = r0 as usize..(r0 + x.rows()) as usize;
                    core.gpu().upload(&c[rows], "classes")
                })
                .transpose()?;
            self.score_tensor(&x.into(), cls.as_ref())
        })
    }

    /// The threshold, once set.
    fn threshold(&self) -> Option<&Threshold> {
        self.core().threshold.as_ref()
    }

    /// Sets (or, with None, clears) the threshold; refused on a model never fitted, whose
    /// scores mean nothing yet.
    fn set_threshold(&mut self, threshold: Option<Threshold>) -> Result<()> {
        if threshold.is_some() && !self.fitted() {
            return Err(invalid(
                "threshold",
                format!(
                    "{} has not been fitted: fit it before setting a threshold from its scores",
                    self.name()
                ),
            ));
        }
        self.core_mut().threshold = threshold;
        Ok(())
    }

    /// Whether the model has been fitted (or loaded from a fitted model's file).
    fn fitted(&self) -> bool {
        self.core().fitted()
    }

    /// 1 for each row scoring at or above the threshold, else 0; an error before a
    /// threshold is set.
    fn predict(&self, data: &Dataset) -> Result<Vec<u8>> {
        let t = *self.threshold().ok_or_else(|| {
            invalid(
                "predict",
                format!(
                    "{} has no threshold: set one with Threshold::contamination or Threshold::percentile",
                    self.name()
                ),
            )
        })?;
        Ok(t.flags(&self.score(data)?))
    }

    /// How raw data becomes the model's inputs (empty when unknown).
    fn schema(&self) -> &Schema {
        &self.core().schema
    }

    fn set_schema(&mut self, schema: Schema) {
        self.core_mut().schema = schema;
    }

    fn gpu(&self) -> &Gpu {
        self.core().gpu()
    }

    /// Writes the model file: parameters, optimizer state, step counter, registry name,
    /// configuration, schema and threshold ([`crate::models::registry::load`] reads it).
    fn save(&self, path: &Path) -> Result<()> {
        ModelFile {
            kind: self.name().to_string(),
            family: self.family(),
            config: self.config()?,
            schema: self.schema().clone(),
            threshold: self.threshold().copied(),
            fitted: self.fitted(),
            state: self.core().state()?,
        }
        .write(path)
    }

    /// The active-learning face, for the models Algorithm 1 drives.
    fn as_active(&mut self) -> Option<&mut dyn ActiveDetector> {
        None
    }

    /// [`Detector::as_active`], or an error naming a model that has no such face.
    fn active(&mut self) -> Result<&mut dyn ActiveDetector> {
        let name = self.name().to_string();
        self.as_active()
            .ok_or_else(|| invalid("model", format!("{name} does not learn from labels")))
    }
}

/// The four [`Detector`] methods every model writes the same way, for a model whose fields
/// `core` and `config` hold its [`ModelCore`] and its serde configuration:
/// `detector_basics!(Family::Detector);` inside its `impl Detector`.
macro_rules! detector_basics {
    ($family:expr) => {
        fn family(&self) -> $crate::models::Family {
            $family
        }

        fn core(&self) -> &$crate::models::ModelCore {
            &self.core
        }

        fn core_mut(&mut self) -> &mut $crate::models::ModelCore {
            &mut self.core
        }

        fn config(&self) -> $crate::Result<serde_json::Value> {
            $crate::models::file::config_json(&self.config)
        }
    };
}
pub(crate) use detector_basics;

/// The error for a model that needs every row's class, given data without classes.
pub(crate) fn needs_classes(model: &str, data: &str) -> crate::Error {
    invalid(
        "model",
        format!(
            "{model} predicts each row's class, and {data} has none (for CSV data: --class-col)"
        ),
    )
}

/// An active model's prepared query: the plan that scores every row (or reads scores already
/// computed) and selects the k best not yet shown, the scores it ranks and the top-k it fills.
pub(crate) struct QueryPlan {
    pub plan: Plan,
    pub scores: Tensor,
    pub top: crate::ops::topk::TopK,
}

impl QueryPlan {
    /// Runs the plan (one submit) and reads the k (row, score) pairs back, best first.
    pub fn select(&self, gpu: &Gpu) -> Result<Vec<(u32, f32)>> {
        self.plan.run(1)?;
        self.top.read(gpu)
    }
}

/// What an active model has prepared, or the error for a model used before
/// [`ActiveDetector::prepare`].
pub(crate) fn prepared<T>(p: &Option<T>) -> Result<&T> {
    p.as_ref()
        .ok_or_else(|| invalid("active model", "prepare() must be called first"))
}

/// A detector that learns from an expert's labels as they arrive (Algorithm 1 drives it):
/// its base network is trained before any label exists, then every round trains with the
/// labels so far and queries the k highest-scoring rows not yet shown.
pub trait ActiveDetector: Detector {
    /// Records the training and query plans for `data` (uploaded as `x`, at the run's
    /// precision), the run's label set and `k`.
    fn prepare(&mut self, data: &Dataset, x: &DataRows, labels: &LabelSet, k: u32) -> Result<()>;

    /// Replays `steps` training steps (one submit, no wait), with `labels` given so far (a UAI
    /// model trains its base network alone until the first).
    fn train(&mut self, steps: u32, labels: LabelCounts) -> Result<()>;

    /// Scores every row and returns k rows not yet shown, (row, score): the k best, best
    /// first, except that a UAI model whose `labels` hold one class only interleaves its
    /// head's best with its base network's (see `uai`).
    fn query(&mut self, labels: LabelCounts) -> Result<Vec<(u32, f32)>>;

    /// Every row's score as the last query ranked them.
    fn last_scores(&self) -> Result<Vec<f32>>;

    /// The recorded training step, once prepared (for profiling).
    fn step_plan(&self) -> Option<&Plan>;

    /// Every plan [`ActiveDetector::prepare`] recorded, by name ("step", "query", ...), for
    /// reports of what each dispatch asks of the GPU ([`Plan::report`]); empty before.
    fn plans(&self) -> Vec<(&'static str, &Plan)>;
}
