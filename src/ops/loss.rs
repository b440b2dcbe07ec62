//! Losses: row-wise reconstruction error (squared L2 or MSE), masked BCE with logits and softmax
//! cross-entropy, each with its backward rule; the supervised binary losses of the ABC paper
//! live in [`super::binloss`] and are re-exported here.

use oddity_kernels::kernels as k;
use oddity_kernels::params::{BceParams, CeParams, NONE, ReduceParams, RowErrParams};

use super::{groups_1d, sized};
use crate::error::{Result, invalid, shape};
use crate::gpu::{Gpu, GpuBuffer};
use crate::tape::{Backward, BackwardCtx, Grad, Tape, Tensor};

pub use super::binloss::BinaryLoss;

/// Which row-wise reconstruction error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RowError {
    /// sum_j (pred - target)^2
    SquaredL2,
    /// mean_j (pred - target)^2
    Mse,
}

/// The upstream gradient as a kernel operand: (buffer, offset or NONE, scale).
pub(crate) fn upstream(gpu: &Gpu, grad: &Grad) -> Result<(GpuBuffer, u32, f32)> {
    Ok(match grad {
        Grad::Const(c) => (gpu.dummy(false)?, NONE, *c),
        Grad::Buf(t) => (t.buffer().clone(), t.offset(), 1.0),
    })
}

struct RowErrBackward {
    pred: Tensor,
    target: Tensor,
    kind: RowError,
    out: Tensor,
}

impl Backward for RowErrBackward {
    fn output(&self) -> &Tensor {
        &self.out
    }

    fn backward(&self, ctx: &mut BackwardCtx<'_>, grad: Grad) -> Result<()> {
        let Some((dp, acc)) = ctx.dest(&self.pred)? else {
            return Ok(());
        };
        let gpu = ctx.gpu();
        let (g_buf, g_off, g_scale) = upstream(&gpu, &grad)?;
        let p = RowErrParams {
            rows: self.pred.rows(),
            cols: self.pred.cols(),
            pred_off: self.pred.offset(),
            target_off: self.target.offset(),
            out_off: dp.offset(),
            mse: u32::from(self.kind == RowError::Mse),
            g_off,
            g_scale,
            accumulate: u32::from(acc),
            d_off: NONE,
            d_rows: 0,
        };
        let groups = groups_1d(&gpu, self.pred.len())?;
        ctx.plan.dispatch(
            k::rowerr::ROWERR_BWD,
            Some(&p),
            &[
                ("pred", self.pred.buffer()),
                ("tgt", self.target.buffer()),
                ("g", &g_buf),
                ("out", dp.buffer()),
            ],
            groups,
        )
    }
}

/// The backward rule of a loss whose gradient with respect to `x` was written in its forward
/// pass: for the seed gradient 1 that buffer becomes `x`'s gradient (no dispatch); any other
/// constant scales it in.
struct PrecomputedBackward {
    x: Tensor,
    grad: Tensor,
    /// The rows the loss covers: `grad` is zero past them.
    rows: u32,
    out: Tensor,
}

impl Backward for PrecomputedBackward {
    fn output(&self) -> &Tensor {
        &self.out
    }

    fn backward(&self, ctx: &mut BackwardCtx<'_>, grad: Grad) -> Result<()> {
        match grad {
            Grad::Const(c) if c == 1.0 && ctx.adopt(&self.x, &self.grad, self.rows) => Ok(()),
            Grad::Const(c) => ctx.add_scaled(&self.x, &self.grad, c),
            Grad::Buf(_) => Err(invalid(
                "backward",
                "a mean loss must end the loss (its gradient is a constant)",
            )),
        }
    }
}

struct BceBackward {
    z: Tensor,
    y: Tensor,
    mask: Option<Tensor>,
    out: Tensor,
}

impl Backward for BceBackward {
    fn output(&self) -> &Tensor {
        &self.out
    }

