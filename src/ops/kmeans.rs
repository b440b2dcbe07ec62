//! k-means on the GPU (`kmeans.wgsl`): k-means++ seeding, the assignment and update steps of
//! Lloyd's algorithm, and each cluster's size and variance. No backward rule: clustering is
//! solved, not trained.

use oddity_kernels::kernels as k;
use oddity_kernels::params::{KmeansParams, NONE};

use super::{apart, f32_rows, groups_1d, one_buffer, sized};
use crate::error::{Result, shape};
use crate::tape::{Tape, Tensor};

/// An error of `op` unless `cent` holds k >= 1 centroids of `x`'s width.
fn centroids(op: &'static str, x: &Tensor, cent: &Tensor) -> Result<()> {
    if cent.cols() != x.cols() || cent.rows() == 0 || x.rows() == 0 {
        return Err(shape(
            op,
            format!(
                "{}x{} centroids for {}x{} rows",
                cent.rows(),
                cent.cols(),
                x.rows(),
                x.cols()
            ),
        ));
    }
    Ok(())
}

impl Tape {
    /// Each row of `x`'s nearest centroid of `cent` (`k x cols`; ties to the lower index) into
    /// `asg` (`rows x 1`, the index as f32; left out when None) and its squared distance into
    /// `dist` (`rows x 1`); `asg` and `dist` views of one buffer.
    pub fn kmeans_assign(
        &mut self,
        x: &Tensor,
        cent: &Tensor,
        asg: Option<&Tensor>,
        dist: &Tensor,
    ) -> Result<()> {
        let op = "kmeans_assign";
        f32_rows(op, &[x])?;
        centroids(op, x, cent)?;
        sized(op, "the distances", dist, x.rows(), 1)?;
        if let Some(a) = asg {
            sized(op, "the assignments", a, x.rows(), 1)?;
            one_buffer(op, "the assignments and distances", &[a, dist])?;
        }
        apart(op, dist, &[x, cent])?;
        let p = KmeansParams {
            x_off: x.offset(),
            c_off: cent.offset(),
            a_off: asg.map_or(NONE, Tensor::offset),
            d_off: dist.offset(),
            ..KmeansParams::new(x.rows(), x.cols(), cent.rows())
        };
        let groups = groups_1d(&self.gpu().clone(), x.rows())?;
        self.plan.dispatch(
            k::kmeans::KM_ASSIGN,
            Some(&p),
            &[
                ("x", x.buffer()),
                ("cent", cent.buffer()),
                ("out", dist.buffer()),
            ],
            groups,
        )
    }

    /// Each centroid of `cent` (`k x cols`) the mean of the rows of `x` that `asg` assigns to
    /// it (a centroid with none keeps its value), and how far it moved (squared) into `moved`
    /// (`k x 1`); `cent` and `moved` views of one buffer.
    pub fn kmeans_update(
        &mut self,
        x: &Tensor,
        asg: &Tensor,
        cent: &Tensor,
        moved: &Tensor,
    ) -> Result<()> {
        let op = "kmeans_update";
        f32_rows(op, &[x])?;
        centroids(op, x, cent)?;
        sized(op, "the assignments", asg, x.rows(), 1)?;
        sized(op, "the moves", moved, cent.rows(), 1)?;
        let out = one_buffer(op, "the centroids and their moves", &[cent, moved])?;
        apart(op, cent, &[x, asg])?;
        let p = KmeansParams {
            x_off: x.offset(),
            c_off: cent.offset(),
            a_off: asg.offset(),
            s_off: moved.offset(),
            ..KmeansParams::new(x.rows(), x.cols(), cent.rows())
        };
        self.plan.dispatch(
            k::kmeans::KM_UPDATE,
            Some(&p),
            &[("x", x.buffer()), ("aux", asg.buffer()), ("out", &out)],
            [cent.rows(), 1, 1],
        )
    }

