//! The fused top-k against its CPU reference: many ties, k = 1, k larger than a workgroup,
//! n not a multiple of anything, masks, NaN scores, all but k rows excluded, and k larger than
//! the pool (an error).

mod common;

use common::*;
use oddity::Gpu;
use oddity::ops::topk::TOPK_MAX;
use oddity::tape::{StepState, Tape, Tensor};
use oddity_kernels::reference::top_k;
use rand::RngExt;

fn gpu_top_k(
    gpu: &Gpu,
    scores: &[f32],
    mask: Option<&[u32]>,
    k: u32,
) -> oddity::Result<Vec<(u32, f32)>> {
    let state = StepState::new(gpu)?;
    let mut tape = Tape::new(gpu, &state);
    let s = Tensor::from_slice(gpu, scores, scores.len() as u32, 1, "scores")?;
    let m = mask.map(|m| gpu.upload(m, "mask")).transpose()?;
    let top = tape.top_k(&s, m.as_ref().map(|b| (b, 0)), k)?;
    gpu.write(&top.out, 0, &vec![0xdead_beefu32; 2 * k as usize])?;
    tape.finish()?.run(1)?;
    top.read(gpu)
}

fn same(got: &[(u32, f32)], want: &[(u32, f32)]) -> bool {
    got.len() == want.len()
        && got
            .iter()
            .zip(want)
            .all(|(a, b)| a.0 == b.0 && a.1.to_bits() == b.1.to_bits())
}

#[test]
fn matches_reference_with_many_ties_and_masks() {
    let gpu = gpu();
    let mut rng = rng();
    for &(n, k) in &[
        (1u32, 1u32),
        (5, 3),
        (2047, 1),
        (2049, 300),
        (4097, 10),
        (60001, 10),
        (60001, TOPK_MAX),
        (9000, 777),
    ] {
        for masked in [false, true] {
            // Scores from a handful of values (many ties), with some NaN and -inf.
            let scores: Vec<f32> = (0..n)
                .map(|_| match rng.random_range(0..20) {
                    0 => f32::NAN,
                    1 => f32::NEG_INFINITY,
                    v => (v % 7) as f32 * 0.5 - 1.0,
                })
                .collect();
            let mask: Vec<u32> = (0..n)
                .map(|_| u32::from(masked && rng.random_range(0..3) == 0))
                .collect();
            let want = top_k(&scores, Some(&mask), k as usize);
            if want.len() < k as usize {
                continue;
            }
            let got = gpu_top_k(&gpu, &scores, Some(&mask), k).unwrap();
            assert!(
                same(&got, &want),
                "n={n} k={k} masked={masked}: got {:?}... want {:?}...",
                &got[..got.len().min(5)],
                &want[..want.len().min(5)]
            );
        }
    }
}

#[test]
fn distinct_random_scores_and_no_mask() {
    let gpu = gpu();
    let mut rng = rng();
    let n = 30011;
    let scores = randn(&mut rng, n, 10.0);
    for k in [1u32, 256, 257, 1000] {
        let want = top_k(&scores, None, k as usize);
        let got = gpu_top_k(&gpu, &scores, None, k).unwrap();
        assert!(same(&got, &want), "k={k}");
    }
}

#[test]
fn all_but_k_excluded_and_pool_too_small() {
    let gpu = gpu();
    let mut rng = rng();
    let n = 5000usize;
    let scores = randn(&mut rng, n, 1.0);
    let k = 7;
    let mut mask = vec![1u32; n];
    for i in [3usize, 999, 1000, 2048, 2049, 4095, 4999] {
        mask[i] = 0;
    }
    let got = gpu_top_k(&gpu, &scores, Some(&mask), k).unwrap();
    assert!(same(&got, &top_k(&scores, Some(&mask), k as usize)));
    let mut ids: Vec<u32> = got.iter().map(|p| p.0).collect();
    ids.sort();
    assert_eq!(ids, vec![3, 999, 1000, 2048, 2049, 4095, 4999]);
    mask[4999] = 1;
    let err = gpu_top_k(&gpu, &scores, Some(&mask), k)
        .unwrap_err()
        .to_string();
    assert!(err.contains("k = 7 but only 6 rows can be chosen"), "{err}");
}

