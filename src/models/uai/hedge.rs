//! The UAI models' query while the expert's labels hold one class only.
//!
//! Labels of one class cannot tell the head which way the anomalies lie. All normal (the usual
//! start: the expert sees the base network's top rows, most of them normal), the head learns
//! "unlike these rows", along whatever its code says they share. On the 8x8 digits that
//! leads away from the labelled rows onto the anomalies the base network ranks low; on MNIST
//! 5k it leads away from the anomalies, which resemble the base's top rows, and DAE_uai found
//! none of 50 where its DAE found a few (BENCHMARKS.md, stop 20). Nothing in one-class labels
//! says which case holds, so until the labels hold both classes a query hedges: it alternates
//! the head's best rows with the base network's own (s(x) alone), the head's first, skipping
//! rows already taken. Either ranking then gets about half of each query. From the first
//! label of the other class on, the head ranks alone (Algorithm 1).

use crate::error::Result;
use crate::gpu::{Gpu, GpuBuffer};
use crate::ops::topk::TopK;
use crate::tape::Plan;

/// A recorded hedged query: every row's head logit (into the plain query's score tensor) and
/// s(x), then the top k of each, and the head's logits of the base network's k rows.
pub(super) struct HedgedQuery {
    pub plan: Plan,
    pub head_top: TopK,
    pub base_top: TopK,
    /// `base_top`'s rows' head logits, in its order ([`crate::tape::Tape::top_k_logits`]).
    pub base_logits: GpuBuffer,
}

impl HedgedQuery {
    /// Runs the plan (one submit) and reads both top k and the base picks' logits back in
    /// one readback (one host wait, as the plain query); returns k rows, the head's and the
    /// base network's best alternating (see [`interleave`]), each with its head logit, so
    /// that every row shown has the score of one ranking.
    pub fn select(&self, gpu: &Gpu) -> Result<Vec<(u32, f32)>> {
        self.plan.run(1)?;
        let k = u64::from(self.head_top.k);
        let words: Vec<u32> = gpu
            .read_many_async(&[
                (&self.head_top.out, 0, 2 * k),
                (&self.base_top.out, 0, 2 * k),
                (&self.base_logits, 0, k),
            ])?
            .wait()?
            .into_iter()
            .map(f32::to_bits)
            .collect();
        let (head_words, rest) = words.split_at(2 * k as usize);
        let (base_words, logits) = rest.split_at(2 * k as usize);
        let head = self.head_top.parse(head_words)?;
        let base = self.base_top.parse(base_words)?;
        let mut rows = interleave(&head, &base);
        for row in &mut rows {
            // The head's logit: from the head's pairs, else from the base picks' logits by
            // the row's place among the base pairs (each a (key, row) word pair, key 0 for
            // none). A row both lists hold may have come from the base list, with s(x).
            row.1 = match head.iter().find(|h| h.0 == row.0) {
                Some(&(_, logit)) => logit,
                None => base_words
                    .chunks_exact(2)
                    .position(|p| p[0] != 0 && p[1] == row.0)
                    .map_or(f32::NAN, |j| f32::from_bits(logits[j])),
            };
        }
        Ok(rows)
    }
}

/// The head's rows and the base network's alternately, the head's first, each row once, as
/// many as the head gives (`head` and `base` best first, each without repeats, of the same
/// length k: then k distinct rows always come out).
fn interleave(head: &[(u32, f32)], base: &[(u32, f32)]) -> Vec<(u32, f32)> {
    let k = head.len();
    let mut out: Vec<(u32, f32)> = Vec::with_capacity(k);
    let (mut h, mut b) = (head.iter(), base.iter());
    while out.len() < k {
        let (first, other) = match out.len() % 2 {
            0 => (&mut h, &mut b),
            _ => (&mut b, &mut h),
        };
        // When one list has no new row left, the other fills the rest.
        match next_new(first, &out).or_else(|| next_new(other, &out)) {
            Some(p) => out.push(p),
            None => break,
        }
    }
    out
}

/// The next pair of `list` whose row is not in `taken`.
fn next_new<'a>(
    list: &mut impl Iterator<Item = &'a (u32, f32)>,
    taken: &[(u32, f32)],
) -> Option<(u32, f32)> {
    list.find(|p| !taken.iter().any(|t| t.0 == p.0)).copied()
}

#[cfg(test)]
mod tests {
    use super::interleave;

    fn rows(v: &[u32]) -> Vec<(u32, f32)> {
        v.iter().map(|&r| (r, r as f32)).collect()
    }

    fn ids(v: &[(u32, f32)]) -> Vec<u32> {
        v.iter().map(|p| p.0).collect()
    }

    #[test]
    fn alternates_head_first_and_skips_rows_taken() {
        assert_eq!(
            ids(&interleave(
                &rows(&[1, 2, 3, 4, 5]),
                &rows(&[9, 8, 7, 6, 0])
            )),
            [1, 9, 2, 8, 3]
        );
        // The base's best are the head's too: the base's next new rows come instead.
        assert_eq!(
            ids(&interleave(&rows(&[1, 2, 3, 4]), &rows(&[2, 1, 7, 6]))),
            [1, 2, 3, 7]
        );
        // The same ranking: the head's own order.
        assert_eq!(
            ids(&interleave(&rows(&[4, 3, 2]), &rows(&[4, 3, 2]))),
            [4, 3, 2]
        );
        assert_eq!(ids(&interleave(&rows(&[5]), &rows(&[6]))), [5]);
        assert!(interleave(&[], &[]).is_empty());
    }

    #[test]
    fn keeps_each_rows_own_pair() {
        let head = [(1, 0.5), (2, 0.25)];
        let base = [(7, 40.0), (1, 30.0)];
        assert_eq!(interleave(&head, &base), [(1, 0.5), (7, 40.0)]);
    }
}
