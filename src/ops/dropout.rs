//! Inverted dropout (`dropout.wgsl`): each element kept with probability 1 - rate and scaled
//! by 1 / (1 - rate), the mask drawn from (seed, step counter, tag) on the GPU, new every step
//! of a replayed plan; the backward redraws the same mask from the same counter.

use oddity_kernels::kernels as k;
use oddity_kernels::params::DropoutParams;

use super::{f32_rows, groups_1d};
use crate::error::{Result, invalid};
use crate::gpu::GpuBuffer;
use crate::tape::{Backward, BackwardCtx, Grad, Tape, Tensor};

struct DropoutBackward {
    x: Tensor,
    out: Tensor,
    state: GpuBuffer,
    p: DropoutParams,
}

impl Backward for DropoutBackward {
    fn output(&self) -> &Tensor {
        &self.out
    }

    fn backward(&self, ctx: &mut BackwardCtx<'_>, grad: Grad) -> Result<()> {
        let Some((dx, acc)) = ctx.dest(&self.x)? else {
            return Ok(());
        };
        let g = ctx.materialize(grad, &self.out)?;
        let p = DropoutParams {
            x_off: g.offset(),
            out_off: dx.offset(),
            accumulate: u32::from(acc),
            ..self.p
        };
        let groups = groups_1d(&ctx.gpu(), self.x.len())?;
        ctx.plan.dispatch(
            k::dropout::DROPOUT_BWD,
            Some(&p),
            &[
                ("x", g.buffer()),
                ("state", &self.state),
                ("out", dx.buffer()),
            ],
            groups,
        )
    }
}

impl Tape {
    /// `x` with each element zeroed with probability `rate` and the rest divided by
    /// 1 - rate, the mask drawn from (`seed`, the step counter, `tag`); `rate` 0 is `x`
    /// itself. A rate outside [0, 1) is refused.
    pub fn dropout(&mut self, x: &Tensor, rate: f32, seed: u32, tag: u32) -> Result<Tensor> {
        if !(0.0..1.0).contains(&rate) {
            return Err(invalid(
                "dropout rate",
                format!("{rate} (must be in [0, 1))"),
            ));
        }
        if rate == 0.0 {
            return Ok(x.clone());
        }
        f32_rows("dropout", &[x])?;
        let gpu = self.gpu().clone();
        let out = Tensor::new(&gpu, x.rows(), x.cols(), "dropout")?;
        let p = DropoutParams {
            n: x.len(),
            x_off: x.offset(),
            out_off: out.offset(),
            seed,
            tag,
            rate,
            accumulate: 0,
        };
        let state = self.state.buffer().clone();
        self.plan.dispatch(
            k::dropout::DROPOUT_FWD,
            Some(&p),
            &[("x", x.buffer()), ("state", &state), ("out", out.buffer())],
            groups_1d(&gpu, x.len())?,
        )?;
        self.push(
            &[x],
            Box::new(DropoutBackward {
                x: x.clone(),
                out: out.clone(),
                state,
                p,
            }),
        );
        Ok(out)
    }
}
