//! Principal component analysis on the GPU (`pca.wgsl`): column statistics, standardisation,
//! the covariance as a GEMM, the Jacobi eigen-solver and the scores. No backward rule: PCA is
//! solved, not trained.

use oddity_kernels::kernels as k;
use oddity_kernels::params::{GemmParams, NONE, PcaParams};

use super::{f32_rows, groups_1d, one_buffer};
use crate::error::{Result, shape};
use crate::tape::{Tape, Tensor};

/// The most features the one-workgroup eigen-solver takes (512 pairs a round).
pub const PCA_MAX_FEATURES: u32 = 1024;

impl Tape {
    /// Each column's mean and population standard deviation of `x` (`rows x cols`) into
    /// `stats` (`2 x cols`: the means, then the deviations).
    pub fn pca_col_stats(&mut self, x: &Tensor, stats: &Tensor) -> Result<()> {
        let op = "pca_col_stats";
        f32_rows(op, &[x])?;
        if (stats.rows(), stats.cols()) != (2, x.cols()) || x.rows() == 0 {
            return Err(shape(
                op,
                format!(
                    "{}x{} statistics for {}x{} rows",
                    stats.rows(),
                    stats.cols(),
                    x.rows(),
                    x.cols()
                ),
            ));
        }
        let p = PcaParams {
            x_off: x.offset(),
            st_off: stats.offset(),
            ..PcaParams::new(x.rows(), x.cols())
        };
        self.plan.dispatch(
            k::pca::COL_STATS,
            Some(&p),
            &[("x", x.buffer()), ("out", stats.buffer())],
            [x.cols(), 1, 1],
        )
    }

    /// `z = (x - mean) / sd`, column by column, `stats` as [`Tape::pca_col_stats`] wrote them.
    pub fn pca_standardize(&mut self, x: &Tensor, stats: &Tensor, z: &Tensor) -> Result<()> {
        let op = "pca_standardize";
        f32_rows(op, &[x])?;
        if (stats.rows(), stats.cols()) != (2, x.cols())
            || (z.rows(), z.cols()) != (x.rows(), x.cols())
        {
            return Err(shape(op, "z and the statistics must match x's shape"));
        }
        let p = PcaParams {
            x_off: x.offset(),
            st_off: stats.offset(),
            z_off: z.offset(),
            ..PcaParams::new(x.rows(), x.cols())
        };
        let groups = groups_1d(&self.gpu().clone(), x.len())?;
        self.plan.dispatch(
            k::pca::STANDARDIZE,
            Some(&p),
            &[
                ("x", x.buffer()),
                ("stats", stats.buffer()),
                ("z", z.buffer()),
            ],
            groups,
        )
    }

    /// `c = scale * z^T z` (`cols x cols`): the covariance of standardised rows, one GEMM.
    pub fn pca_covariance(&mut self, z: &Tensor, c: &Tensor) -> Result<()> {
        let d = z.cols();
        if (c.rows(), c.cols()) != (d, d) {
            return Err(shape(
                "pca_covariance",
                "the covariance must be cols x cols",
            ));
        }
        let p = GemmParams {
            a_off: z.offset(),
            a_rs: 1,
            a_cs: d,
            b_off: z.offset(),
            b_rs: d,
            b_cs: 1,
            c_off: c.offset(),
            ..GemmParams::new(d, d, z.rows())
        };
        super::dense::gemm(&mut self.plan, &p, z, None, z, None, c)
    }

    /// `pr = z w`: each standardised row's projections on the components (`w`, `d x k`).
    pub fn pca_project(&mut self, z: &Tensor, w: &Tensor, pr: &Tensor) -> Result<()> {
        let (n, d, k) = (z.rows(), z.cols(), w.cols());
        if w.rows() != d || (pr.rows(), pr.cols()) != (n, k) {
            return Err(shape(
                "pca_project",
                "rows, components and projections do not match",
            ));
        }
        let p = GemmParams {
            a_off: z.offset(),
            a_rs: d,
            a_cs: 1,
            b_off: w.offset(),
            b_rs: k,
            b_cs: 1,
            c_off: pr.offset(),
            ..GemmParams::new(n, k, d)
        };
        super::dense::gemm(&mut self.plan, &p, z, None, w, None, pr)
    }

    /// The eigen-decomposition of the symmetric `a` (`d x d`, overwritten; `v` the same shape,
    /// scratch): the `k` largest eigenvalues times `scale` into `vals` (`1 x k`), their vectors
    /// into the columns of `w` (`d x k`); `w` and `vals` views of one buffer. At most `sweeps`
    /// sweeps, fewer once the off-diagonal part is within `tol` of the whole.
    #[allow(clippy::too_many_arguments)]
    pub fn pca_eigen(
        &mut self,
        a: &Tensor,
        v: &Tensor,
        w: &Tensor,
        vals: &Tensor,
        scale: f32,
        sweeps: u32,
        tol: f32,
    ) -> Result<()> {
        let op = "pca_eigen";
        let (d, k) = (a.cols(), w.cols());
        if a.rows() != d
            || (v.rows(), v.cols()) != (d, d)
            || w.rows() != d
            || (vals.rows(), vals.cols()) != (1, k)
        {
            return Err(shape(
                op,
                format!("a {d}x{d} needs v {d}x{d}, w {d}xk and vals 1xk"),
            ));
        }
        if d == 0 || d > PCA_MAX_FEATURES || k == 0 || k > d {
            return Err(shape(
                op,
                format!("{d} features, {k} components: 1 <= k <= features <= {PCA_MAX_FEATURES}"),
            ));
        }
        if a.offset() != 0 || v.offset() != 0 {
            return Err(shape(op, "a and v must start their buffers"));
        }
        let out = one_buffer(op, "both outputs", &[w, vals])?;
        let p = PcaParams {
            k,
            w_off: w.offset(),
            l_off: vals.offset(),
            sweeps,
            scale,
            tol,
            ..PcaParams::new(0, d)
        };
        self.plan.dispatch(
            k::pca::JACOBI,
            Some(&p),
            &[("a", a.buffer()), ("v", v.buffer()), ("out", &out)],
            [1, 1, 1],
        )
    }

    /// Each row's score from its projections `pr = z W` (`rows x k`) and the eigenvalues `vals`
    /// (`1 x k`): `mode` 0 the sum of squared standardised projections, 1 the squared
    /// reconstruction error of `z` from the k components; into `out` (`rows x 1`).
    pub fn pca_scores(
        &mut self,
        pr: &Tensor,
        z: &Tensor,
        vals: &Tensor,
        mode: u32,
        out: &Tensor,
    ) -> Result<()> {
        let (rows, k) = (pr.rows(), pr.cols());
        if (vals.rows(), vals.cols()) != (1, k)
            || z.rows() != rows
            || (out.rows(), out.cols()) != (rows, 1)
            || mode > 1
        {
            return Err(shape(
                "pca_scores",
                "projections, rows, eigenvalues and scores do not match",
            ));
        }
        let p = PcaParams {
            k,
            z_off: z.offset(),
            l_off: vals.offset(),
            p_off: pr.offset(),
            out_off: out.offset(),
            mode,
            st_off: NONE,
            ..PcaParams::new(rows, z.cols())
        };
        let groups = groups_1d(&self.gpu().clone(), rows)?;
        self.plan.dispatch(
            k::pca::PCA_SCORE,
            Some(&p),
            &[
                ("pr", pr.buffer()),
                ("z_in", z.buffer()),
                ("stats", vals.buffer()),
                ("out", out.buffer()),
            ],
            groups,
        )
    }
}
