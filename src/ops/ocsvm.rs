//! The one-class SVM's kernels (`ocsvm.wgsl`): squared norms, the RBF kernel from a Gram
//! matrix, LIBSVM's SMO solver on one workgroup and the decision values. No backward rule: the
//! exact OCSVM is solved, not trained.

use oddity_kernels::kernels as k;
use oddity_kernels::params::{GemmParams, OcsvmParams};

use super::{groups_1d, one_buffer};
use crate::error::{Result, shape};
use crate::gpu::Gpu;
use crate::tape::{Tape, Tensor};

/// The solver's working state, views of one buffer: the multipliers (`1 x n`), the gradient
/// `K a` (`1 x n`) and the status `[converged, iterations, rho, gap]` (`1 x 4`).
pub struct SmoState {
    pub alpha: Tensor,
    pub grad: Tensor,
    pub status: Tensor,
}

impl SmoState {
    pub fn new(gpu: &Gpu, n: u32) -> Result<SmoState> {
        let all = Tensor::new(gpu, 1, 2 * n + 4, "SMO state")?;
        let buf = all.buffer();
        Ok(SmoState {
            alpha: Tensor::view(buf, 0, 1, n)?,
            grad: Tensor::view(buf, n, 1, n)?,
            status: Tensor::view(buf, 2 * n, 1, 4)?,
        })
    }

    /// (converged, iterations run, rho, the last gap) read back.
    pub fn read_status(&self, gpu: &Gpu) -> Result<(bool, u64, f32, f32)> {
        let s = self.status.read(gpu)?;
        Ok((s[0] != 0.0, s[1] as u64, s[2], s[3]))
    }

    fn n(&self) -> u32 {
        self.alpha.cols()
    }
}

fn row_vector(op: &'static str, what: &str, t: &Tensor, n: u32) -> Result<()> {
    if t.len() != n {
        return Err(shape(op, format!("{what} has {} values for {n}", t.len())));
    }
    Ok(())
}

impl Tape {
    /// Each row's squared length: `out[i] = |x_i|^2` (`out` `rows x 1` or `1 x rows`).
    pub fn ocsvm_sq_norms(&mut self, x: &Tensor, out: &Tensor) -> Result<()> {
        row_vector("ocsvm_sq_norms", "out", out, x.rows())?;
        let p = OcsvmParams {
            x_off: x.offset(),
            out_off: out.offset(),
            ..OcsvmParams::new(x.rows(), x.cols())
        };
        let groups = groups_1d(&self.gpu().clone(), x.rows())?;
        self.plan.dispatch(
            k::ocsvm::SQ_NORMS,
            Some(&p),
            &[("x", x.buffer()), ("out", out.buffer())],
            groups,
        )
    }

    /// The Gram matrix `g = a b^T` (`a` `m x d`, `b` `n x d`, `g` `m x n`), one GEMM.
    pub fn ocsvm_gram(&mut self, a: &Tensor, b: &Tensor, g: &Tensor) -> Result<()> {
        let (m, n, d) = (a.rows(), b.rows(), a.cols());
        if b.cols() != d || (g.rows(), g.cols()) != (m, n) {
            return Err(shape(
                "ocsvm_gram",
                format!(
                    "{m}x{d} and {}x{} rows need a {m}x{n} Gram matrix, not {}x{}",
                    b.rows(),
                    b.cols(),
                    g.rows(),
                    g.cols()
                ),
            ));
        }
        let p = GemmParams {
            a_off: a.offset(),
            a_rs: d,
            a_cs: 1,
            b_off: b.offset(),
            b_rs: 1,
            b_cs: d,
            c_off: g.offset(),
            ..GemmParams::new(m, n, d)
        };
        super::dense::gemm(&mut self.plan, &p, a, None, b, None, g)
    }

