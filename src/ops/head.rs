//! The UAI head as one op (`head.wgsl`): a logistic layer on [l; detach(s)] over some rows of a
//! latent tensor (s standardised by running statistics of the minibatches, its weight exp of a parameter
//! so that the head is increasing in s), its masked mean BCE, and in the backward pass the head's gradient and the
//! latent's in one dispatch. Equal to `concat_cols` + `dense` + `bce_with_logits` (and, with
//! the prior, its gradient kernel), in one or two dispatches instead of nine: the forward is
//! deferred (`PlanBuilder::defer`), and when the backward is recorded before anything reads
//! the loss, the backward's dispatch writes the loss too and the forward is dropped.

use oddity_kernels::kernels as k;
pub use oddity_kernels::params::HEAD_STATS_START;
use oddity_kernels::params::{HeadParams, NONE};

use super::dense::DenseParams;
use super::loss::upstream;
use crate::error::{Result, invalid, shape};
use crate::gpu::GpuBuffer;
use crate::tape::{Backward, BackwardCtx, Deferred, Grad, Tape, Tensor};

/// Rows one head op can take (its workgroup keeps a coefficient per row).
pub const HEAD_MAX_ROWS: u32 = 1024;

/// Where the head reads its rows and labels.
pub struct HeadInput<'a> {
    /// `l_rows x h` latent rows; the head reads rows `r0 .. r0 + y.rows()`.
    pub latent: &'a Tensor,
    pub r0: u32,
    /// One score per latent row (`l_rows x 1`), detached: it gets no gradient. Rows before
    /// `r0` are the minibatch whose mean and standard deviation standardise it.
    pub score: &'a Tensor,
    /// Targets (1 anomaly, 0 normal) and the mask of rows that count, `rows x 1` each, views of
    /// one buffer (as `sample_labelled` makes them).
    pub y: &'a Tensor,
    pub mask: &'a Tensor,
    /// The head's Gaussian prior N(0, I / inv_var) on its latent weights and the log of its
    /// weight on the score (its start: the logit is the standardised score), the bias left
    /// free: its inverse variance and the label count (1x1, a view of the targets' buffer, as
    /// `sample_labelled` writes it). The op's loss is then the mean BCE plus |w|^2 inv_var /
    /// (2 count) over those weights: MAP logistic regression divided by the count. No prior
    /// while the count is 0.
    pub prior: Option<(f32, &'a Tensor)>,
    /// The score's running standardisation, `3 x 1`: (mean, standard deviation, minibatches
    /// behind them), read by the forward and read and updated by the backward with the
    /// minibatch rows before `r0` (`head.wgsl`); [`HEAD_STATS_START`] before the first step.
    /// [`Tape::uai_head_scores`] reads its first two.
    pub stats: &'a Tensor,
    /// The weight of each new minibatch in the running statistics once 1 / `stats_decay`
    /// minibatches are behind them (a plain average until then); 1: each step standardises by
    /// its own minibatch alone. In (0, 1].
    pub stats_decay: f32,
}

struct HeadBackward {
    latent: Tensor,
    score: Tensor,
    w: Tensor,
    ym: GpuBuffer,
    stats: Tensor,
    p: HeadParams,
    out: Tensor,
    /// The deferred forward dispatch, dropped if the backward can write the loss instead.
    fwd: Deferred,
}

impl Backward for HeadBackward {
    fn output(&self) -> &Tensor {
        &self.out
    }

