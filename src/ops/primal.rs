//! The one-class SVM's large-set approximation (`ocsvm_primal.wgsl`): random Fourier
//! features, and the linear one-class SVM's primal objective with its backward rule,
//! `J = 1/2 |w|^2 + 1/(nu B) sum_i max(0, rho - u_i) - rho` for `u = phi w`.

use oddity_kernels::kernels as k;
use oddity_kernels::params::{NONE, PrimalParams};

use super::loss::upstream;
use super::{groups_1d, one_buffer, sized};
use crate::error::{Result, shape};
use crate::gpu::GpuBuffer;
use crate::tape::{Backward, BackwardCtx, Grad, Tape, Tensor};

/// `w` and `rho` as the kernels read them: views of one buffer, `w` a `cols x 1` column.
fn model_buffer(op: &'static str, w: &Tensor, rho: &Tensor) -> Result<GpuBuffer> {
    if w.cols() != 1 || rho.len() != 1 {
        return Err(shape(op, "w must be a column and rho one value"));
    }
    one_buffer(op, "w and rho", &[w, rho])
}

struct PrimalBackward {
    u: Tensor,
    w: Tensor,
    rho: Tensor,
    nu: f32,
    out: Tensor,
}

impl PrimalBackward {
    fn params(&self, g_off: u32, g_scale: f32) -> PrimalParams {
        PrimalParams {
            u_off: self.u.offset(),
            w_off: self.w.offset(),
            r_off: self.rho.offset(),
            g_off,
            g_scale,
            nu: self.nu,
            ..PrimalParams::new(self.u.rows(), self.w.rows())
        }
    }
}

impl Backward for PrimalBackward {
    fn output(&self) -> &Tensor {
        &self.out
    }

    fn backward(&self, ctx: &mut BackwardCtx<'_>, grad: Grad) -> Result<()> {
        let gpu = ctx.gpu();
        let (g_buf, g_off, g_scale) = upstream(&gpu, &grad)?;
        let model = self.w.buffer();
        if let Some((du, acc)) = ctx.dest(&self.u)? {
            let p = PrimalParams {
                out_off: du.offset(),
                accumulate: u32::from(acc),
                ..self.params(g_off, g_scale)
            };
            ctx.plan.dispatch(
                k::ocsvm_primal::PRIMAL_BWD_U,
                Some(&p),
                &[
                    ("u", self.u.buffer()),
                    ("model", model),
                    ("g", &g_buf),
                    ("out", du.buffer()),
                ],
                groups_1d(&gpu, self.u.rows())?,
            )?;
        }
        match (ctx.dest(&self.w)?, ctx.dest(&self.rho)?) {
            (None, None) => Ok(()),
            (Some((dw, w_acc)), Some((dr, r_acc))) if dw.buffer() == dr.buffer() => {
                let p = PrimalParams {
                    out_off: dw.offset(),
                    accumulate: u32::from(w_acc),
                    r_out: dr.offset(),
                    r_acc: u32::from(r_acc),
                    ..self.params(g_off, g_scale)
                };
                ctx.plan.dispatch(
                    k::ocsvm_primal::PRIMAL_BWD_PARAMS,
                    Some(&p),
                    &[
                        ("u", self.u.buffer()),
                        ("model", model),
                        ("g", &g_buf),
                        ("out", dw.buffer()),
                    ],
                    [1, 1, 1],
                )
            }
            _ => Err(shape(
                "ocsvm_primal",
                "w and rho must both be trained, their gradients in one buffer",
            )),
        }
    }
}

impl Tape {
    /// `scale cos(x)`, element by element: random Fourier features from `x = z Omega + b`.
    /// Forward only: `x` may not need a gradient (the frequencies are drawn, not trained).
    pub fn rff_cos(&mut self, x: &Tensor, scale: f32) -> Result<Tensor> {
        if self.needs_grad(x) {
            return Err(shape(
                "rff_cos",
                "has no backward rule: its input must not need a gradient",
            ));
        }
        let out = Tensor::new(self.gpu(), x.rows(), x.cols(), "Fourier features")?;
        let p = PrimalParams {
            x_off: x.offset(),
            out_off: out.offset(),
            scale,
            ..PrimalParams::new(x.rows(), x.cols())
        };
        let groups = groups_1d(self.gpu(), x.len())?;
        self.plan.dispatch(
            k::ocsvm_primal::RFF_COS,
            Some(&p),
            &[("x", x.buffer()), ("out", out.buffer())],
            groups,
        )?;
        Ok(out)
    }

    /// The primal objective of the linear one-class SVM over the minibatch's `u = phi w`
    /// (`rows x 1`), with `w` (`cols x 1`) and `rho` (one value) views of one buffer: a 1x1
    /// loss, with gradients to `u`, `w` and `rho`.
    pub fn ocsvm_primal(
        &mut self,
        u: &Tensor,
        w: &Tensor,
        rho: &Tensor,
        nu: f32,
    ) -> Result<Tensor> {
        let op = "ocsvm_primal";
        sized(op, "u", u, u.rows(), 1)?;
        let model = model_buffer(op, w, rho)?;
        if u.rows() == 0 || !(nu > 0.0 && nu <= 1.0) {
            return Err(shape(op, format!("needs rows and nu in (0, 1], not {nu}")));
        }
        let out = Tensor::new(self.gpu(), 1, 1, "primal objective")?;
        let p = PrimalParams {
            u_off: u.offset(),
            w_off: w.offset(),
            r_off: rho.offset(),
            out_off: out.offset(),
            nu,
            ..PrimalParams::new(u.rows(), w.rows())
        };
        self.plan.dispatch(
            k::ocsvm_primal::PRIMAL_FWD,
            Some(&p),
            &[("u", u.buffer()), ("model", &model), ("out", out.buffer())],
            [1, 1, 1],
        )?;
        self.push(
            &[u, w, rho],
            Box::new(PrimalBackward {
                u: u.clone(),
                w: w.clone(),
                rho: rho.clone(),
                nu,
                out: out.clone(),
            }),
        );
        Ok(out)
    }

    /// Each row's score `scale (rho - u_i)` into `out` (`rows x 1`).
    pub fn ocsvm_primal_score(
        &mut self,
        u: &Tensor,
        rho: &Tensor,
        scale: f32,
        out: &Tensor,
    ) -> Result<()> {
        let op = "ocsvm_primal_score";
        sized(op, "u", u, u.rows(), 1)?;
        sized(op, "out", out, u.rows(), 1)?;
        if rho.len() != 1 {
            return Err(shape(op, "rho must be one value"));
        }
        let p = PrimalParams {
            u_off: u.offset(),
            r_off: rho.offset(),
            out_off: out.offset(),
            g_off: NONE,
            scale,
            ..PrimalParams::new(u.rows(), 0)
        };
        let groups = groups_1d(self.gpu(), u.rows())?;
        self.plan.dispatch(
            k::ocsvm_primal::PRIMAL_SCORE,
            Some(&p),
            &[
                ("u", u.buffer()),
                ("model", rho.buffer()),
                ("out", out.buffer()),
            ],
            groups,
        )
    }
}
