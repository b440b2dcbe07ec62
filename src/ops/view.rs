//! Reshaping: the same row-major values seen as another `rows x cols`, with no dispatch; the
//! gradient passes back unchanged (a conv layer's `C x H x W` rows as one column for a
//! per-element loss, a code row as a 1 x 1 image).

use crate::error::{Result, shape};
use crate::tape::{Backward, BackwardCtx, Grad, Tape, Tensor};

struct ReshapeBackward {
    x: Tensor,
    y: Tensor,
}

impl Backward for ReshapeBackward {
    fn output(&self) -> &Tensor {
        &self.y
    }

    fn backward(&self, ctx: &mut BackwardCtx<'_>, grad: Grad) -> Result<()> {
        ctx.pass_through(&self.x, grad)
    }
}

impl Tape {
    /// `x`'s values as a `rows x cols` tensor (a view of the same words; the same count).
    pub fn reshape(&mut self, x: &Tensor, rows: u32, cols: u32) -> Result<Tensor> {
        if u64::from(rows) * u64::from(cols) != u64::from(x.len()) {
            return Err(shape(
                "reshape",
                format!(
                    "{} x {} holds {} values, not {rows} x {cols}",
                    x.rows(),
                    x.cols(),
                    x.len()
                ),
            ));
        }
        if (rows, cols) == (x.rows(), x.cols()) {
            return Ok(x.clone());
        }
        let y = Tensor::view(x.buffer(), x.offset(), rows, cols)?;
        self.push(
            &[x],
            Box::new(ReshapeBackward {
                x: x.clone(),
                y: y.clone(),
            }),
        );
        Ok(y)
    }
}