    fn backward(&self, ctx: &mut BackwardCtx<'_>, grad: Grad) -> Result<()> {
        let Some((dz, acc)) = ctx.dest(&self.z)? else {
            return Ok(());
        };
        let gpu = ctx.gpu();
        let (g_buf, g_off, g_scale) = upstream(&gpu, &grad)?;
        let mask_buf = self
            .mask
            .as_ref()
            .map(|m| m.buffer().clone())
            .unwrap_or(gpu.dummy(false)?);
        let p = BceParams {
            rows: self.z.rows(),
            z_off: self.z.offset(),
            y_off: self.y.offset(),
            mask_off: self.mask.as_ref().map_or(NONE, |m| m.offset()),
            out_off: dz.offset(),
            g_off,
            g_scale,
            accumulate: u32::from(acc),
        };
        ctx.plan.dispatch(
            k::bce::BCE_BWD,
            Some(&p),
            &[
                ("z", self.z.buffer()),
                ("y", self.y.buffer()),
                ("mask", &mask_buf),
                ("g", &g_buf),
                ("out", dz.buffer()),
            ],
            [1, 1, 1],
        )
    }
}

impl Tape {
    /// Per-row reconstruction error of `pred` against `target` (data: it gets no gradient),
    /// a `rows x 1` tensor.
    pub fn row_error(&mut self, pred: &Tensor, target: &Tensor, kind: RowError) -> Result<Tensor> {
        self.check_row_error("row_error", pred, target)?;
        let out = Tensor::new(self.gpu(), pred.rows(), 1, "row error")?;
        self.record_row_error(pred, target, kind, &out, None)?;
        self.push(
            &[pred],
            Box::new(RowErrBackward {
                pred: pred.clone(),
                target: target.clone(),
                kind,
                out: out.clone(),
            }),
        );
        Ok(out)
    }

    /// Per-row reconstruction errors of every row (`rows x 1`, detached: no gradient flows back
    /// through them) and the mean error of the first `loss_rows` rows (1x1), the loss. The
    /// loss's gradient is written in the same pass as the errors, so when it ends the loss (seed
    /// gradient 1) its backward records no dispatch. The rows past `loss_rows` are scored only:
    /// one forward pass serves a minibatch's loss and other rows' scores.
    pub fn row_error_mean(
        &mut self,
        pred: &Tensor,
        target: &Tensor,
        kind: RowError,
        loss_rows: u32,
    ) -> Result<(Tensor, Tensor)> {
        self.check_row_error("row_error", pred, target)?;
        check_loss_rows("row_error_mean", pred, loss_rows)?;
        let scores = Tensor::new(self.gpu(), pred.rows(), 1, "row error")?;
        let grad = self.loss_grad(pred)?;
        self.record_row_error(
            pred,
            target,
            kind,
            &scores,
            grad.as_ref().map(|g| (g, loss_rows)),
        )?;
        let loss = self.mean_of_first(&scores, loss_rows, pred, grad)?;
        Ok((scores, loss))
    }

    /// Per-row reconstruction error written into `out` (a `rows x 1` view, e.g. a slice of
    /// a dataset-wide score vector). For scoring: it records no backward rule.
    pub fn row_error_into(
        &mut self,
        pred: &Tensor,
        target: &Tensor,
        kind: RowError,
        out: &Tensor,
    ) -> Result<()> {
        self.check_row_error("row_error", pred, target)?;
        sized("row_error", "output", out, pred.rows(), 1)?;
        self.record_row_error(pred, target, kind, out, None)
    }

