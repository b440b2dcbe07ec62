//! A multilayer perceptron: dense layers of any sizes and activations, parameters in an arena.

use super::{ArenaBuilder, ParamArena, Slot};
use crate::error::{Result, invalid};
use crate::ops::Act;
use crate::ops::dense::DenseParams;
use crate::tape::{Tape, Tensor};

/// Layer sizes `[in, h1, ..., out]` with one activation per layer.
#[derive(Clone, Debug)]
pub struct Mlp {
    pub sizes: Vec<u32>,
    pub acts: Vec<Act>,
    slots: Vec<Slot>,
}

impl Mlp {
    /// Reserves and initialises the layers' slots in `arena`.
    pub fn new(arena: &mut ArenaBuilder, sizes: &[u32], acts: &[Act]) -> Result<Mlp> {
        if sizes.len() < 2 || acts.len() != sizes.len() - 1 {
            return Err(invalid(
                "mlp",
                format!(
                    "{} sizes need {} activations, got {}",
                    sizes.len(),
                    sizes.len().saturating_sub(1),
                    acts.len()
                ),
            ));
        }
        if let Some(i) = sizes.iter().position(|&s| s == 0) {
            return Err(invalid("mlp", format!("layer size {i} is zero")));
        }
        let slots = sizes.windows(2).map(|w| arena.dense(w[0], w[1])).collect();
        Ok(Mlp {
            sizes: sizes.to_vec(),
            acts: acts.to_vec(),
            slots,
        })
    }

    pub fn inputs(&self) -> u32 {
        self.sizes[0]
    }

    pub fn outputs(&self) -> u32 {
        self.sizes[self.sizes.len() - 1]
    }

    /// The layers' parameters in `arena`.
    pub fn layers(&self, arena: &ParamArena) -> Result<Vec<DenseParams>> {
        self.slots
            .iter()
            .map(|&s| DenseParams::new(arena.param(s)?))
            .collect()
    }

    /// Every layer's output, last one last.
    pub fn forward_all(
        &self,
        tape: &mut Tape,
        arena: &ParamArena,
        x: &Tensor,
    ) -> Result<Vec<Tensor>> {
        let mut outs: Vec<Tensor> = Vec::with_capacity(self.slots.len());
        for (layer, &act) in self.layers(arena)?.iter().zip(&self.acts) {
            let input = outs.last().unwrap_or(x).clone();
            outs.push(tape.dense(&input, layer, act)?);
        }
        Ok(outs)
    }

    /// The network's output.
    pub fn forward(&self, tape: &mut Tape, arena: &ParamArena, x: &Tensor) -> Result<Tensor> {
        let mut outs = self.forward_all(tape, arena, x)?;
        outs.pop().ok_or_else(|| invalid("mlp", "no layers"))
    }
}
