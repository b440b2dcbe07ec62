//! The angle between each row of a prediction and of its target (the arccos of their cosine
//! similarity, the iterative detector's reconstruction error; `angle.wgsl`), with its backward
//! rule. It is computed as 2 atan2(|x^ - y^|, |x^ + y^|) on the unit rows, which keeps small
//! angles accurate where arccos of a cosine near 1 would not.

use oddity_kernels::kernels as k;
use oddity_kernels::params::{AngleParams, NONE};

use super::loss::upstream;
use super::sized;
use crate::error::{Result, shape};
use crate::tape::{Backward, BackwardCtx, Grad, Tape, Tensor};

struct AngleBackward {
    pred: Tensor,
    target: Tensor,
    out: Tensor,
}

impl Backward for AngleBackward {
    fn output(&self) -> &Tensor {
        &self.out
    }

    fn backward(&self, ctx: &mut BackwardCtx<'_>, grad: Grad) -> Result<()> {
        let Some((dp, acc)) = ctx.dest(&self.pred)? else {
            return Ok(());
        };
        let gpu = ctx.gpu();
        let (g_buf, g_off, g_scale) = upstream(&gpu, &grad)?;
        let p = AngleParams {
            pred_off: self.pred.offset(),
            target_off: self.target.offset(),
            out_off: dp.offset(),
            g_off,
            g_scale,
            accumulate: u32::from(acc),
            a_off: self.out.offset(),
            ..AngleParams::new(self.pred.rows(), self.pred.cols())
        };
        ctx.plan.dispatch(
            k::angle::ANGLE_BWD,
            Some(&p),
            &[
                ("pred", self.pred.buffer()),
                ("tgt", self.target.buffer()),
                ("g", &g_buf),
                ("ang", self.out.buffer()),
                ("out", dp.buffer()),
            ],
            gpu.grid_1d(self.pred.rows())?,
        )
    }
}

impl Tape {
    /// Each row's angle between `pred` and `target` (`rows x 1`, radians in [0, pi]; pi / 2
    /// when either row is all zeros); `target` is data (no gradient).
    pub fn row_angle(&mut self, pred: &Tensor, target: &Tensor) -> Result<Tensor> {
        let out = Tensor::new(self.gpu(), pred.rows(), 1, "row angle")?;
        self.row_angle_into(pred, target, &out)?;
        self.push(
            &[pred],
            Box::new(AngleBackward {
                pred: pred.clone(),
                target: target.clone(),
                out: out.clone(),
            }),
        );
        Ok(out)
    }

    /// [`Tape::row_angle`] into `out` (a `rows x 1` view, e.g. a slice of a score vector). For
    /// scoring: it records no backward rule.
    pub fn row_angle_into(&mut self, pred: &Tensor, target: &Tensor, out: &Tensor) -> Result<()> {
        let op = "row_angle";
        self.check_row_error(op, pred, target)?;
        if pred.is_empty() {
            return Err(shape(
                op,
                format!(
                    "prediction {}x{} vs target {}x{}",
                    pred.rows(),
                    pred.cols(),
                    target.rows(),
                    target.cols()
                ),
            ));
        }
        sized(op, "the output", out, pred.rows(), 1)?;
        let gpu = self.gpu().clone();
        let p = AngleParams {
            pred_off: pred.offset(),
            target_off: target.offset(),
            out_off: out.offset(),
            g_off: NONE,
            ..AngleParams::new(pred.rows(), pred.cols())
        };
        self.plan.dispatch(
            k::angle::ANGLE_FWD,
            Some(&p),
            &[
                ("pred", pred.buffer()),
                ("tgt", target.buffer()),
                ("out", out.buffer()),
            ],
            gpu.grid_1d(pred.rows())?,
        )
    }
}
