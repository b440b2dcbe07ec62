//! The models Algorithm 1 drives: DAE, Class, DAE_uai and Class_uai (a [`UaiModel`] with or
//! without its head).

use crate::error::{Result, invalid};
use crate::gpu::GpuBuffer;
use crate::models::{LabelSet, UaiModel};
use crate::ops::topk::TopK;
use crate::tape::{Plan, Tensor};

/// A model that Algorithm 1 can train and query.
pub trait ActiveModel {
    /// The name shown in tables and journals (`dae-uai`, `dae`, `class-uai`, `class`).
    fn name(&self) -> String;
    /// Records the training and query plans for `data` and the run's label set.
    fn prepare(&mut self, data: &Tensor, labels: &LabelSet, k: u32) -> Result<()>;
    /// Replays `steps` training steps (one submit, no wait).
    fn train(&mut self, steps: u32) -> Result<()>;
    /// Scores every row and returns the k best unlabelled (row, score), best first.
    fn query(&mut self) -> Result<Vec<(u32, f32)>>;
    /// The recorded training step, once prepared (for profiling).
    fn step_plan(&self) -> Option<&Plan> {
        None
    }
}

/// A [`UaiModel`] under Algorithm 1, with every data row's class for the Class base.
pub struct ActiveUai {
    pub model: UaiModel,
    classes: Option<GpuBuffer>,
    train: Option<Plan>,
    query: Option<(Plan, TopK)>,
}

impl ActiveUai {
    pub fn new(model: UaiModel, classes: Option<GpuBuffer>) -> ActiveUai {
        ActiveUai {
            model,
            classes,
            train: None,
            query: None,
        }
    }
}

fn not_prepared() -> crate::Error {
    invalid("active model", "prepare() must be called first")
}

impl ActiveModel for ActiveUai {
    fn name(&self) -> String {
        self.model.config.name()
    }

    fn prepare(&mut self, data: &Tensor, labels: &LabelSet, k: u32) -> Result<()> {
        self.train = Some(self.model.train_plan(data, labels, self.classes.as_ref())?);
        let (plan, _, top) = self
            .model
            .query_plan(data, labels, self.classes.as_ref(), k)?;
        self.query = Some((plan, top));
        Ok(())
    }

    fn train(&mut self, steps: u32) -> Result<()> {
        self.train.as_ref().ok_or_else(not_prepared)?.run(steps)
    }

    fn step_plan(&self) -> Option<&Plan> {
        self.train.as_ref()
    }

    fn query(&mut self) -> Result<Vec<(u32, f32)>> {
        let (plan, top) = self.query.as_ref().ok_or_else(not_prepared)?;
        plan.run(1)?;
        top.read(self.model.gpu())
    }
}