    fn backward(&self, ctx: &mut BackwardCtx<'_>, grad: Grad) -> Result<()> {
        let gpu = ctx.gpu();
        let dl = ctx.dest(&self.latent)?;
        let dw = match ctx.dest(&self.w)? {
            Some(d) => d,
            // A frozen head still needs somewhere to put its gradient.
            None if dl.is_some() => (Tensor::new(&gpu, self.w.rows(), 1, "head grad")?, false),
            None => return Ok(()),
        };
        let (g_buf, g_off, g_scale) = upstream(&gpu, &grad)?;
        let dl_buf = match &dl {
            Some((t, _)) => t.buffer().clone(),
            None => gpu.dummy(true)?,
        };
        // Nothing has read the loss since the forward was recorded: write it here instead.
        // (The loss's buffer is bound either way; with NONE the kernel leaves it alone.)
        let loss_off = if ctx.plan.cancel(self.fwd) {
            self.out.offset()
        } else {
            NONE
        };
        let p = HeadParams {
            out_off: dw.0.offset(),
            g_off,
            g_scale,
            dw_acc: u32::from(dw.1),
            dl_off: dl.as_ref().map_or(NONE, |(t, _)| t.offset()),
            dl_acc: u32::from(dl.as_ref().is_some_and(|d| d.1)),
            loss_off,
            ..self.p
        };
        ctx.plan.dispatch(
            k::head::HEAD_BWD,
            Some(&p),
            &[
                ("l", self.latent.buffer()),
                ("s", self.score.buffer()),
                ("w", self.w.buffer()),
                ("ym", &self.ym),
                ("g", &g_buf),
                ("out", dw.0.buffer()),
                ("dl", &dl_buf),
                ("loss", self.out.buffer()),
                ("stats", self.stats.buffer()),
            ],
            [1, 1, 1],
        )
    }
}

impl Tape {
    /// The UAI head's masked mean BCE (a 1x1 tensor) on rows `r0 ..` of `input.latent`; see
    /// the module documentation. `head` is a dense layer of h + 1 inputs and one output.
    pub fn uai_head(&mut self, input: HeadInput<'_>, head: &DenseParams) -> Result<Tensor> {
        let HeadInput {
            latent,
            r0,
            score,
            y,
            mask,
            prior,
            stats,
            stats_decay,
        } = input;
        let rows = y.rows();
        let bad = |detail: String| Err(shape("uai_head", detail));
        if rows == 0 || rows > HEAD_MAX_ROWS {
            return Err(invalid(
                "uai_head",
                format!("{rows} labelled rows (1 to {HEAD_MAX_ROWS})"),
            ));
        }
        let base = head_params("uai_head", latent, score, head)?;
        if u64::from(r0) + u64::from(rows) > u64::from(latent.rows()) {
            return bad(format!(
                "rows {r0}..{} of a {}-row latent",
                u64::from(r0) + u64::from(rows),
                latent.rows()
            ));
        }
        check_stats("uai_head", stats, 3)?;
        if !(stats_decay > 0.0 && stats_decay <= 1.0) {
            return Err(invalid(
                "uai_head",
                format!("the statistics' decay must be in (0, 1], got {stats_decay}"),
            ));
        }
        if y.cols() != 1 || (mask.rows(), mask.cols()) != (rows, 1) {
            return bad(format!(
                "targets {}x{} and mask {}x{} (need {rows}x1 each)",
                y.rows(),
                y.cols(),
                mask.rows(),
                mask.cols()
            ));
        }
        if y.buffer().id() != mask.buffer().id()
            || prior.is_some_and(|(_, c)| c.buffer().id() != y.buffer().id())
        {
            return Err(invalid(
                "uai_head",
                "targets, mask and label count must be views of one buffer",
            ));
        }
        if let Some((inv_var, count)) = prior {
            if !(inv_var > 0.0 && inv_var.is_finite()) {
                return Err(invalid(
                    "uai_head",
                    format!("the prior's inverse variance must be positive, got {inv_var}"),
                ));
            }
            if count.len() != 1 {
                return bad(format!(
                    "a {}x{} label count (needs 1x1)",
                    count.rows(),
                    count.cols()
                ));
            }
        }
        let out = Tensor::new(self.gpu(), 1, 1, "head bce")?;
        let p = HeadParams {
            rows,
            r0,
            y_off: y.offset(),
            m_off: mask.offset(),
            out_off: out.offset(),
            inv_var: prior.map_or(0.0, |(v, _)| v),
            c_off: prior.map_or(0, |(_, c)| c.offset()),
            st_off: stats.offset(),
            decay: stats_decay,
            ..base
        };
        let fwd = self.plan.defer(
            k::head::HEAD_FWD,
            Some(&p),
            &[
                ("l", latent.buffer()),
                ("s", score.buffer()),
                ("w", head.param.buffer()),
                ("ym", y.buffer()),
                ("out", out.buffer()),
                ("stats_in", stats.buffer()),
            ],
            [1, 1, 1],
        )?;
        self.push(
            &[latent, &head.param],
            Box::new(HeadBackward {
                latent: latent.clone(),
                score: score.clone(),
                w: head.param.clone(),
                ym: y.buffer().clone(),
                stats: stats.clone(),
                p,
                out: out.clone(),
                fwd,
            }),
        );
        Ok(out)
    }

