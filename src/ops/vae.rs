//! The variational autoencoder's Gaussian latent (`vae.wgsl`): from an encoder output holding
//! each row's mean and log-variance, the reparameterised code z = mu + exp(lv / 2) eps and each
//! row's KL term KL(N(mu, exp(lv)) || N(0, I)), in one dispatch; a backward rule for each. And
//! its decoder's likelihood (`gaussnll.wgsl`): each row's Gaussian negative log-likelihood under
//! one learned log-variance, with gradients to the rows' errors and to the log-variance.

use oddity_kernels::kernels as k;
use oddity_kernels::params::{GaussNllParams, NONE, VaeParams};

use super::groups_1d;
use super::loss::upstream;
use crate::error::{Result, invalid, shape};
use crate::gpu::GpuBuffer;
use crate::tape::{Backward, BackwardCtx, Grad, Tape, Tensor};

/// The RNG tag of the latent noise (`oddity_kernels::reference::TAG_VAE`).
pub const TAG_VAE: u32 = 5;

/// What [`Tape::gaussian_latent`] gives.
pub struct Latent {
    /// `rows x L`: mu + exp(lv / 2) eps, or mu when not sampling.
    pub z: Tensor,
    /// `rows x 1`: beta * KL(N(mu, exp(lv)) || N(0, I)) per row.
    pub kl: Tensor,
}

fn params(h: &Tensor, sample: Option<u32>, beta: f32) -> VaeParams {
    VaeParams {
        rows: h.rows(),
        latent: h.cols() / 2,
        h_off: h.offset(),
        z_off: 0,
        kl_off: 0,
        dz_off: 0,
        g_off: NONE,
        dh_off: 0,
        seed: sample.unwrap_or(0),
        tag: TAG_VAE,
        sample: u32::from(sample.is_some()),
        beta,
        g_scale: 1.0,
        accumulate: 0,
    }
}

struct ZBackward {
    h: Tensor,
    /// The step counter the forward pass drew its noise at (the backward redraws it).
    state: GpuBuffer,
    p: VaeParams,
    z: Tensor,
}

impl Backward for ZBackward {
    fn output(&self) -> &Tensor {
        &self.z
    }

    fn backward(&self, ctx: &mut BackwardCtx<'_>, grad: Grad) -> Result<()> {
        let Some((dh, acc)) = ctx.dest(&self.h)? else {
            return Ok(());
        };
        let dz = ctx.materialize(grad, &self.z)?;
        let p = VaeParams {
            dz_off: dz.offset(),
            dh_off: dh.offset(),
            accumulate: u32::from(acc),
            ..self.p
        };
        let groups = groups_1d(&ctx.gpu(), self.z.len())?;
        ctx.plan.dispatch(
            k::vae::VAE_BWD_Z,
            Some(&p),
            &[
                ("h", self.h.buffer()),
                ("state", &self.state),
                ("dz", dz.buffer()),
                ("dh", dh.buffer()),
            ],
            groups,
        )
    }
}

struct KlBackward {
    h: Tensor,
    p: VaeParams,
    kl: Tensor,
}

impl Backward for KlBackward {
    fn output(&self) -> &Tensor {
        &self.kl
    }

    fn backward(&self, ctx: &mut BackwardCtx<'_>, grad: Grad) -> Result<()> {
        let Some((dh, acc)) = ctx.dest(&self.h)? else {
            return Ok(());
        };
        let gpu = ctx.gpu();
        let (g_buf, g_off, g_scale) = upstream(&gpu, &grad)?;
        let p = VaeParams {
            g_off,
            g_scale,
            dh_off: dh.offset(),
            accumulate: u32::from(acc),
            ..self.p
        };
        ctx.plan.dispatch(
            k::vae::VAE_BWD_KL,
            Some(&p),
            &[("h", self.h.buffer()), ("g", &g_buf), ("dh", dh.buffer())],
            groups_1d(&gpu, self.h.len() / 2)?,
        )
    }
}

