//! Order statistics and row selection on the GPU (`select.wgsl`): a percentile of a column of
//! values (so the host reads back one number, or none), the rows at or below a threshold
//! gathered into a row list in the label buffer's layout ([`super::data::LabelSource`]: the
//! count, then the rows), and a per-row lookup into a small table (a row's cluster's
//! statistic). No backward rules.

use oddity_kernels::kernels as k;
use oddity_kernels::params::SelectParams;

use super::{apart, groups_1d, sized};
use crate::error::{Result, shape};
use crate::gpu::GpuBuffer;
use crate::tape::{Tape, Tensor};

impl Tape {
    /// numpy's linear `q`-th percentile (0 to 100) of column `col` of `v` into `out` (`1 x 1`).
    pub fn percentile(&mut self, v: &Tensor, col: u32, q: f64, out: &Tensor) -> Result<()> {
        let op = "percentile";
        if v.rows() == 0 || col >= v.cols() || !(0.0..=100.0).contains(&q) {
            return Err(shape(
                op,
                format!(
                    "percentile {q} of column {col} of {}x{} values: 0 to 100 of a column that \
                     exists",
                    v.rows(),
                    v.cols()
                ),
            ));
        }
        sized(op, "the percentile", out, 1, 1)?;
        apart(op, out, &[v])?;
        let p = SelectParams {
            v_off: v.offset() + col,
            stride: v.cols(),
            o_off: out.offset(),
            ..SelectParams::new(v.rows())
        }
        .percentile(q);
        self.plan.dispatch(
            k::select::QUANTILE,
            Some(&p),
            &[("v", v.buffer()), ("out", out.buffer())],
            [1, 1, 1],
        )
    }

    /// The rows of `v` (`n x 1`) at or below `thr` (`1 x 1`, on the GPU), in order, into the
    /// row list `lab` from word `at`: their count, then their indices (`1 + n` words).
    pub fn select_below(
        &mut self,
        v: &Tensor,
        thr: &Tensor,
        lab: &GpuBuffer,
        at: u32,
    ) -> Result<()> {
        let op = "select_below";
        sized(op, "the values", v, v.rows(), 1)?;
        sized(op, "the threshold", thr, 1, 1)?;
        let need = u64::from(at) + 1 + u64::from(v.rows());
        if v.rows() == 0 || lab.words() < need {
            return Err(shape(
                op,
                format!(
                    "{} rows need {need} words of the row list, which has {}",
                    v.rows(),
                    lab.words()
                ),
            ));
        }
        let p = SelectParams {
            v_off: v.offset(),
            t_off: thr.offset(),
            l_off: at,
            ..SelectParams::new(v.rows())
        };
        self.plan.dispatch(
            k::select::SELECT_BELOW,
            Some(&p),
            &[("v", v.buffer()), ("thr", thr.buffer()), ("lab", lab)],
            [1, 1, 1],
        )
    }

    /// `out[e] = table[idx[e], col]` for each row of `idx` (`n x 1`, indices as f32, each
    /// below `table`'s rows: the kernel does not check them).
    pub fn lookup(&mut self, idx: &Tensor, table: &Tensor, col: u32, out: &Tensor) -> Result<()> {
        let op = "lookup";
        let n = idx.rows();
        sized(op, "the indices", idx, n, 1)?;
        sized(op, "the output", out, n, 1)?;
        if n == 0 || col >= table.cols() || table.rows() == 0 {
            return Err(shape(
                op,
                format!(
                    "column {col} of a {}x{} table for {n} rows",
                    table.rows(),
                    table.cols()
                ),
            ));
        }
        apart(op, out, &[idx, table])?;
        let p = SelectParams {
            v_off: idx.offset(),
            w_off: table.offset(),
            width: table.cols(),
            col,
            o_off: out.offset(),
            ..SelectParams::new(n)
        };
        let groups = groups_1d(&self.gpu().clone(), n)?;
        self.plan.dispatch(
            k::select::LOOKUP,
            Some(&p),
            &[
                ("v", idx.buffer()),
                ("w", table.buffer()),
                ("out", out.buffer()),
            ],
            groups,
        )
    }
}