    /// An error of `op` unless `pred` and `target` have one shape and `target` needs no
    /// gradient (it is data).
    pub(crate) fn check_row_error(
        &self,
        op: &'static str,
        pred: &Tensor,
        target: &Tensor,
    ) -> Result<()> {
        if (pred.rows(), pred.cols()) != (target.rows(), target.cols()) {
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
        if self.needs_grad(target) {
            return Err(invalid(
                op,
                "the target is treated as data and must not need a gradient",
            ));
        }
        Ok(())
    }

    /// The row errors into `out`; with `grad = (dpred, d_rows)` also the gradient of the mean
    /// error of the first `d_rows` rows into `dpred`.
    fn record_row_error(
        &mut self,
        pred: &Tensor,
        target: &Tensor,
        kind: RowError,
        out: &Tensor,
        grad: Option<(&Tensor, u32)>,
    ) -> Result<()> {
        let gpu = self.gpu().clone();
        let p = RowErrParams {
            rows: pred.rows(),
            cols: pred.cols(),
            pred_off: pred.offset(),
            target_off: target.offset(),
            out_off: out.offset(),
            mse: u32::from(kind == RowError::Mse),
            g_off: NONE,
            g_scale: grad.map_or(1.0, |(_, rows)| 1.0 / rows as f32),
            accumulate: 0,
            d_off: grad.map_or(NONE, |(g, _)| g.offset()),
            d_rows: grad.map_or(0, |(_, rows)| rows),
        };
        let dpred = match grad {
            Some((g, _)) => g.buffer().clone(),
            None => gpu.dummy(true)?,
        };
        let groups = gpu.grid_1d(pred.rows())?;
        self.plan.dispatch(
            k::rowerr::ROWERR_FWD,
            Some(&p),
            &[
                ("pred", pred.buffer()),
                ("tgt", target.buffer()),
                ("out", out.buffer()),
                ("dpred", &dpred),
            ],
            groups,
        )
    }

    /// Mean BCE with logits `z` (`rows x 1`) against targets `y` in [0, 1], over the rows whose
    /// `mask` is 1 (all rows when `mask` is None); a 1x1 tensor. Targets and mask get no gradient.
    pub fn bce_with_logits(
        &mut self,
        z: &Tensor,
        y: &Tensor,
        mask: Option<&Tensor>,
    ) -> Result<Tensor> {
        sized("bce_with_logits", "logits", z, z.rows(), 1)?;
        sized("bce_with_logits", "targets", y, z.rows(), 1)?;
        if let Some(m) = mask {
            sized("bce_with_logits", "mask", m, z.rows(), 1)?;
        }
        let out = Tensor::new(self.gpu(), 1, 1, "bce")?;
        let gpu = self.gpu().clone();
        let mask_buf = mask
            .map(|m| m.buffer().clone())
            .unwrap_or(gpu.dummy(false)?);
        let p = BceParams {
            rows: z.rows(),
            z_off: z.offset(),
            y_off: y.offset(),
            mask_off: mask.map_or(NONE, |m| m.offset()),
            out_off: out.offset(),
            g_off: NONE,
            g_scale: 1.0,
            accumulate: 0,
        };
        // Deferred: the backward does not read the loss's value.
        self.plan.defer(
            k::bce::BCE_FWD,
            Some(&p),
            &[
                ("z", z.buffer()),
                ("y", y.buffer()),
                ("mask", &mask_buf),
                ("out", out.buffer()),
            ],
            [1, 1, 1],
        )?;
        self.push(
            &[z],
            Box::new(BceBackward {
                z: z.clone(),
                y: y.clone(),
                mask: mask.cloned(),
                out: out.clone(),
            }),
        );
        Ok(out)
    }
}

struct CeBackward {
    z: Tensor,
    cls: GpuBuffer,
    cls_off: u32,
    out: Tensor,
}

impl Backward for CeBackward {
    fn output(&self) -> &Tensor {
        &self.out
    }

    fn backward(&self, ctx: &mut BackwardCtx<'_>, grad: Grad) -> Result<()> {
        let Some((dz, acc)) = ctx.dest(&self.z)? else {
            return Ok(());
        };
        let gpu = ctx.gpu();
        let (g_buf, g_off, g_scale) = upstream(&gpu, &grad)?;
        let p = CeParams {
            rows: self.z.rows(),
            cols: self.z.cols(),
            z_off: self.z.offset(),
            cls_off: self.cls_off,
            out_off: dz.offset(),
            g_off,
            g_scale,
            accumulate: u32::from(acc),
            d_off: NONE,
            d_rows: 0,
        };
        ctx.plan.dispatch(
            k::softmax_ce::CE_BWD,
            Some(&p),
            &[
                ("z", self.z.buffer()),
                ("cls", &self.cls),
                ("g", &g_buf),
                ("out", dz.buffer()),
            ],
            groups_1d(&gpu, self.z.rows())?,
        )
    }
}

impl Tape {
    /// Per-row softmax cross-entropy of `logits` (`rows x classes`) against the classes in
    /// `cls[cls_off ..]` (one u32 per row), a `rows x 1` tensor. A class out of range gives NaN.
    pub fn softmax_ce(&mut self, logits: &Tensor, cls: &GpuBuffer, cls_off: u32) -> Result<Tensor> {
        let out = self.record_softmax_ce(logits, cls, cls_off, None)?;
        self.push(
            &[logits],
            Box::new(CeBackward {
                z: logits.clone(),
                cls: cls.clone(),
                cls_off,
                out: out.clone(),
            }),
        );
        Ok(out)
    }

