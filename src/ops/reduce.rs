//! Sum and mean of a whole tensor into a 1x1 tensor. Their gradient is a constant, so the
//! backward rule records no dispatch.

use oddity_kernels::kernels as k;
use oddity_kernels::params::ReduceParams;

use crate::error::{Result, invalid};
use crate::tape::{Backward, BackwardCtx, Grad, Tape, Tensor};

struct ReduceBackward {
    x: Tensor,
    scale: f32,
    out: Tensor,
}

impl Backward for ReduceBackward {
    fn output(&self) -> &Tensor {
        &self.out
    }

    fn backward(&self, ctx: &mut BackwardCtx<'_>, grad: Grad) -> Result<()> {
        match grad {
            Grad::Const(c) => ctx.add_const(&self.x, c * self.scale),
            Grad::Buf(_) => Err(invalid(
                "backward",
                "a reduction's output must end the loss (its gradient is a constant)",
            )),
        }
    }
}

impl Tape {
    fn reduce(&mut self, x: &Tensor, scale: f32) -> Result<Tensor> {
        let out = Tensor::new(self.gpu(), 1, 1, "reduce")?;
        let p = ReduceParams {
            n: x.len(),
            x_off: x.offset(),
            out_off: out.offset(),
            scale,
        };
        // Deferred: a sum nothing in the step reads (a loss's value) runs once per run.
        self.plan.defer(
            k::reduce::REDUCE_SUM,
            Some(&p),
            &[("x", x.buffer()), ("out", out.buffer())],
            [1, 1, 1],
        )?;
        self.push(
            &[x],
            Box::new(ReduceBackward {
                x: x.clone(),
                scale,
                out: out.clone(),
            }),
        );
        Ok(out)
    }

    /// The sum of all elements, a 1x1 tensor.
    pub fn sum(&mut self, x: &Tensor) -> Result<Tensor> {
        self.reduce(x, 1.0)
    }

    /// The mean of all elements, a 1x1 tensor.
    pub fn mean(&mut self, x: &Tensor) -> Result<Tensor> {
        self.weighted_mean(x, 1.0)
    }

    /// `w` times the mean of all elements, a 1x1 tensor (a weighted term of a loss).
    pub fn weighted_mean(&mut self, x: &Tensor, w: f32) -> Result<Tensor> {
        if x.is_empty() {
            return Err(invalid("mean", "of an empty tensor"));
        }
        if !w.is_finite() {
            return Err(invalid("mean", format!("at weight {w} (must be finite)")));
        }
        self.reduce(x, w / x.len() as f32)
    }
}