#[test]
fn bad_k_is_an_error() {
    let gpu = gpu();
    let scores = vec![1.0f32; 10];
    assert!(
        gpu_top_k(&gpu, &scores, None, 0)
            .unwrap_err()
            .to_string()
            .contains("1 <= k")
    );
    assert!(
        gpu_top_k(&gpu, &scores, None, 11)
            .unwrap_err()
            .to_string()
            .contains("more than the 10 rows")
    );
    assert!(gpu_top_k(&gpu, &scores, None, TOPK_MAX + 1).is_err());
    let short_mask = vec![0u32; 5];
    assert!(
        gpu_top_k(&gpu, &scores, Some(&short_mask), 2)
            .unwrap_err()
            .to_string()
            .contains("exclusion mask")
    );
}

/// `topk_logits` against its reference: the selection's rows' scores in another vector (at an
/// offset inside its buffer), in the selection's order, 0 where the selection has no row;
/// awkward n and k (one workgroup's worth and one past it), the output poisoned first.
#[test]
fn logits_of_the_chosen_rows_match_the_reference() {
    use oddity_kernels::params::TopKParams;
    use oddity_kernels::reference::topk_logits;
    let gpu = gpu();
    let mut rng = rng();
    for &(n, k, excluded) in &[
        (1u32, 1u32, false),
        (7, 7, true),
        (2049, 257, false),
        (4099, 256, true),
        (30011, 10, false),
    ] {
        let scores = randn(&mut rng, n as usize, 1.0);
        // All but every 997th row excluded in the masked cases: fewer than k rows to choose.
        let mask: Vec<u32> = (0..n)
            .map(|i| u32::from(excluded && i % 997 != 1))
            .collect();
        let other = randn(&mut rng, n as usize + 5, 3.0);
        let state = StepState::new(&gpu).unwrap();
        let mut tape = Tape::new(&gpu, &state);
        let s = Tensor::from_slice(&gpu, &scores, n, 1, "scores").unwrap();
        let m = gpu.upload(&mask, "mask").unwrap();
        let ob = Tensor::from_slice(&gpu, &other, n + 5, 1, "other").unwrap();
        let o = Tensor::view(ob.buffer(), 5, n, 1).unwrap();
        let top = tape.top_k(&s, Some((&m, 0)), k).unwrap();
        let logits = tape.top_k_logits(&top, &o).unwrap();
        gpu.write(&logits, 0, &vec![f32::NAN; k as usize]).unwrap();
        tape.finish().unwrap().run(1).unwrap();
        let words = gpu.read_u32(&top.out, 0, 2 * u64::from(k)).unwrap();
        let pairs: Vec<[u32; 2]> = words.chunks(2).map(|p| [p[0], p[1]]).collect();
        let p = TopKParams {
            n,
            k,
            s_off: 5,
            m_off: 0,
            p_off: 0,
            o_off: 0,
        };
        let other64: Vec<f64> = other.iter().map(|&v| f64::from(v)).collect();
        let mut want = vec![f64::NAN; k as usize];
        topk_logits(&p, &pairs, &other64, &mut want);
        let got = gpu.read_f32(&logits, 0, u64::from(k)).unwrap();
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert_eq!(f64::from(*g), *w, "n={n} k={k} pair {i}: got {g}, want {w}");
        }
        // The rows chosen are the reference's, so the check above covers real rows; the
        // masked cases also cover pairs with no row (logit 0).
        let chosen = top_k(&scores, Some(&mask), k as usize);
        assert_eq!(chosen.len(), pairs.iter().filter(|p| p[0] != 0).count());
        if excluded {
            assert!(chosen.len() < k as usize && got[chosen.len()..].iter().all(|&v| v == 0.0));
        }
    }
}