    /// `out_ij = exp(-gamma max(0, na_i + nb_j - 2 g_ij))` from the Gram `g` (`m x n`) and
    /// the rows' squared norms `na` (m) and `nb` (n), views of one buffer.
    pub fn ocsvm_rbf(
        &mut self,
        g: &Tensor,
        na: &Tensor,
        nb: &Tensor,
        gamma: f32,
        out: &Tensor,
    ) -> Result<()> {
        let op = "ocsvm_rbf";
        let (m, n) = (g.rows(), g.cols());
        row_vector(op, "na", na, m)?;
        row_vector(op, "nb", nb, n)?;
        if (out.rows(), out.cols()) != (m, n) || out.buffer() == g.buffer() {
            return Err(shape(
                op,
                "out must be a Gram-shaped tensor of its own buffer",
            ));
        }
        let norms = one_buffer(op, "the two norms", &[na, nb])?;
        let p = OcsvmParams {
            g_off: g.offset(),
            a_off: na.offset(),
            b_off: nb.offset(),
            out_off: out.offset(),
            gamma,
            ..OcsvmParams::new(m, n)
        };
        let groups = groups_1d(&self.gpu().clone(), g.len())?;
        self.plan.dispatch(
            k::ocsvm::RBF,
            Some(&p),
            &[("g", g.buffer()), ("norms", &norms), ("out", out.buffer())],
            groups,
        )
    }

    /// LIBSVM's starting multipliers for `nu` (0 < nu <= 1), the status zeroed.
    pub fn ocsvm_smo_init(&mut self, state: &SmoState, nu: f32) -> Result<()> {
        let n = state.n();
        let p = OcsvmParams {
            al_off: state.alpha.offset(),
            st_off: state.status.offset(),
            nu,
            ..OcsvmParams::new(n, 0)
        };
        let groups = groups_1d(&self.gpu().clone(), n.max(4))?;
        self.plan.dispatch(
            k::ocsvm::SMO_INIT,
            Some(&p),
            &[("state", state.alpha.buffer())],
            groups,
        )
    }

    /// Up to `iters` SMO iterations on the kernel matrix `kmat` (`n x n`), stopping at a gap
    /// under `eps`; nothing once converged. Record several to run more without a host wait.
    pub fn ocsvm_smo(
        &mut self,
        kmat: &Tensor,
        state: &SmoState,
        iters: u32,
        eps: f32,
    ) -> Result<()> {
        let n = state.n();
        if (kmat.rows(), kmat.cols()) != (n, n) {
            return Err(shape(
                "ocsvm_smo",
                format!(
                    "{n} multipliers need an {n}x{n} kernel matrix, not {}x{}",
                    kmat.rows(),
                    kmat.cols()
                ),
            ));
        }
        let p = OcsvmParams {
            k_off: kmat.offset(),
            al_off: state.alpha.offset(),
            gr_off: state.grad.offset(),
            st_off: state.status.offset(),
            iters,
            eps,
            ..OcsvmParams::new(n, 0)
        };
        self.plan.dispatch(
            k::ocsvm::SMO,
            Some(&p),
            &[("kmat", kmat.buffer()), ("state", state.alpha.buffer())],
            [1, 1, 1],
        )
    }

    /// Each row's negated decision value `rho - sum_j a_j k(x_i, sv_j)` into `out` (`rows x
    /// 1`), from the rows `x`, their Gram `g` with the support rows (`rows x n`), the support
    /// rows' squared norms `sv_norms`, and their multipliers `alpha` and `rho` (one value),
    /// views of one buffer.
    #[allow(clippy::too_many_arguments)]
    pub fn ocsvm_decision(
        &mut self,
        x: &Tensor,
        g: &Tensor,
        sv_norms: &Tensor,
        alpha: &Tensor,
        rho: &Tensor,
        gamma: f32,
        out: &Tensor,
    ) -> Result<()> {
        let op = "ocsvm_decision";
        let (m, n) = (x.rows(), g.cols());
        if g.rows() != m {
            return Err(shape(op, "the Gram matrix must have a row for each row"));
        }
        row_vector(op, "sv_norms", sv_norms, n)?;
        row_vector(op, "alpha", alpha, n)?;
        row_vector(op, "rho", rho, 1)?;
        row_vector(op, "out", out, m)?;
        let model = one_buffer(op, "alpha and rho", &[alpha, rho])?;
        let p = OcsvmParams {
            sv: n,
            x_off: x.offset(),
            g_off: g.offset(),
            b_off: sv_norms.offset(),
            al_off: alpha.offset(),
            st_off: rho.offset(),
            out_off: out.offset(),
            gamma,
            ..OcsvmParams::new(m, x.cols())
        };
        let groups = groups_1d(&self.gpu().clone(), m)?;
        self.plan.dispatch(
            k::ocsvm::DECISION,
            Some(&p),
            &[
                ("x", x.buffer()),
                ("g", g.buffer()),
                ("norms", sv_norms.buffer()),
                ("model", &model),
                ("out", out.buffer()),
            ],
            groups,
        )
    }
}
