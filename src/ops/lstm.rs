//! An LSTM layer over whole sequences on the GPU (`lstm.wgsl`): one dispatch runs every step
//! of a batch of sequences forward (a workgroup per sequence, the four gates of a unit fused in
//! one invocation), one runs them backward through time, one more forms the recurrent weights'
//! gradient. The input's share of the gates' pre-activations (`x W_x + b` for every step at
//! once) comes from a dense layer before it, whose own backward rule then gives W_x, b and x
//! their gradients from the pre-activations' gradient this rule writes.
//!
//! Gates in the order i, f, g, o (PyTorch's); the initial state is zero.

use oddity_kernels::kernels as k;
use oddity_kernels::params::{LstmParams, NONE};

use super::f32_rows;
use super::loss::upstream;
use crate::error::{Result, shape};
use crate::tape::{Backward, BackwardCtx, Grad, Tape, Tensor};

/// The most hidden units a layer may have (the kernels keep a step's state in workgroup
/// memory).
pub const MAX_HIDDEN: u32 = 256;

/// What the forward pass keeps for the backward pass.
struct LstmBackward {
    zx: Tensor,
    wh: Tensor,
    /// h, c and the gates of every step (`LstmParams::saved` words).
    saved: Tensor,
    out: Tensor,
    p: LstmParams,
}

impl Backward for LstmBackward {
    fn output(&self) -> &Tensor {
        &self.out
    }

    fn backward(&self, ctx: &mut BackwardCtx<'_>, grad: Grad) -> Result<()> {
        let gpu = ctx.gpu();
        let p = self.p;
        let (b, h4) = (p.batch, 4 * p.hidden);
        let shared = p.zx_step == 0;
        // dz for every step, then (a zx row shared by the steps) their sums.
        let words = b * p.steps * h4 + if shared { b * h4 } else { 0 };
        let scratch = Tensor::new(&gpu, words, 1, "lstm dz")?;
        let dz = Tensor::view(scratch.buffer(), scratch.offset(), b, p.steps * h4)?;
        // The gradient of zx: dz itself, or the sums after it.
        let dzx = if shared {
            Tensor::view(scratch.buffer(), dz.offset() + dz.len(), b, h4)?
        } else {
            dz.clone()
        };
        let (g_buf, g_off, g_scale) = upstream(&gpu, &grad)?;
        let bp = LstmParams {
            g_off,
            g_scale,
            dz_off: dz.offset(),
            sum_off: if shared { dzx.offset() } else { NONE },
            ..p
        };
        ctx.plan.dispatch(
            k::lstm::LSTM_BWD,
            Some(&bp),
            &[
                ("wh", self.wh.buffer()),
                ("saved", self.saved.buffer()),
                ("g", &g_buf),
                ("out", scratch.buffer()),
            ],
            gpu.grid_1d(b)?,
        )?;
        if !ctx.adopt(&self.zx, &dzx, dzx.rows()) {
            ctx.add_scaled(&self.zx, &dzx, 1.0)?;
        }
        if let Some((dw, acc)) = ctx.dest(&self.wh)? {
            let wp = LstmParams {
                dz_off: dz.offset(),
                o_off: dw.offset(),
                accumulate: u32::from(acc),
                ..p
            };
            ctx.plan.dispatch(
                k::lstm::LSTM_DWH,
                Some(&wp),
                &[
                    ("saved", self.saved.buffer()),
                    ("dz", dz.buffer()),
                    ("out", dw.buffer()),
                ],
                gpu.grid_1d((p.hidden * h4).div_ceil(256))?,
            )?;
        }
        Ok(())
    }
}

impl Tape {
    /// An LSTM layer over `steps` steps: `zx` holds the input's share of the gates'
    /// pre-activations, `batch x (steps 4H)` (one `4H` block a step, gates i, f, g, o) or
    /// `batch x 4H` (the same for every step: a decoder fed one code); `wh` the recurrent
    /// weights, `H x 4H`. Returns every step's hidden state, `batch x (steps H)`, or with
    /// `last_only` the last step's, `batch x H`.
    pub fn lstm(
        &mut self,
        zx: &Tensor,
        wh: &Tensor,
        steps: u32,
        last_only: bool,
    ) -> Result<Tensor> {
        let op = "lstm";
        f32_rows(op, &[zx, wh])?;
        let h = wh.rows();
        if h == 0 || h > MAX_HIDDEN || wh.cols() != 4 * h {
            return Err(shape(
                op,
                format!(
                    "recurrent weights {}x{}: H x 4H with 1 <= H <= {MAX_HIDDEN}",
                    wh.rows(),
                    wh.cols()
                ),
            ));
        }
        let per_step = u64::from(steps) * 4 * u64::from(h);
        if steps == 0 || zx.rows() == 0 || (u64::from(zx.cols()) != per_step && zx.cols() != 4 * h)
        {
            return Err(shape(
                op,
                format!(
                    "{} steps of pre-activations {}x{}: batch x ({steps} x {}) or batch x {}",
                    steps,
                    zx.rows(),
                    zx.cols(),
                    4 * h,
                    4 * h
                ),
            ));
        }
        let b = zx.rows();
        let shared = zx.cols() == 4 * h && steps > 1;
        let mut p = LstmParams {
            zx_off: zx.offset(),
            zx_row: zx.cols(),
            zx_step: if shared { 0 } else { 4 * h },
            wh_off: wh.offset(),
            ..LstmParams::new(b, steps, h)
        };
        // h, c and the gates of every step (then the last step's h), in u64 until known to fit.
        let saved = 6 * u64::from(b) * u64::from(steps) * u64::from(h);
        let words = saved
            + if last_only {
                u64::from(b) * u64::from(h)
            } else {
                0
            };
        let words = u32::try_from(words).map_err(|_| {
            shape(
                op,
                format!("{b} sequences of {steps} steps of {h} units: too large a state to keep"),
            )
        })?;
        let scratch = Tensor::new(self.gpu(), words, 1, "lstm state")?;
        p.s_off = scratch.offset();
        let out = if last_only {
            p.last_off = scratch.offset() + p.saved();
            Tensor::view(scratch.buffer(), p.last_off, b, h)?
        } else {
            Tensor::view(scratch.buffer(), scratch.offset(), b, steps * h)?
        };
        let groups = self.gpu().grid_1d(b)?;
        self.plan.dispatch(
            k::lstm::LSTM_FWD,
            Some(&p),
            &[
                ("zx", zx.buffer()),
                ("wh", wh.buffer()),
                ("out", scratch.buffer()),
            ],
            groups,
        )?;
        p.g_last = u32::from(last_only);
        self.push(
            &[zx, wh],
            Box::new(LstmBackward {
                zx: zx.clone(),
                wh: wh.clone(),
                saved: scratch,
                out: out.clone(),
                p,
            }),
        );
        Ok(out)
    }
}
