//! Isolation-forest scoring (`iforest.wgsl`): one dispatch, one thread per row walking every
//! tree. The trees are built on the host ([`crate::models::IForest`]); no backward rule.

use oddity_kernels::kernels as k;
use oddity_kernels::params::IForestParams;

use super::{f32_rows, groups_1d};
use crate::error::{Result, shape};
use crate::tape::{Tape, Tensor};

impl Tape {
    /// Every row of `x` (`rows x cols`, f32) scored by the forest `nodes` (`trees * npt x 4`:
    /// `trees` trees of `npt` nodes, laid out as `iforest.wgsl` says: the leaves hold path
    /// lengths divided by c(psi)) into `out` (`rows x 1`): 2^(-mean normalised path length).
    pub fn iforest_scores(
        &mut self,
        x: &Tensor,
        nodes: &Tensor,
        trees: u32,
        out: &Tensor,
    ) -> Result<()> {
        let op = "iforest_scores";
        f32_rows(op, &[x])?;
        if nodes.cols() != 4 || trees == 0 || !nodes.rows().is_multiple_of(trees) {
            return Err(shape(
                op,
                format!(
                    "a {}x{} node table for {trees} trees (needs trees * nodes x 4)",
                    nodes.rows(),
                    nodes.cols()
                ),
            ));
        }
        if (out.rows(), out.cols()) != (x.rows(), 1) {
            return Err(shape(
                op,
                format!(
                    "a {}x{} output for {} rows (needs {}x1)",
                    out.rows(),
                    out.cols(),
                    x.rows(),
                    x.rows()
                ),
            ));
        }
        let p = IForestParams {
            rows: x.rows(),
            cols: x.cols(),
            x_off: x.offset(),
            t_off: nodes.offset(),
            trees,
            npt: nodes.rows() / trees,
            out_off: out.offset(),
        };
        let groups = groups_1d(self.gpu(), x.rows())?;
        self.plan.dispatch(
            k::iforest::IFOREST_SCORE,
            Some(&p),
            &[
                ("x", x.buffer()),
                ("nodes", nodes.buffer()),
                ("out", out.buffer()),
            ],
            groups,
        )
    }
}