    /// The head's logit for every row of `latent` (`rows x h`) and `score` (`rows x 1`) into
    /// `out` (`rows x 1`, e.g. a slice of a dataset-wide score vector), in one dispatch: the
    /// query's ranking. The score is standardised by `stats` (mean, standard deviation; `2 x
    /// 1`: the first two of the training's running state). Records no backward rule.
    pub fn uai_head_scores(
        &mut self,
        latent: &Tensor,
        score: &Tensor,
        head: &DenseParams,
        stats: &Tensor,
        out: &Tensor,
    ) -> Result<()> {
        let base = head_params("uai_head_scores", latent, score, head)?;
        let rows = latent.rows();
        check_stats("uai_head_scores", stats, 2)?;
        if (out.rows(), out.cols()) != (rows, 1) {
            return Err(shape(
                "uai_head_scores",
                format!(
                    "a {}x{} output for a {rows}-row latent (needs {rows}x1)",
                    out.rows(),
                    out.cols()
                ),
            ));
        }
        let p = HeadParams {
            out_off: out.offset(),
            st_off: stats.offset(),
            ..base
        };
        let groups = self.gpu().grid_1d(rows.div_ceil(256))?;
        self.plan.dispatch(
            k::head::HEAD_SCORE,
            Some(&p),
            &[
                ("l", latent.buffer()),
                ("s", score.buffer()),
                ("w", head.param.buffer()),
                ("out", out.buffer()),
                ("stats_in", stats.buffer()),
            ],
            groups,
        )
    }
}

/// Refuses a standardisation tensor that is not `need x 1`: (mean, standard deviation) and,
/// for the training's running state, the count.
fn check_stats(op: &'static str, stats: &Tensor, need: u32) -> Result<()> {
    if stats.len() != need {
        return Err(shape(
            op,
            format!(
                "a {}x{} statistics tensor (needs {need}x1)",
                stats.rows(),
                stats.cols()
            ),
        ));
    }
    Ok(())
}

/// The parameters every head kernel shares, for a head on `latent` (`rows x h`) with one
/// score per latent row: all rows from row 0, no labels, no gradient, no prior. Refuses a
/// head that is not `h + 1` inputs and one output, or a score that is not one per row.
fn head_params(
    op: &'static str,
    latent: &Tensor,
    score: &Tensor,
    head: &DenseParams,
) -> Result<HeadParams> {
    let (rows, h) = (latent.rows(), latent.cols());
    if head.inputs != h + 1 || head.outputs != 1 {
        return Err(shape(
            op,
            format!(
                "a head of {} inputs and {} outputs on a latent of {h} columns (needs {} and 1)",
                head.inputs,
                head.outputs,
                h + 1
            ),
        ));
    }
    if (score.rows(), score.cols()) != (rows, 1) {
        return Err(shape(
            op,
            format!(
                "a {}x{} score for a {rows}-row latent (needs one score per row)",
                score.rows(),
                score.cols()
            ),
        ));
    }
    Ok(HeadParams {
        rows,
        h,
        l_off: latent.offset(),
        l_rows: rows,
        r0: 0,
        s_off: score.offset(),
        w_off: head.param.offset(),
        y_off: 0,
        m_off: 0,
        out_off: 0,
        g_off: NONE,
        g_scale: 1.0,
        dw_acc: 0,
        dl_off: NONE,
        dl_acc: 0,
        inv_var: 0.0,
        c_off: 0,
        loss_off: NONE,
        st_off: NONE,
        decay: 1.0,
    })
}
