//! An LSTM layer's parameters in an arena and its forward pass: the input's share of the
//! gates for every step in one dense GEMM (`x W_x + b`), then [`Tape::lstm`] over the steps.

use super::{ArenaBuilder, ParamArena, Slot};
use crate::error::{Result, shape};
use crate::ops::Act;
use crate::ops::dense::DenseParams;
use crate::ops::lstm::MAX_HIDDEN;
use crate::tape::{Tape, Tensor};

/// An LSTM layer of `hidden` units over inputs of `inputs` values a step.
#[derive(Clone, Debug)]
pub struct Lstm {
    pub inputs: u32,
    pub hidden: u32,
    /// W_x then the bias row, `(inputs + 1) x 4 hidden` (gates i, f, g, o).
    wx: Slot,
    /// W_h, `hidden x 4 hidden`.
    wh: Slot,
}

impl Lstm {
    /// Reserves the layer in `arena`, every weight and bias from U(-1/sqrt(hidden),
    /// 1/sqrt(hidden)) (PyTorch's `nn.LSTM`; its two bias vectors are one here).
    pub fn new(arena: &mut ArenaBuilder, inputs: u32, hidden: u32) -> Result<Lstm> {
        if inputs == 0 || hidden == 0 || hidden > MAX_HIDDEN {
            return Err(shape(
                "lstm layer",
                format!(
                    "{inputs} inputs and {hidden} units: at least 1 each, at most {MAX_HIDDEN} units"
                ),
            ));
        }
        let bound = 1.0 / (hidden as f32).sqrt();
        Ok(Lstm {
            inputs,
            hidden,
            wx: arena.uniform(inputs + 1, 4 * hidden, bound),
            wh: arena.uniform(hidden, 4 * hidden, bound),
        })
    }

    /// The hidden states over `steps` steps of `x`: `batch x (steps inputs)` (a step's
    /// inputs a block), or `batch x inputs` fed at every step. Every step's, `batch x (steps
    /// hidden)`, or with `last_only` the last step's, `batch x hidden`.
    pub fn forward(
        &self,
        tape: &mut Tape,
        arena: &ParamArena,
        x: &Tensor,
        steps: u32,
        last_only: bool,
    ) -> Result<Tensor> {
        let (b, h4) = (x.rows(), 4 * self.hidden);
        let wx = DenseParams::new(arena.param(self.wx)?)?;
        let zx = if x.cols() == self.inputs {
            tape.dense(x, &wx, Act::Identity)?
        } else if u64::from(x.cols()) == u64::from(steps) * u64::from(self.inputs) {
            let each = tape.reshape(x, b * steps, self.inputs)?;
            let z = tape.dense(&each, &wx, Act::Identity)?;
            tape.reshape(&z, b, steps * h4)?
        } else {
            return Err(shape(
                "lstm layer",
                format!(
                    "{}x{} inputs for {steps} steps of {}",
                    x.rows(),
                    x.cols(),
                    self.inputs
                ),
            ));
        };
        tape.lstm(&zx, &arena.param(self.wh)?, steps, last_only)
    }

    /// The most values a row holds in the forward pass over `steps` steps: the state the
    /// layer keeps (h, c and the gates of every step) and the gates' pre-activations.
    pub fn widest(&self, steps: u32) -> u32 {
        steps
            .saturating_mul(self.hidden)
            .saturating_mul(10)
            .saturating_add(self.hidden)
    }
}
