//! Column standardisation as model state: each column's mean and population deviation over the
//! training rows (computed on the host in f64), kept in the model's arena (so its file carries
//! them) and applied on the GPU before the networks. A constant column is only centred.

use super::core::ModelCore;
use crate::data::Dataset;
use crate::error::Result;
use crate::nn::{ArenaBuilder, Slot};
use crate::tape::{Tape, Tensor};

/// A model's column statistics (`2 x inputs`: the means, then the deviations).
#[derive(Clone, Copy, Debug)]
pub(crate) struct ColumnScaling {
    stats: Slot,
}

impl ColumnScaling {
    /// Reserves the statistics in `arena`, starting as the identity (mean 0, deviation 1).
    pub fn reserve(arena: &mut ArenaBuilder, inputs: u32) -> Result<ColumnScaling> {
        let mut stats = vec![0f32; 2 * inputs as usize];
        stats[inputs as usize..].fill(1.0);
        Ok(ColumnScaling {
            stats: arena.state(2, inputs, &stats)?,
        })
    }

    /// [`ColumnScaling::reserve`] where `standardise` is set (a model's option), else none.
    pub fn reserve_if(
        arena: &mut ArenaBuilder,
        inputs: u32,
        standardise: bool,
    ) -> Result<Option<ColumnScaling>> {
        standardise
            .then(|| ColumnScaling::reserve(arena, inputs))
            .transpose()
    }

    /// [`ColumnScaling::fit`] where `scaling` is set.
    pub fn fit_if(scaling: Option<&ColumnScaling>, core: &ModelCore, data: &Dataset) -> Result<()> {
        scaling.map_or(Ok(()), |s| s.fit(core, data))
    }

    /// Sets the statistics from every row of `data`; a deviation of (about) 0 becomes 1.
    pub fn fit(&self, core: &ModelCore, data: &Dataset) -> Result<()> {
        let mut stats = data.column_stats();
        stats[data.cols..]
            .iter_mut()
            .filter(|sd| **sd <= f32::EPSILON)
            .for_each(|sd| *sd = 1.0);
        self.write(core, &stats)
    }

    /// Sets the statistics as given (`2 x inputs`, computed elsewhere).
    pub fn write(&self, core: &ModelCore, stats: &[f32]) -> Result<()> {
        core.param(self.stats)?.write(core.gpu(), stats)
    }

    /// `x` standardised where `scaling` is set (a new tensor, no gradient flowing back to `x`),
    /// else `x` itself.
    pub fn apply_if(
        scaling: Option<&ColumnScaling>,
        core: &ModelCore,
        tape: &mut Tape,
        x: &Tensor,
    ) -> Result<Tensor> {
        match scaling {
            Some(s) => s.apply(core, tape, x),
            None => Ok(x.clone()),
        }
    }

    /// `x` standardised, a new tensor (no gradient flows back to `x`).
    pub fn apply(&self, core: &ModelCore, tape: &mut Tape, x: &Tensor) -> Result<Tensor> {
        let xs = Tensor::new(core.gpu(), x.rows(), x.cols(), "standardised rows")?;
        tape.pca_standardize(x, &core.param(self.stats)?, &xs)?;
        Ok(xs)
    }
}
