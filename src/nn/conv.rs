//! A stack of convolution layers (either direction), each layer's output the next one's
//! input, parameters in an arena: a convolutional encoder or decoder.

use super::{ArenaBuilder, ParamArena, Slot};
use crate::error::{Result, invalid, shape};
use crate::ops::Act;
use crate::ops::conv::{Chw, Conv2d, ConvLayer};
use crate::tape::{Tape, Tensor};

/// Conv layers with one activation each; each layer's output shape is the next one's input.
#[derive(Clone, Debug)]
pub struct ConvStack {
    pub layers: Vec<Conv2d>,
    pub acts: Vec<Act>,
    slots: Vec<Slot>,
}

impl ConvStack {
    /// Reserves and initialises the layers' slots in `arena`; refuses an empty stack, a
    /// missing activation and layers whose shapes do not chain.
    pub fn new(arena: &mut ArenaBuilder, layers: Vec<Conv2d>, acts: Vec<Act>) -> Result<Self> {
        if layers.is_empty() || acts.len() != layers.len() {
            return Err(invalid(
                "conv stack",
                format!(
                    "{} layers need as many activations, got {}",
                    layers.len(),
                    acts.len()
                ),
            ));
        }
        for (i, w) in layers.windows(2).enumerate() {
            if w[0].output != w[1].input {
                return Err(shape(
                    "conv stack",
                    format!(
                        "layer {i} gives {} images, layer {} takes {}",
                        w[0].output,
                        i + 1,
                        w[1].input
                    ),
                ));
            }
        }
        let slots = layers.iter().map(|l| arena.conv(l)).collect();
        Ok(ConvStack {
            layers,
            acts,
            slots,
        })
    }

    pub fn input(&self) -> Chw {
        self.layers[0].input
    }

    pub fn output(&self) -> Chw {
        self.layers[self.layers.len() - 1].output
    }

    /// The arena words its layers hold.
    pub fn words(&self) -> u32 {
        self.slots.iter().map(|s| s.rows * s.cols).sum()
    }

    /// The most values a row holds at any layer (input or output).
    pub fn widest(&self) -> u32 {
        self.layers
            .iter()
            .flat_map(|l| [l.input.values(), l.output.values()])
            .map(|v| v.unwrap_or(u32::MAX))
            .max()
            .unwrap_or(1)
    }

    /// Every layer's output, last one last.
    pub fn forward_all(
        &self,
        tape: &mut Tape,
        arena: &ParamArena,
        x: &Tensor,
    ) -> Result<Vec<Tensor>> {
        self.forward_first(tape, arena, x, self.layers.len())
    }

    /// The outputs of the first `n` layers (all of them at most).
    pub fn forward_first(
        &self,
        tape: &mut Tape,
        arena: &ParamArena,
        x: &Tensor,
        n: usize,
    ) -> Result<Vec<Tensor>> {
        let mut outs: Vec<Tensor> = Vec::with_capacity(n);
        let layers = self.layers.iter().zip(&self.acts).zip(&self.slots).take(n);
        for ((conv, &act), &slot) in layers {
            let layer = ConvLayer::new(*conv, arena.param(slot)?)?;
            let input = outs.last().unwrap_or(x).clone();
            outs.push(tape.conv2d(&input, &layer, act)?);
        }
        Ok(outs)
    }
}
