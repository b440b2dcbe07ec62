//! The UAI paper's X_hard: train a weak classifier (one small hidden layer, a few hundred
//! steps) on the GPU to predict each row's class; the rows it gets wrong are the anomalies.
//!
//! The hidden layer is tanh: with 4 ReLU units, units that died at random made the anomaly
//! share swing from 10% to 73% of the digits between seeds (seeds 0-9: 181 ... 1316 of 1797);
//! with tanh it stays at 9-14% (160 ... 248).

use super::{DataError, Dataset};
use crate::error::{Error, Result};
use crate::gpu::Gpu;
use crate::nn::{ArenaBuilder, Mlp, Optimizer, OptimizerState, shader_seed};
use crate::ops::Act;
use crate::tape::{StepState, Tape};

/// Hidden units, steps and batch of the weak classifier.
pub const WEAK_HIDDEN: u32 = 4;
pub const WEAK_STEPS: u32 = 300;
pub const WEAK_BATCH: u32 = 64;

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
    let mut b = ArenaBuilder::new(seed);
    let mlp = Mlp::new(
        &mut b,
        &[base.cols as u32, WEAK_HIDDEN, classes],
        &[Act::Tanh, Act::Identity],
    )?;
    let arena = b.upload(gpu)?;
    let opt = OptimizerState::new(gpu, Optimizer::adam(0.01), &arena)?;
    let state = StepState::new(gpu)?;

    let mut tape = Tape::new(gpu, &state);
    arena.register(&mut tape)?;
    let batch = tape.sample_rows_with(&x, Some(&cls), WEAK_BATCH, 0.0, shader_seed(seed))?;
    let drawn = batch
        .class
        .ok_or_else(|| Error::Data(DataError::Request("no classes drawn".into())))?;
    let logits = mlp.forward(&mut tape, &arena, &batch.clean)?;
    let ce = tape.softmax_ce(&logits, &drawn, 0)?;
    let loss = tape.mean(&ce)?;
    tape.backward(&loss)?;
    opt.record(&mut tape, &arena)?;
    tape.advance()?;
    tape.finish()?.run(WEAK_STEPS)?;

    let mut tape = Tape::new(gpu, &state);
    let logits = mlp.forward(&mut tape, &arena, &x)?;
    tape.finish()?.run(1)?;
    let z = logits.read(gpu)?;
    let c = classes as usize;
    let anomaly = z
        .chunks(c)
        .zip(class)
        .map(|(row, &truth)| {
            let best = row
                .iter()
                .enumerate()
                .fold(0, |b, (j, v)| if *v > row[b] { j } else { b });
            u8::from(best != truth as usize)
        })
        .collect();
    Ok(Dataset {
        name: format!("{}_hard", base.name),
        anomaly: Some(anomaly),
        ..base.clone()
    })
}