    /// Each of `k` clusters' size and mean squared distance (its variance; 0 when empty) into
    /// `stats` (`k x 2`), from the assignments and distances of [`Tape::kmeans_assign`] (views
    /// of one buffer).
    pub fn kmeans_stats(&mut self, asg: &Tensor, dist: &Tensor, stats: &Tensor) -> Result<()> {
        let op = "kmeans_stats";
        let rows = asg.rows();
        sized(op, "the assignments", asg, rows, 1)?;
        sized(op, "the distances", dist, rows, 1)?;
        let aux = one_buffer(op, "the assignments and distances", &[asg, dist])?;
        if stats.cols() != 2 || stats.rows() == 0 || rows == 0 {
            return Err(shape(
                op,
                format!("{}x{} statistics: k x 2", stats.rows(), stats.cols()),
            ));
        }
        apart(op, stats, &[asg])?;
        let p = KmeansParams {
            a_off: asg.offset(),
            d_off: dist.offset(),
            s_off: stats.offset(),
            ..KmeansParams::new(rows, 0, stats.rows())
        };
        self.plan.dispatch(
            k::kmeans::KM_STATS,
            Some(&p),
            &[("aux", &aux), ("out", stats.buffer())],
            [stats.rows(), 1, 1],
        )
    }

    /// k-means++: each row's squared distance to centroid `idx` of `cent` into `mind`
    /// (`rows x 1`), or (`keep_min`) the smaller of it and what `mind` holds.
    pub fn kmeans_seed_dist(
        &mut self,
        x: &Tensor,
        cent: &Tensor,
        idx: u32,
        mind: &Tensor,
        keep_min: bool,
    ) -> Result<()> {
        let op = "kmeans_seed_dist";
        f32_rows(op, &[x])?;
        centroids(op, x, cent)?;
        sized(op, "the distances", mind, x.rows(), 1)?;
        apart(op, mind, &[x, cent])?;
        if idx >= cent.rows() {
            return Err(shape(op, format!("centroid {idx} of {}", cent.rows())));
        }
        let p = KmeansParams {
            x_off: x.offset(),
            c_off: cent.offset(),
            m_off: mind.offset(),
            idx,
            mode: u32::from(keep_min),
            ..KmeansParams::new(x.rows(), x.cols(), cent.rows())
        };
        let groups = groups_1d(&self.gpu().clone(), x.rows())?;
        self.plan.dispatch(
            k::kmeans::KM_SEED_DIST,
            Some(&p),
            &[
                ("x", x.buffer()),
                ("cent", cent.buffer()),
                ("out", mind.buffer()),
            ],
            groups,
        )
    }

    /// k-means++: a row of `x` becomes centroid `idx` of `cent`, drawn with probability
    /// proportional to `weights` (`rows x 1`; uniformly when they sum to 0), or uniformly
    /// (`weights` None), by the uniform of (`seed`, `tag`, `idx`) of the shaders' RNG.
    pub fn kmeans_seed_pick(
        &mut self,
        x: &Tensor,
        weights: Option<&Tensor>,
        cent: &Tensor,
        idx: u32,
        seed: u32,
        tag: u32,
    ) -> Result<()> {
        let op = "kmeans_seed_pick";
        f32_rows(op, &[x])?;
        centroids(op, x, cent)?;
        if let Some(w) = weights {
            sized(op, "the weights", w, x.rows(), 1)?;
            apart(op, cent, &[x, w])?;
        } else {
            apart(op, cent, &[x])?;
        }
        if idx >= cent.rows() {
            return Err(shape(op, format!("centroid {idx} of {}", cent.rows())));
        }
        let p = KmeansParams {
            x_off: x.offset(),
            c_off: cent.offset(),
            m_off: weights.map_or(0, Tensor::offset),
            idx,
            mode: u32::from(weights.is_none()),
            seed,
            tag,
            ..KmeansParams::new(x.rows(), x.cols(), cent.rows())
        };
        // The uniform draw reads no weights; x stands in for the binding.
        let aux = weights.map_or(x.buffer(), Tensor::buffer);
        self.plan.dispatch(
            k::kmeans::KM_SEED_PICK,
            Some(&p),
            &[("x", x.buffer()), ("aux", aux), ("out", cent.buffer())],
            [1, 1, 1],
        )
    }
}
