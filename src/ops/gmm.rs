//! DAGMM's Gaussian mixture (`gmm.wgsl`) and reconstruction features (`recon.wgsl`), each with
//! its backward rule:
//!
//! - [`Tape::gmm_estimate`]: a mixture's parameters from a batch of codes z and membership
//!   logits (memberships = their softmax): each component's weight, mean and covariance, the
//!   covariance's inverse and log-determinant (a diagonally scaled Cholesky factorisation,
//!   each pivot guarded; see the shader). Gradients reach z and the logits through every
//!   parameter.
//! - [`Tape::gmm_energy`]: each row's sample energy under given parameters and the penalty on
//!   small covariance diagonals. Gradients reach z and the parameters.
//! - [`Tape::recon_features`]: each row's relative Euclidean distance and cosine similarity to
//!   its reconstruction.
//!
//! The parameters are one record a component (`comps x record` words; see
//! [`GmmParams::record`]): [G, phi, logdet, mu, S, C].

use oddity_kernels::kernels as k;
use oddity_kernels::params::{GmmParams, NONE, ReconParams};

use super::loss::upstream;
use super::{f32_rows, groups_1d};
use crate::error::{Result, invalid, shape};
use crate::gpu::GpuBuffer;
use crate::tape::{Backward, BackwardCtx, Grad, Tape, Tensor};

/// The most code values and mixture components the kernels take.
pub const GMM_MAX_DIMS: u32 = 16;
pub const GMM_MAX_COMPS: u32 = 16;

/// What [`Tape::gmm_energy`] gives.
pub struct GmmEnergy {
    /// `rows x 1`: -log sum_j phi_j N(z; mu_j, C_j).
    pub energy: Tensor,
    /// `1 x 1`: sum over components and code values of 1 / C_j,aa.
    pub penalty: Tensor,
}

/// Words of one component's record for codes of `dims` values.
pub fn gmm_record(dims: u32) -> u32 {
    GmmParams::new(0, dims, 1).record()
}

fn check_dims(op: &'static str, z: &Tensor, comps: u32) -> Result<()> {
    if z.rows() == 0 || z.cols() == 0 || z.cols() > GMM_MAX_DIMS {
        return Err(shape(
            op,
            format!(
                "codes {}x{}: need at least one row and 1 to {GMM_MAX_DIMS} values a row",
                z.rows(),
                z.cols()
            ),
        ));
    }
    if comps == 0 || comps > GMM_MAX_COMPS {
        return Err(shape(
            op,
            format!("{comps} components: need 1 to {GMM_MAX_COMPS}"),
        ));
    }
    Ok(())
}

/// `t`'s gradient destination as a kernel operand: (buffer, offset, accumulate), or a dummy
/// buffer at offset NONE when `t` needs no gradient (the kernel then skips it).
fn optional_dest(ctx: &mut BackwardCtx<'_>, t: &Tensor) -> Result<(GpuBuffer, u32, bool)> {
    Ok(match ctx.dest(t)? {
        Some((b, acc)) => (b.buffer().clone(), b.offset(), acc),
        None => (ctx.gpu().dummy(true)?, NONE, false),
    })
}

struct EstimateBackward {
    z: Tensor,
    logits: Tensor,
    p: GmmParams,
    out: Tensor,
}

impl Backward for EstimateBackward {
    fn output(&self) -> &Tensor {
        &self.out
    }

    fn backward(&self, ctx: &mut BackwardCtx<'_>, grad: Grad) -> Result<()> {
        let gpu = ctx.gpu();
        let gp = ctx.materialize(grad, &self.out)?;
        let d = self.p.dims;
        let mix = Tensor::new(&gpu, self.p.comps, 1 + d + d * d, "gmm mix")?;
        let p = GmmParams {
            gp_off: gp.offset(),
            mix_off: mix.offset(),
            ..self.p
        };
        ctx.plan.dispatch(
            k::gmm::GMM_BWD_MIX,
            Some(&p),
            &[
                ("gm", self.out.buffer()),
                ("gp_in", gp.buffer()),
                ("mix", mix.buffer()),
            ],
            [self.p.comps, 1, 1],
        )?;
        let (dz_buf, dz_off, dz_acc) = optional_dest(ctx, &self.z)?;
        let (dl_buf, dl_off, dl_acc) = optional_dest(ctx, &self.logits)?;
        if dz_off == NONE && dl_off == NONE {
            return Ok(());
        }
        let p = GmmParams {
            dz_off,
            dl_off,
            accumulate: u32::from(dz_acc) | (u32::from(dl_acc) << 1),
            ..p
        };
        ctx.plan.dispatch(
            k::gmm::GMM_BWD_ROWS,
            Some(&p),
            &[
                ("z", self.z.buffer()),
                ("lg", self.logits.buffer()),
                ("gm", self.out.buffer()),
                ("mix_in", mix.buffer()),
                ("dz", &dz_buf),
                ("dl", &dl_buf),
            ],
            groups_1d(&gpu, self.p.rows)?,
        )
    }
}

