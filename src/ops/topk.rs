//! Top-k selection on the GPU: the k highest scores among rows not excluded (e.g. already
//! labelled), ties broken by the lower index, leaving k (index, score) pairs to read back.
//! Each pass sorts blocks of 2048 candidates in workgroup memory and keeps each block's best;
//! for the paper's n = 60000, k = 10 that is two dispatches.

use oddity_kernels::kernels as k;
use oddity_kernels::params::{NONE, TopKParams};
use oddity_kernels::reference::key_score;

use crate::error::{Result, invalid, shape};
use crate::gpu::{Gpu, GpuBuffer};
use crate::tape::{Tape, Tensor};

/// Candidates one workgroup sorts.
pub const TOPK_BLOCK: u32 = 2048;
/// The largest k: each pass must at least halve the candidates.
pub const TOPK_MAX: u32 = TOPK_BLOCK / 2;

/// Where a recorded top-k leaves its result.
#[derive(Clone, Debug)]
pub struct TopK {
    /// The final pairs (order key, index), best first, from word 0.
    pub out: GpuBuffer,
    pub k: u32,
}

impl TopK {
    /// The k (index, score) pairs, best first (one readback of 2k words). Fewer than k rows
    /// that could be chosen is an error naming how many there were.
    pub fn read(&self, gpu: &Gpu) -> Result<Vec<(u32, f32)>> {
        self.parse(&gpu.read_u32(&self.out, 0, 2 * u64::from(self.k))?)
    }

    /// The pairs from the 2k words of `out`, read back by the caller (with other words, in
    /// one readback); errors as [`TopK::read`].
    pub fn parse(&self, words: &[u32]) -> Result<Vec<(u32, f32)>> {
        let pairs: Vec<(u32, f32)> = words
            .chunks(2)
            .filter(|p| p[0] != 0)
            .map(|p| (p[1], key_score(p[0])))
            .collect();
        if pairs.len() < self.k as usize {
            return Err(invalid(
                "top-k",
                format!(
                    "k = {} but only {} rows can be chosen (not excluded, score not NaN)",
                    self.k,
                    pairs.len()
                ),
            ));
        }
        Ok(pairs)
    }
}

impl Tape {
    /// Records the selection of the k best rows of `scores` (an `n x 1` tensor), skipping rows
    /// whose word in `exclude` (u32 flags at the given offset, one per row) is not zero.
    pub fn top_k(
        &mut self,
        scores: &Tensor,
        exclude: Option<(&GpuBuffer, u32)>,
        k: u32,
    ) -> Result<TopK> {
        if scores.cols() != 1 {
            return Err(shape(
                "top_k",
                format!(
                    "scores must be n x 1, got {}x{}",
                    scores.rows(),
                    scores.cols()
                ),
            ));
        }
        let n = scores.rows();
        if k == 0 || k > TOPK_MAX {
            return Err(invalid(
                "k",
                format!("{k}: top-k takes 1 <= k <= {TOPK_MAX}"),
            ));
        }
        if k > n {
            return Err(invalid("k", format!("{k} is more than the {n} rows")));
        }
        if let Some((m, off)) = exclude
            && u64::from(off) + u64::from(n) > m.words()
        {
            return Err(shape(
                "top_k",
                format!(
                    "the exclusion mask has {} words, {n} needed from {off}",
                    m.words()
                ),
            ));
        }
        let gpu = self.gpu().clone();
        let kk = k.min(TOPK_BLOCK);
        let unused = gpu.dummy(false)?;
        let (mask, m_off) = exclude.map_or((unused.clone(), NONE), |(m, o)| (m.clone(), o));
        let mut count = n;
        let mut prev: Option<GpuBuffer> = None;
        loop {
            let groups = count.div_ceil(TOPK_BLOCK);
            let out = gpu.buffer(2 * u64::from(groups * kk), "top-k candidates")?;
            let p = TopKParams {
                n: count,
                k,
                s_off: scores.offset(),
                m_off,
                p_off: 0,
                o_off: 0,
            };
            let groups3 = gpu.grid_1d(groups)?;
            if groups3[1] != 1 {
                return Err(invalid(
                    "top_k",
                    format!("{n} rows need {groups} workgroups in one dimension"),
                ));
            }
            match &prev {
                None => self.plan.dispatch(
                    k::topk::TOPK_SCORES,
                    Some(&p),
                    &[("scores", scores.buffer()), ("mask", &mask), ("out", &out)],
                    groups3,
                )?,
                Some(pairs) => self.plan.dispatch(
                    k::topk::TOPK_PAIRS,
                    Some(&p),
                    &[("pairs", pairs), ("out", &out)],
                    groups3,
                )?,
            }
            count = groups * kk;
            prev = Some(out);
            if groups == 1 {
                break;
            }
        }
        Ok(TopK {
            out: prev.unwrap_or(unused),
            k,
        })
    }

    /// Records, for each of `top`'s k rows, that row's score in `other` (an `n x 1` tensor of
    /// the same rows as the scores `top` ranks): k words, in `top`'s order, 0 where `top` has
    /// no row (fewer than k could be chosen). One dispatch.
    pub fn top_k_logits(&mut self, top: &TopK, other: &Tensor) -> Result<GpuBuffer> {
        if other.cols() != 1 {
            return Err(shape(
                "top_k_logits",
                format!(
                    "scores must be n x 1, got {}x{}",
                    other.rows(),
                    other.cols()
                ),
            ));
        }
        let gpu = self.gpu().clone();
        let logits = gpu.buffer(u64::from(top.k), "top-k logits")?;
        let p = TopKParams {
            n: other.rows(),
            k: top.k,
            s_off: other.offset(),
            m_off: NONE,
            p_off: 0,
            o_off: 0,
        };
        self.plan.dispatch(
            k::topk::TOPK_LOGITS,
            Some(&p),
            &[
                ("scores", other.buffer()),
                ("pairs", &top.out),
                ("logits", &logits),
            ],
            [top.k.div_ceil(256), 1, 1],
        )?;
        Ok(logits)
    }
}
