//! The UAI paper's X_hard: train a weak classifier (one small hidden layer, a few hundred
//! steps) on the GPU to predict each row's class; the rows it gets wrong are the anomalies.
//!
//! The hidden layer is tanh: with 4 ReLU units, units that died at random made the anomaly
//! share swing from 10% to 73% of the digits between seeds (seeds 0-9: 181 ... 1316 of 1797);
//! with tanh it stays at 9-14% (160 ... 248).

use super::core::ModelCore;
use crate::data::Dataset;
use crate::error::{DataError, Error, Result};
use crate::gpu::Gpu;
use crate::nn::{ArenaBuilder, Mlp, Optimizer};
use crate::ops::Act;
use crate::tape::{DataRows, Tensor};

/// Hidden units, steps and batch of the weak classifier.
pub const WEAK_HIDDEN: u32 = 4;
pub const WEAK_STEPS: u32 = 300;
pub const WEAK_BATCH: u32 = 64;

/// The weak classifier: `inputs -> WEAK_HIDDEN (tanh) -> classes` logits, Adam 0.01.
pub struct WeakClassifier {
    core: ModelCore,
    mlp: Mlp,
}

impl WeakClassifier {
    pub fn new(gpu: &Gpu, inputs: u32, classes: u32, seed: u64) -> Result<WeakClassifier> {
        let mut b = ArenaBuilder::new(seed);
        let mlp = Mlp::new(
            &mut b,
            &[inputs, WEAK_HIDDEN, classes],
            &[Act::Tanh, Act::Identity],
        )?;
        let core = ModelCore::new(gpu, b, Optimizer::adam(0.01), seed)?;
        Ok(WeakClassifier { core, mlp })
    }

    /// Trains `steps` steps of minibatches of `WEAK_BATCH` rows of `x` with their classes
    /// (`cls`, one u32 a row), mean cross-entropy.
    pub fn fit(&self, x: &DataRows, cls: &crate::gpu::GpuBuffer, steps: u32) -> Result<()> {
        let plan = self.core.train_plan(|tape| {
            let seed = self.core.rng_seed();
            let batch = tape.sample_rows_with(x, Some(cls), WEAK_BATCH, 0.0, seed)?;
            let drawn = batch
                .class
                .ok_or_else(|| Error::Data(DataError::Request("no classes drawn".into())))?;
            let logits = self.mlp.forward(tape, self.core.arena(), &batch.clean)?;
            let ce = tape.softmax_ce(&logits, &drawn, 0)?;
            Ok(vec![tape.mean(&ce)?])
        })?;
        plan.run(steps)
    }

    /// The class each row of `x` is predicted to have (the largest logit, the first of ties).
    pub fn predict(&self, x: &DataRows) -> Result<Vec<usize>> {
        let classes = self.mlp.outputs();
        let logits = Tensor::new(self.core.gpu(), x.rows(), classes, "logits")?;
        let mut tape = self.core.tape();
        self.core.record_rows(
            &mut tape,
            x,
            self.mlp.widest(),
            &[&logits],
            |tape, _, x, out| {
                let z = self.mlp.forward(tape, self.core.arena(), x)?;
                tape.copy(&z, &out[0])
            },
        )?;
        tape.finish()?.run(1)?;
        let z = logits.read(self.core.gpu())?;
        Ok(z.chunks(classes as usize)
            .map(|row| {
                row.iter()
                    .enumerate()
                    .fold(0, |b, (j, v)| if *v > row[b] { j } else { b })
            })
            .collect())
    }
}

/// `base` with `anomaly` set to the rows a weak classifier misclassifies (same seed, same
/// adapter: the same rows).
pub fn construct_hard(gpu: &Gpu, base: &Dataset, seed: u64) -> Result<Dataset> {
    let class = base.class.as_ref().ok_or_else(|| {
        DataError::Request(format!("{} has no classes to build X_hard from", base.name))
    })?;
    let classes = class.iter().max().map_or(0, |m| m + 1);
    if classes < 2 {
        return Err(Error::Data(DataError::Request(
            "X_hard needs at least two classes".into(),
        )));
    }
    let x = base.upload(gpu)?;
    let cls = gpu.upload(class, "classes")?;
    let model = WeakClassifier::new(gpu, base.cols as u32, classes, seed)?;
    model.fit(&x, &cls, WEAK_STEPS)?;
    let anomaly = model
        .predict(&x)?
        .iter()
        .zip(class)
        .map(|(&best, &truth)| u8::from(best != truth as usize))
        .collect();
    Ok(Dataset {
        name: format!("{}_hard", base.name),
        anomaly: Some(anomaly),
        ..base.clone()
    })
}
