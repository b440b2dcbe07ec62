//! The supervised binary losses of the ABC paper (ABC, LRC, and the DNN's sigmoid
//! cross-entropy) per row, with their backward rule (`binloss.wgsl`).

use oddity_kernels::kernels as k;
use oddity_kernels::params::{BinLossParams, NONE};

use super::loss::upstream;
use super::{groups_1d, sized};
use crate::error::{Result, shape};
use crate::gpu::GpuBuffer;
use crate::tape::{Backward, BackwardCtx, Grad, Tape, Tensor};

/// A supervised binary loss per row, labels y = 1 normal, 0 known anomaly (`binloss.wgsl`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinaryLoss {
    /// ABC on a reconstruction error L: y L - (1 - y) log(1 - exp(-L)).
    Abc,
    /// LRC on L: y L - (1 - y) L.
    Lrc,
    /// Sigmoid cross-entropy on the logit z of p(anomaly): softplus(z) - (1 - y) z.
    Logistic,
}

impl BinaryLoss {
    fn code(self) -> u32 {
        match self {
            BinaryLoss::Abc => 0,
            BinaryLoss::Lrc => 1,
            BinaryLoss::Logistic => 2,
        }
    }
}

struct BinLossBackward {
    v: Tensor,
    y: GpuBuffer,
    y_off: u32,
    kind: BinaryLoss,
    out: Tensor,
}

impl Backward for BinLossBackward {
    fn output(&self) -> &Tensor {
        &self.out
    }

    fn backward(&self, ctx: &mut BackwardCtx<'_>, grad: Grad) -> Result<()> {
        let Some((dv, acc)) = ctx.dest(&self.v)? else {
            return Ok(());
        };
        let gpu = ctx.gpu();
        let (g_buf, g_off, g_scale) = upstream(&gpu, &grad)?;
        let p = BinLossParams {
            rows: self.v.rows(),
            kind: self.kind.code(),
            v_off: self.v.offset(),
            y_off: self.y_off,
            out_off: dv.offset(),
            g_off,
            g_scale,
            accumulate: u32::from(acc),
        };
        ctx.plan.dispatch(
            k::binloss::BINLOSS_BWD,
            Some(&p),
            &[
                ("v", self.v.buffer()),
                ("y", &self.y),
                ("g", &g_buf),
                ("out", dv.buffer()),
            ],
            groups_1d(&gpu, self.v.rows())?,
        )
    }
}

impl Tape {
    /// Per-row supervised binary loss of `v` (`rows x 1`: a reconstruction error for ABC and
    /// LRC, a logit for the logistic loss) against labels `y[y_off ..]` (u32, 1 = normal,
    /// 0 = known anomaly), a `rows x 1` tensor. A label other than 0 or 1 gives NaN.
    pub fn binary_loss(
        &mut self,
        v: &Tensor,
        y: &GpuBuffer,
        y_off: u32,
        kind: BinaryLoss,
    ) -> Result<Tensor> {
        sized("binary_loss", "values", v, v.rows(), 1)?;
        if u64::from(y_off) + u64::from(v.rows()) > y.words() {
            return Err(shape(
                "binary_loss",
                format!("{} labels from {y_off} for {} rows", y.words(), v.rows()),
            ));
        }
        let out = Tensor::new(self.gpu(), v.rows(), 1, "binary loss")?;
        let p = BinLossParams {
            rows: v.rows(),
            kind: kind.code(),
            v_off: v.offset(),
            y_off,
            out_off: out.offset(),
            g_off: NONE,
            g_scale: 1.0,
            accumulate: 0,
        };
        let groups = groups_1d(self.gpu(), v.rows())?;
        // Deferred: the backward does not read the losses' values.
        self.plan.defer(
            k::binloss::BINLOSS_FWD,
            Some(&p),
            &[("v", v.buffer()), ("y", y), ("out", out.buffer())],
            groups,
        )?;
        self.push(
            &[v],
            Box::new(BinLossBackward {
                v: v.clone(),
                y: y.clone(),
                y_off,
                kind,
                out: out.clone(),
            }),
        );
        Ok(out)
    }
}
