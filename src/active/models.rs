//! The models Algorithm 1 drives: a DAE that ranks by reconstruction error and ignores labels
//! (the unsupervised baseline), and DAE_uai, whose head learns from them.

use crate::error::{Result, invalid};
use crate::models::{DaeUai, LabelSet};
use crate::nn::Autoencoder;
use crate::ops::topk::TopK;
use crate::tape::{Plan, Tensor};

/// A model that Algorithm 1 can train and query.
pub trait ActiveModel {
    /// The name shown in tables and journals (`dae`, `dae-uai`).
    fn name(&self) -> String;
    /// Records the training and query plans for `data` and the run's label set.
    fn prepare(&mut self, data: &Tensor, labels: &LabelSet, k: u32) -> Result<()>;
    /// Replays `steps` training steps (one submit, no wait).
    fn train(&mut self, steps: u32) -> Result<()>;
    /// Scores every row and returns the k best unlabelled (row, score), best first.
    fn query(&mut self) -> Result<Vec<(u32, f32)>>;
}

fn not_prepared() -> crate::Error {
    invalid("active model", "prepare() must be called first")
}

fn run_query(plan: &Option<(Plan, TopK)>, gpu: &crate::Gpu) -> Result<Vec<(u32, f32)>> {
    let (plan, top) = plan.as_ref().ok_or_else(not_prepared)?;
    plan.run(1)?;
    top.read(gpu)
}

/// The plain DAE under Algorithm 1.
pub struct ActiveDae {
    pub model: Autoencoder,
    data: Option<Tensor>,
    query: Option<(Plan, TopK)>,
}

impl ActiveDae {
    pub fn new(model: Autoencoder) -> ActiveDae {
        ActiveDae {
            model,
            data: None,
            query: None,
        }
    }
}

impl ActiveModel for ActiveDae {
    fn name(&self) -> String {
        "dae".into()
    }

    fn prepare(&mut self, data: &Tensor, labels: &LabelSet, k: u32) -> Result<()> {
        self.query = Some(self.model.query_plan(data, &labels.flags, k)?);
        self.data = Some(data.clone());
        Ok(())
    }

    fn train(&mut self, steps: u32) -> Result<()> {
        let data = self.data.clone().ok_or_else(not_prepared)?;
        self.model.fit(&data, steps)
    }

    fn query(&mut self) -> Result<Vec<(u32, f32)>> {
        run_query(&self.query, self.model.gpu())
    }
}

/// DAE_uai under Algorithm 1.
pub struct ActiveUai {
    pub model: DaeUai,
    train: Option<Plan>,
    query: Option<(Plan, TopK)>,
}

impl ActiveUai {
    pub fn new(model: DaeUai) -> ActiveUai {
        ActiveUai {
            model,
            train: None,
            query: None,
        }
    }
}

impl ActiveModel for ActiveUai {
    fn name(&self) -> String {
        "dae-uai".into()
    }

    fn prepare(&mut self, data: &Tensor, labels: &LabelSet, k: u32) -> Result<()> {
        self.train = Some(self.model.train_plan(data, labels)?);
        let (plan, _, top) = self.model.query_plan(data, labels, k)?;
        self.query = Some((plan, top));
        Ok(())
    }

    fn train(&mut self, steps: u32) -> Result<()> {
        self.train.as_ref().ok_or_else(not_prepared)?.run(steps)
    }

    fn query(&mut self) -> Result<Vec<(u32, f32)>> {
        run_query(&self.query, self.model.gpu())
    }
}
