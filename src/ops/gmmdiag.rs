//! A Gaussian mixture with diagonal covariances on the GPU (`gmmdiag.wgsl`): the E step (each
//! row's negative log-likelihood and responsibilities), each row's most responsible
//! component, hard assignments as responsibilities (the mixture's start from k-means), and
//! the M step. No backward rule: the mixture is fitted by EM, not trained.

use oddity_kernels::kernels as k;
use oddity_kernels::params::{GmmDiagParams, NONE};

use super::{apart, f32_rows, groups_1d, one_buffer, sized};
use crate::error::{Result, shape};
use crate::tape::{Tape, Tensor};

/// An error of `op` unless `prm` holds the records of `k >= 1` components of `x`'s width.
fn records(op: &'static str, x: &Tensor, prm: &Tensor) -> Result<u32> {
    let (n, d) = (x.rows(), x.cols());
    if prm.cols() != 1 + 2 * d || prm.rows() == 0 || n == 0 || d == 0 {
        return Err(shape(
            op,
            format!(
                "{}x{} component records for {n}x{d} rows: k x (1 + 2 x {d})",
                prm.rows(),
                prm.cols()
            ),
        ));
    }
    Ok(prm.rows())
}

impl Tape {
    /// The E step: each row of `x`'s negative log-likelihood under the mixture `prm` (`k x (1
    /// + 2 cols)`: log weight, means, variances) into `nll` (`rows x 1`) and, when given, its
    /// responsibilities into `resp` (`rows x k`; a view of `nll`'s buffer).
    pub fn gmm_diag_estep(
        &mut self,
        x: &Tensor,
        prm: &Tensor,
        resp: Option<&Tensor>,
        nll: &Tensor,
    ) -> Result<()> {
        let op = "gmm_diag_estep";
        f32_rows(op, &[x])?;
        let k = records(op, x, prm)?;
        sized(op, "the log-likelihoods", nll, x.rows(), 1)?;
        if let Some(r) = resp {
            sized(op, "the responsibilities", r, x.rows(), k)?;
            one_buffer(op, "the responsibilities and log-likelihoods", &[r, nll])?;
        }
        apart(op, nll, &[x, prm])?;
        let p = GmmDiagParams {
            x_off: x.offset(),
            p_off: prm.offset(),
            r_off: resp.map_or(NONE, Tensor::offset),
            e_off: nll.offset(),
            ..GmmDiagParams::new(x.rows(), x.cols(), k)
        };
        let groups = groups_1d(&self.gpu().clone(), x.rows())?;
        self.plan.dispatch(
            k::gmmdiag::GD_ESTEP,
            Some(&p),
            &[
                ("x", x.buffer()),
                ("prm", prm.buffer()),
                ("out", nll.buffer()),
            ],
            groups,
        )
    }

    /// Each row of `x`'s most responsible component under the mixture `prm` (ties to the
    /// lower index) into `asg` (`rows x 1`, the index as f32, as [`Tape::kmeans_assign`]
    /// writes it).
    pub fn gmm_diag_label(&mut self, x: &Tensor, prm: &Tensor, asg: &Tensor) -> Result<()> {
        let op = "gmm_diag_label";
        f32_rows(op, &[x])?;
        let k = records(op, x, prm)?;
        sized(op, "the labels", asg, x.rows(), 1)?;
        apart(op, asg, &[x, prm])?;
        let p = GmmDiagParams {
            x_off: x.offset(),
            p_off: prm.offset(),
            a_off: asg.offset(),
            ..GmmDiagParams::new(x.rows(), x.cols(), k)
        };
        let groups = groups_1d(&self.gpu().clone(), x.rows())?;
        self.plan.dispatch(
            k::gmmdiag::GD_LABEL,
            Some(&p),
            &[
                ("x", x.buffer()),
                ("prm", prm.buffer()),
                ("out", asg.buffer()),
            ],
            groups,
        )
    }

    /// Hard assignments `asg` (`rows x 1`, component indices as f32, as
    /// [`Tape::kmeans_assign`] writes them) as responsibilities `resp` (`rows x k`).
    pub fn gmm_diag_onehot(&mut self, asg: &Tensor, resp: &Tensor) -> Result<()> {
        let op = "gmm_diag_onehot";
        let rows = asg.rows();
        sized(op, "the assignments", asg, rows, 1)?;
        if resp.rows() != rows || resp.cols() == 0 || rows == 0 {
            return Err(shape(
                op,
                format!(
                    "{}x{} responsibilities for {rows} rows",
                    resp.rows(),
                    resp.cols()
                ),
            ));
        }
        apart(op, resp, &[asg])?;
        let p = GmmDiagParams {
            a_off: asg.offset(),
            r_off: resp.offset(),
            ..GmmDiagParams::new(rows, 0, resp.cols())
        };
        let groups = groups_1d(&self.gpu().clone(), rows)?;
        self.plan.dispatch(
            k::gmmdiag::GD_ONEHOT,
            Some(&p),
            &[("aux", asg.buffer()), ("out", resp.buffer())],
            groups,
        )
    }

    /// The M step: each component of `prm` refitted to `x` under the responsibilities `resp`
    /// (`rows x k`; a component with none keeps its means and variances), `reg` added to each
    /// variance; each component's (rows, variance) into `stats` (`k x 2`; a view of `prm`'s
    /// buffer).
    pub fn gmm_diag_mstep(
        &mut self,
        x: &Tensor,
        resp: &Tensor,
        prm: &Tensor,
        stats: &Tensor,
        reg: f32,
    ) -> Result<()> {
        let op = "gmm_diag_mstep";
        f32_rows(op, &[x])?;
        let k = records(op, x, prm)?;
        sized(op, "the responsibilities", resp, x.rows(), k)?;
        sized(op, "the statistics", stats, k, 2)?;
        let out = one_buffer(op, "the components and their statistics", &[prm, stats])?;
        apart(op, prm, &[x, resp])?;
        if !(reg.is_finite() && reg > 0.0) {
            return Err(shape(
                op,
                format!("the variances' floor {reg} must be above 0"),
            ));
        }
        let p = GmmDiagParams {
            x_off: x.offset(),
            p_off: prm.offset(),
            r_off: resp.offset(),
            s_off: stats.offset(),
            reg,
            ..GmmDiagParams::new(x.rows(), x.cols(), k)
        };
        self.plan.dispatch(
            k::gmmdiag::GD_MSTEP,
            Some(&p),
            &[("x", x.buffer()), ("aux", resp.buffer()), ("out", &out)],
            [k, 1, 1],
        )
    }
}
