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
use crate::gpu::{Gpu, PendingRead};
use crate::ops::topk::TopK;
use crate::tape::{Plan, Tensor};

/// A recorded hedged query: every row's head logit (into the plain query's score tensor) and
/// s(x), then the top k of each.
pub(super) struct HedgedQuery {
    pub plan: Plan,
    pub head_top: TopK,
    pub base_top: TopK,
}

impl HedgedQuery {
    /// Runs the plan (one submit) and returns k rows, the head's and the base network's best
    /// alternating (see [`interleave`]), each with its head logit (from `scores`, where the
    /// plan wrote them).
    pub fn select(&self, gpu: &Gpu, scores: &Tensor) -> Result<Vec<(u32, f32)>> {
        self.plan.run(1)?;
        let head = self.head_top.read(gpu)?;
        let base = self.base_top.read(gpu)?;
        let mut rows = interleave(&head, &base);
        // A row the base network chose carries its score s(x); it shows the head's logit
        // instead (from the head's top k, else read back), so that every row shown has the
        // score of one ranking.
        let logits = rows
            .iter()
            .map(|&(r, _)| match head.iter().find(|h| h.0 == r) {
                Some(&(_, logit)) => Ok(Logit::Known(logit)),
                None => gpu
                    .read_async(scores.buffer(), u64::from(scores.offset() + r), 1)
                    .map(Logit::Reading),
            })
            .collect::<Result<Vec<_>>>()?;
        for (row, logit) in rows.iter_mut().zip(logits) {
            row.1 = match logit {
                Logit::Known(v) => v,
                Logit::Reading(pending) => pending.wait()?[0],
            };
        }
        Ok(rows)
    }
}

/// A shown row's head logit: in the head's top k, or being read back.
enum Logit {
    Known(f32),
    Reading(PendingRead),
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