    /// Per-row cross-entropies of every row (detached) and their mean over the first
    /// `loss_rows` rows, the loss, its gradient written in the same pass: the
    /// [`Tape::row_error_mean`] of a classifier.
    pub fn softmax_ce_mean(
        &mut self,
        logits: &Tensor,
        cls: &GpuBuffer,
        cls_off: u32,
        loss_rows: u32,
    ) -> Result<(Tensor, Tensor)> {
        check_loss_rows("softmax_ce_mean", logits, loss_rows)?;
        let grad = self.loss_grad(logits)?;
        let scores =
            self.record_softmax_ce(logits, cls, cls_off, grad.as_ref().map(|g| (g, loss_rows)))?;
        let loss = self.mean_of_first(&scores, loss_rows, logits, grad)?;
        Ok((scores, loss))
    }

    fn record_softmax_ce(
        &mut self,
        logits: &Tensor,
        cls: &GpuBuffer,
        cls_off: u32,
        grad: Option<(&Tensor, u32)>,
    ) -> Result<Tensor> {
        if u64::from(cls_off) + u64::from(logits.rows()) > cls.words() {
            return Err(shape(
                "softmax_ce",
                format!(
                    "{} classes from {cls_off} for {} rows",
                    cls.words(),
                    logits.rows()
                ),
            ));
        }
        if logits.cols() < 2 {
            return Err(shape("softmax_ce", "needs at least two classes"));
        }
        let gpu = self.gpu().clone();
        let out = Tensor::new(&gpu, logits.rows(), 1, "cross-entropy")?;
        let p = CeParams {
            rows: logits.rows(),
            cols: logits.cols(),
            z_off: logits.offset(),
            cls_off,
            out_off: out.offset(),
            g_off: NONE,
            g_scale: grad.map_or(1.0, |(_, rows)| 1.0 / rows as f32),
            accumulate: 0,
            d_off: grad.map_or(NONE, |(g, _)| g.offset()),
            d_rows: grad.map_or(0, |(_, rows)| rows),
        };
        let dz = match grad {
            Some((g, _)) => g.buffer().clone(),
            None => gpu.dummy(true)?,
        };
        self.plan.dispatch(
            k::softmax_ce::CE_FWD,
            Some(&p),
            &[
                ("z", logits.buffer()),
                ("cls", cls),
                ("out", out.buffer()),
                ("dz", &dz),
            ],
            groups_1d(&gpu, logits.rows())?,
        )?;
        Ok(out)
    }

    /// A buffer for the gradient of a loss with respect to `x`, written in its forward pass;
    /// None when `x` needs no gradient.
    fn loss_grad(&self, x: &Tensor) -> Result<Option<Tensor>> {
        self.needs_grad(x)
            .then(|| Tensor::new(self.gpu(), x.rows(), x.cols(), "loss grad"))
            .transpose()
    }

    /// The mean of the first `rows` of `scores` (1x1), the loss whose gradient with respect to
    /// `x` its forward pass wrote to `grad`.
    fn mean_of_first(
        &mut self,
        scores: &Tensor,
        rows: u32,
        x: &Tensor,
        grad: Option<Tensor>,
    ) -> Result<Tensor> {
        let loss = Tensor::new(self.gpu(), 1, 1, "mean loss")?;
        let p = ReduceParams {
            n: rows,
            x_off: scores.offset(),
            out_off: loss.offset(),
            scale: 1.0 / rows as f32,
        };
        // Deferred: the loss's value is for the host; the replays skip it (the gradient was
        // written with the row errors).
        self.plan.defer(
            k::reduce::REDUCE_SUM,
            Some(&p),
            &[("x", scores.buffer()), ("out", loss.buffer())],
            [1, 1, 1],
        )?;
        if let Some(grad) = grad {
            self.push(
                &[x],
                Box::new(PrecomputedBackward {
                    x: x.clone(),
                    grad,
                    rows,
                    out: loss.clone(),
                }),
            );
        }
        Ok(loss)
    }
}

fn check_loss_rows(op: &'static str, x: &Tensor, loss_rows: u32) -> Result<()> {
    if loss_rows == 0 || loss_rows > x.rows() {
        return Err(invalid(
            op,
            format!("a loss over {loss_rows} of {} rows (1 to {0})", x.rows()),
        ));
    }
    Ok(())
}