struct EnergyBackward {
    z: Tensor,
    params: Tensor,
    resp: Tensor,
    p: GmmParams,
    out: Tensor,
}

impl Backward for EnergyBackward {
    fn output(&self) -> &Tensor {
        &self.out
    }

    fn backward(&self, ctx: &mut BackwardCtx<'_>, grad: Grad) -> Result<()> {
        let gpu = ctx.gpu();
        let (g_buf, g_off, g_scale) = upstream(&gpu, &grad)?;
        let p = GmmParams {
            g_off,
            g_scale,
            ..self.p
        };
        if let Some((dz, acc)) = ctx.dest(&self.z)? {
            let q = GmmParams {
                dz_off: dz.offset(),
                accumulate: u32::from(acc),
                ..p
            };
            ctx.plan.dispatch(
                k::gmm::GMM_ENERGY_BWD_Z,
                Some(&q),
                &[
                    ("z", self.z.buffer()),
                    ("gm", self.params.buffer()),
                    ("resp_in", self.resp.buffer()),
                    ("g", &g_buf),
                    ("dz", dz.buffer()),
                ],
                groups_1d(&gpu, self.p.rows)?,
            )?;
        }
        if let Some((gp, acc)) = ctx.dest(&self.params)? {
            let q = GmmParams {
                gp_off: gp.offset(),
                accumulate: u32::from(acc),
                ..p
            };
            ctx.plan.dispatch(
                k::gmm::GMM_ENERGY_BWD_PARAMS,
                Some(&q),
                &[
                    ("z", self.z.buffer()),
                    ("gm", self.params.buffer()),
                    ("resp_in", self.resp.buffer()),
                    ("g", &g_buf),
                    ("gp", gp.buffer()),
                ],
                [self.p.comps, 1, 1],
            )?;
        }
        Ok(())
    }
}

struct PenaltyBackward {
    params: Tensor,
    p: GmmParams,
    out: Tensor,
}

impl Backward for PenaltyBackward {
    fn output(&self) -> &Tensor {
        &self.out
    }

    fn backward(&self, ctx: &mut BackwardCtx<'_>, grad: Grad) -> Result<()> {
        let Some((gp, acc)) = ctx.dest(&self.params)? else {
            return Ok(());
        };
        let gpu = ctx.gpu();
        let (g_buf, g_off, g_scale) = upstream(&gpu, &grad)?;
        let p = GmmParams {
            g_off,
            g_scale,
            gp_off: gp.offset(),
            accumulate: u32::from(acc),
            ..self.p
        };
        ctx.plan.dispatch(
            k::gmm::GMM_PENALTY_BWD,
            Some(&p),
            &[
                ("gm", self.params.buffer()),
                ("g", &g_buf),
                ("gp", gp.buffer()),
            ],
            groups_1d(&gpu, self.p.comps)?,
        )
    }
}

impl Tape {
    /// The mixture fitted to codes `z` (`rows x dims`) with memberships softmax(`logits`)
    /// (`rows x comps`), `eps` added to each covariance's diagonal: a `comps x record` tensor
    /// (see the module documentation). Gradients reach `z` and `logits`.
    pub fn gmm_estimate(&mut self, z: &Tensor, logits: &Tensor, eps: f32) -> Result<Tensor> {
        let op = "gmm_estimate";
        f32_rows(op, &[z, logits])?;
        check_dims(op, z, logits.cols())?;
        if logits.rows() != z.rows() {
            return Err(shape(
                op,
                format!("{} logit rows for {} code rows", logits.rows(), z.rows()),
            ));
        }
        if !eps.is_finite() || eps <= 0.0 {
            return Err(invalid(
                "covariance guard",
                format!("{eps} (must be finite and > 0)"),
            ));
        }
        let gpu = self.gpu().clone();
        let (rows, dims, comps) = (z.rows(), z.cols(), logits.cols());
        let out = Tensor::new(&gpu, comps, gmm_record(dims), "gmm params")?;
        let p = GmmParams {
            z_off: z.offset(),
            l_off: logits.offset(),
            p_off: out.offset(),
            eps,
            ..GmmParams::new(rows, dims, comps)
        };
        self.plan.dispatch(
            k::gmm::GMM_FIT,
            Some(&p),
            &[
                ("z", z.buffer()),
                ("lg", logits.buffer()),
                ("out", out.buffer()),
            ],
            [comps, 1, 1],
        )?;
        self.push(
            &[z, logits],
            Box::new(EstimateBackward {
                z: z.clone(),
                logits: logits.clone(),
                p,
                out: out.clone(),
            }),
        );
        Ok(out)
    }