impl Tape {
    /// The Gaussian latent of encoder output `h` (`rows x 2L`, each row's mean then its
    /// log-variance): z drawn by reparameterisation with noise from (`seed`, the step counter)
    /// when `sample` is `Some(seed)`, else z = mu; and each row's KL term scaled by `beta`.
    /// Both carry gradients back to `h`.
    pub fn gaussian_latent(
        &mut self,
        h: &Tensor,
        sample: Option<u32>,
        beta: f32,
    ) -> Result<Latent> {
        if h.cols() == 0 || !h.cols().is_multiple_of(2) {
            return Err(shape(
                "gaussian_latent",
                format!(
                    "the encoder output has {} columns; it needs a mean and a log-variance for each latent column",
                    h.cols()
                ),
            ));
        }
        if !beta.is_finite() || beta < 0.0 {
            return Err(invalid(
                "KL weight",
                format!("{beta} (must be finite and >= 0)"),
            ));
        }
        let gpu = self.gpu().clone();
        let latent = h.cols() / 2;
        let z = Tensor::new(&gpu, h.rows(), latent, "latent z")?;
        let kl = Tensor::new(&gpu, h.rows(), 1, "latent kl")?;
        let p = VaeParams {
            z_off: z.offset(),
            kl_off: kl.offset(),
            ..params(h, sample, beta)
        };
        let state = self.state.buffer().clone();
        self.plan.dispatch(
            k::vae::VAE_FWD,
            Some(&p),
            &[
                ("h", h.buffer()),
                ("state", &state),
                ("z", z.buffer()),
                ("kl", kl.buffer()),
            ],
            groups_1d(&gpu, h.rows())?,
        )?;
        self.push(
            &[h],
            Box::new(ZBackward {
                h: h.clone(),
                state,
                p,
                z: z.clone(),
            }),
        );
        self.push(
            &[h],
            Box::new(KlBackward {
                h: h.clone(),
                p,
                kl: kl.clone(),
            }),
        );
        Ok(Latent { z, kl })
    }
}

struct NllBackward {
    e: Tensor,
    s: Tensor,
    p: GaussNllParams,
    out: Tensor,
}

impl Backward for NllBackward {
    fn output(&self) -> &Tensor {
        &self.out
    }

    fn backward(&self, ctx: &mut BackwardCtx<'_>, grad: Grad) -> Result<()> {
        let gpu = ctx.gpu();
        let (g_buf, g_off, g_scale) = upstream(&gpu, &grad)?;
        let p = GaussNllParams {
            g_off,
            g_scale,
            ..self.p
        };
        if let Some((de, acc)) = ctx.dest(&self.e)? {
            let q = GaussNllParams {
                d_off: de.offset(),
                accumulate: u32::from(acc),
                ..p
            };
            ctx.plan.dispatch(
                k::gaussnll::NLL_BWD_E,
                Some(&q),
                &[("sp", self.s.buffer()), ("g", &g_buf), ("de", de.buffer())],
                groups_1d(&gpu, self.e.rows())?,
            )?;
        }
        if let Some((ds, acc)) = ctx.dest(&self.s)? {
            let q = GaussNllParams {
                d_off: ds.offset(),
                accumulate: u32::from(acc),
                ..p
            };
            ctx.plan.dispatch(
                k::gaussnll::NLL_BWD_S,
                Some(&q),
                &[
                    ("e", self.e.buffer()),
                    ("sp", self.s.buffer()),
                    ("g", &g_buf),
                    ("ds", ds.buffer()),
                ],
                [1, 1, 1],
            )?;
        }
        Ok(())
    }
}

impl Tape {
    /// Each row's Gaussian negative log-likelihood (without the constant D/2 log 2 pi) from its
    /// squared error `e` (`rows x 1`) over `dims` outputs of common variance exp(`s`) (`s`
    /// 1x1): (e exp(-s) + dims s) / 2, a `rows x 1` tensor; gradients reach `e` and `s`. The
    /// gradient to `s` adds the rows in order in one invocation: meant for training batches.
    pub fn gaussian_nll(&mut self, e: &Tensor, s: &Tensor, dims: u32) -> Result<Tensor> {
        if e.cols() != 1 || s.len() != 1 {
            return Err(shape(
                "gaussian_nll",
                format!(
                    "errors {}x{} (need rows x 1) and log-variance {}x{} (need 1x1)",
                    e.rows(),
                    e.cols(),
                    s.rows(),
                    s.cols()
                ),
            ));
        }
        let gpu = self.gpu().clone();
        let out = Tensor::new(&gpu, e.rows(), 1, "gaussian nll")?;
        let p = GaussNllParams {
            rows: e.rows(),
            dims,
            e_off: e.offset(),
            s_off: s.offset(),
            out_off: out.offset(),
            g_off: NONE,
            g_scale: 1.0,
            d_off: 0,
            accumulate: 0,
        };
        self.plan.dispatch(
            k::gaussnll::NLL_FWD,
            Some(&p),
            &[("e", e.buffer()), ("sp", s.buffer()), ("out", out.buffer())],
            groups_1d(&gpu, e.rows())?,
        )?;
        self.push(
            &[e, s],
            Box::new(NllBackward {
                e: e.clone(),
                s: s.clone(),
                p,
                out: out.clone(),
            }),
        );
        Ok(out)
    }
}