    /// Each row's energy under the mixture `params` (as [`Tape::gmm_estimate`] gives, `comps
    /// x record`), and the penalty on the covariances' diagonals. Gradients reach `z` and
    /// `params`.
    pub fn gmm_energy(&mut self, z: &Tensor, params: &Tensor) -> Result<GmmEnergy> {
        let op = "gmm_energy";
        f32_rows(op, &[z, params])?;
        check_dims(op, z, params.rows())?;
        if params.cols() != gmm_record(z.cols()) {
            return Err(shape(
                op,
                format!(
                    "parameters of {} words a component for codes of {} values (need {})",
                    params.cols(),
                    z.cols(),
                    gmm_record(z.cols())
                ),
            ));
        }
        let gpu = self.gpu().clone();
        let (rows, dims, comps) = (z.rows(), z.cols(), params.rows());
        let energy = Tensor::new(&gpu, rows, 1, "gmm energy")?;
        let penalty = Tensor::new(&gpu, 1, 1, "gmm penalty")?;
        let resp = Tensor::new(&gpu, rows, comps, "gmm responsibilities")?;
        let p = GmmParams {
            z_off: z.offset(),
            p_off: params.offset(),
            out_off: energy.offset(),
            r_off: resp.offset(),
            pen_off: penalty.offset(),
            ..GmmParams::new(rows, dims, comps)
        };
        self.plan.dispatch(
            k::gmm::GMM_ENERGY,
            Some(&p),
            &[
                ("z", z.buffer()),
                ("gm", params.buffer()),
                ("out", energy.buffer()),
                ("resp", resp.buffer()),
                ("pen", penalty.buffer()),
            ],
            groups_1d(&gpu, rows)?,
        )?;
        self.push(
            &[z, params],
            Box::new(EnergyBackward {
                z: z.clone(),
                params: params.clone(),
                resp,
                p,
                out: energy.clone(),
            }),
        );
        self.push(
            &[params],
            Box::new(PenaltyBackward {
                params: params.clone(),
                p,
                out: penalty.clone(),
            }),
        );
        Ok(GmmEnergy { energy, penalty })
    }
}

struct ReconBackward {
    x: Tensor,
    y: Tensor,
    p: ReconParams,
    out: Tensor,
}

impl Backward for ReconBackward {
    fn output(&self) -> &Tensor {
        &self.out
    }

    fn backward(&self, ctx: &mut BackwardCtx<'_>, grad: Grad) -> Result<()> {
        let gpu = ctx.gpu();
        let (g_buf, g_off, g_scale) = upstream(&gpu, &grad)?;
        let (dx_buf, dx_off, dx_acc) = optional_dest(ctx, &self.x)?;
        let (dy_buf, dy_off, dy_acc) = optional_dest(ctx, &self.y)?;
        let p = ReconParams {
            g_off,
            g_scale,
            dx_off,
            dy_off,
            accumulate: u32::from(dx_acc) | (u32::from(dy_acc) << 1),
            ..self.p
        };
        ctx.plan.dispatch(
            k::recon::RECON_BWD,
            Some(&p),
            &[
                ("x", self.x.buffer()),
                ("y", self.y.buffer()),
                ("g", &g_buf),
                ("dx", &dx_buf),
                ("dy", &dy_buf),
            ],
            groups_1d(&gpu, self.p.rows)?,
        )
    }
}

impl Tape {
    /// Each row's reconstruction features, `rows x 2`: ||x - y|| / ||x|| and the cosine
    /// similarity of x and y (`rows x cols` each; see `recon.wgsl` for the guards). Gradients
    /// reach both.
    pub fn recon_features(&mut self, x: &Tensor, y: &Tensor) -> Result<Tensor> {
        let op = "recon_features";
        f32_rows(op, &[x, y])?;
        if (x.rows(), x.cols()) != (y.rows(), y.cols()) || x.is_empty() {
            return Err(shape(
                op,
                format!(
                    "rows {}x{} and reconstructions {}x{} (need the same, non-empty)",
                    x.rows(),
                    x.cols(),
                    y.rows(),
                    y.cols()
                ),
            ));
        }
        let gpu = self.gpu().clone();
        let out = Tensor::new(&gpu, x.rows(), 2, "recon features")?;
        let p = ReconParams {
            rows: x.rows(),
            cols: x.cols(),
            x_off: x.offset(),
            y_off: y.offset(),
            out_off: out.offset(),
            g_off: NONE,
            g_scale: 1.0,
            dx_off: NONE,
            dy_off: NONE,
            accumulate: 0,
        };
        self.plan.dispatch(
            k::recon::RECON_FWD,
            Some(&p),
            &[("x", x.buffer()), ("y", y.buffer()), ("out", out.buffer())],
            groups_1d(&gpu, x.rows())?,
        )?;
        self.push(
            &[x, y],
            Box::new(ReconBackward {
                x: x.clone(),
                y: y.clone(),
                p,
                out: out.clone(),
            }),
        );
        Ok(out)
    }
}
