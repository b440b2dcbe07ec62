//! `kmeans.wgsl` against its f64 twins on fresh random inputs at awkward shapes (one row, one
//! column, sizes that are not multiples of a workgroup, empty clusters), operands at offsets
//! inside larger buffers and outputs poisoned with NaN first: the assignment (nearest
//! centroid, ties to the lower index), the update (means; an empty cluster kept), the
//! clusters' sizes and variances, and k-means++ seeding (distances, and draws that land
//! where the running sum of the weights says).

mod common;

use common::*;
use oddity::Tensor;
use oddity::tape::{StepState, Tape};
use oddity_kernels::params::KmeansParams;
use oddity_kernels::reference as r;
use rand::RngExt;

/// The shapes (rows, cols, k) every test runs.
const SHAPES: [(u32, u32, u32); 5] = [
    (1, 1, 1),
    (7, 3, 2),
    (257, 13, 5),
    (300, 1, 4),
    (1000, 70, 9),
];

/// `values` at offset `off` of a buffer of NaN with `pad` more words after them.
fn placed(gpu: &oddity::Gpu, values: &[f32], off: u32, pad: u32) -> oddity::gpu::GpuBuffer {
    let mut all = vec![f32::NAN; off as usize];
    all.extend_from_slice(values);
    all.extend(std::iter::repeat_n(f32::NAN, pad as usize));
    let n = all.len() as u32;
    Tensor::from_slice(gpu, &all, n, 1, "placed")
        .unwrap()
        .buffer()
        .clone()
}

fn run(gpu: &oddity::Gpu, record: impl FnOnce(&mut Tape)) {
    let state = StepState::new(gpu).unwrap();
    let mut tape = Tape::new(gpu, &state);
    record(&mut tape);
    tape.finish().unwrap().run(1).unwrap();
}

#[test]
fn assignment_picks_the_nearest_centroid() {
    let gpu = gpu();
    let mut rng = rng();
    for &(n, d, k) in &SHAPES {
        let x = randn(&mut rng, (n * d) as usize, 1.0);
        let mut c = randn(&mut rng, (k * d) as usize, 1.0);
        if k > 2 {
            // Centroid 2 a copy of centroid 1: every row nearer them goes to 1.
            let (a, b) = c.split_at_mut(2 * d as usize);
            b[..d as usize].copy_from_slice(&a[d as usize..]);
        }
        let xb = placed(&gpu, &x, 3, 2);
        let cb = placed(&gpu, &c, 5, 1);
        let xt = Tensor::view(&xb, 3, n, d).unwrap();
        let ct = Tensor::view(&cb, 5, k, d).unwrap();
        let out = nan_tensor(&gpu, 2 * n + 3, 1);
        let asg = Tensor::view(out.buffer(), 1, n, 1).unwrap();
        let dist = Tensor::view(out.buffer(), n + 2, n, 1).unwrap();
        run(&gpu, |t| {
            t.kmeans_assign(&xt, &ct, Some(&asg), &dist).unwrap()
        });
        let got = out.read(&gpu).unwrap();
        let p = KmeansParams {
            a_off: 1,
            d_off: n + 2,
            ..KmeansParams::new(n, d, k)
        };
        let mut want = vec![f64::NAN; (2 * n + 3) as usize];
        r::km_assign(&p, &wide(&x), &wide(&c), &mut want);
        for i in 0..n as usize {
            let j = got[1 + i] as usize;
            assert!(
                j < k as usize && got[1 + i] == j as f32,
                "row {i}: {}",
                got[1 + i]
            );
            if k > 2 {
                assert_ne!(j, 2, "row {i}: a tie goes to the lower index");
            }
            // The chosen centroid is the nearest in f64 up to f32 rounding (a near tie may
            // go either way), and its distance is reported.
            let dj: f64 = (0..d as usize)
                .map(|t| {
                    (f64::from(x[i * d as usize + t]) - f64::from(c[j * d as usize + t])).powi(2)
                })
                .sum();
            let best = want[(n + 2) as usize + i];
            assert!(
                dj <= best * (1.0 + 1e-5) + 1e-6,
                "row {i}: {dj} against {best}"
            );
            let e = (f64::from(got[(n + 2) as usize + i]) - dj).abs() / dj.max(1e-6);
            assert!(e < 1e-5, "row {i}'s distance: {e}");
        }
        assert!(
            got[0].is_nan() && got[n as usize + 1].is_nan() && got[2 * n as usize + 2].is_nan()
        );
    }
}

#[test]
fn update_means_and_moves_and_statistics() {
    let gpu = gpu();
    let mut rng = rng();
    for &(n, d, k) in &SHAPES {
        let x = randn(&mut rng, (n * d) as usize, 2.0);
        // Random assignments that never use the last cluster (when k > 1): it keeps its value.
        let used = if k > 1 { k - 1 } else { 1 };
        let asg: Vec<f32> = (0..n).map(|_| rng.random_range(0..used) as f32).collect();
        let dist: Vec<f32> = (0..n).map(|_| rng.random::<f32>() * 3.0).collect();
        let c0 = randn(&mut rng, (k * d) as usize, 1.0);
        let xt = Tensor::from_slice(&gpu, &x, n, d, "x").unwrap();
        let mut aux = asg.clone();
        aux.extend_from_slice(&dist);
        let ab = placed(&gpu, &aux, 2, 0);
        let (at, dt) = (
            Tensor::view(&ab, 2, n, 1).unwrap(),
            Tensor::view(&ab, 2 + n, n, 1).unwrap(),
        );
        // Centroids at offset 1, their moves after them (poisoned), then one spare word.
        let mut cm = vec![f32::NAN];
        cm.extend_from_slice(&c0);
        cm.extend(std::iter::repeat_n(f32::NAN, k as usize + 1));
        let cmt = Tensor::from_slice(&gpu, &cm, cm.len() as u32, 1, "centroids").unwrap();
        let ct = Tensor::view(cmt.buffer(), 1, k, d).unwrap();
        let mt = Tensor::view(cmt.buffer(), 1 + k * d, k, 1).unwrap();
        let stats = nan_tensor(&gpu, k, 2);
        run(&gpu, |t| {
            t.kmeans_update(&xt, &at, &ct, &mt).unwrap();
            t.kmeans_stats(&at, &dt, &stats).unwrap();
        });
        let p = KmeansParams {
            c_off: 1,
            a_off: 2,
            d_off: 2 + n,
            s_off: 1 + k * d,
            ..KmeansParams::new(n, d, k)
        };
        let mut want = wide(&cm);
        r::km_update(
            &p,
            &wide(&x),
            &wide(&[vec![f32::NAN; 2], aux.clone()].concat()),
            &mut want,
        );
        let got = cmt.read(&gpu).unwrap();
        let e = rel_err(
            &got[1..(1 + k * d) as usize],
            &want[1..(1 + k * d) as usize],
        );
        assert!(e < 1e-5, "centroids {n}x{d}, k {k}: {e}");
        let moves = (1 + k * d) as usize..(1 + k * d + k) as usize;
        let e = rel_err(&got[moves.clone()], &want[moves]);
        assert!(e < 1e-4, "moves {n}x{d}, k {k}: {e}");
        if k > 1 {
            let last = (1 + (k - 1) * d) as usize..(1 + k * d) as usize;
            assert_eq!(
                &got[last.clone()],
                &c0[last.start - 1..last.end - 1],
                "the empty cluster kept"
            );
            assert_eq!(
                got[(k * d + k) as usize],
                0.0,
                "the empty cluster did not move"
            );
        }
        assert!(got[0].is_nan() && got[cm.len() - 1].is_nan());
        let sp = KmeansParams {
            a_off: 2,
            d_off: 2 + n,
            ..KmeansParams::new(n, 0, k)
        };
        let mut want_s = vec![0.0; 2 * k as usize];
        r::km_stats(&sp, &wide(&[vec![f32::NAN; 2], aux].concat()), &mut want_s);
        let got_s = stats.read(&gpu).unwrap();
        let e = rel_err(&got_s, &want_s);
        assert!(e < 1e-5, "statistics {n}, k {k}: {e}");
        if k > 1 {
            assert_eq!(
                &got_s[2 * (k - 1) as usize..],
                &[0.0, 0.0],
                "an empty cluster's"
            );
        }
    }
}

#[test]
fn seeding_distances_and_draws() {
    let gpu = gpu();
    let mut rng = rng();
    for &(n, d, k) in &SHAPES {
        // Rows made distinct by their first value, so a copied centroid names its row.
        let mut x = randn(&mut rng, (n * d) as usize, 1.0);
        for i in 0..n as usize {
            x[i * d as usize] = i as f32;
        }
        let c = randn(&mut rng, (k * d) as usize, 1.0);
        let xt = Tensor::from_slice(&gpu, &x, n, d, "x").unwrap();
        let ct = Tensor::from_slice(&gpu, &c, k, d, "centroids").unwrap();
        let mind = nan_tensor(&gpu, n, 1);
        let last = k - 1;
        run(&gpu, |t| {
            t.kmeans_seed_dist(&xt, &ct, 0, &mind, false).unwrap();
            t.kmeans_seed_dist(&xt, &ct, last, &mind, true).unwrap();
        });
        let mut want = vec![f64::NAN; n as usize];
        let p = KmeansParams::new(n, d, k);
        r::km_seed_dist(&p, &wide(&x), &wide(&c), &mut want);
        r::km_seed_dist(
            &KmeansParams {
                idx: last,
                mode: 1,
                ..p
            },
            &wide(&x),
            &wide(&c),
            &mut want,
        );
        let e = rel_err(&mind.read(&gpu).unwrap(), &want);
        assert!(e < 1e-5, "k-means++ distances {n}x{d}: {e}");

        // Weighted draws: a third of the weights 0, the rest random; centroid idx for several
        // idx (several uniforms). Then uniform draws, and weights that are all 0.
        let w: Vec<f32> = (0..n)
            .map(|i| if i % 3 == 1 { 0.0 } else { rng.random::<f32>() })
            .collect();
        let zero = vec![0.0f32; n as usize];
        for (weights, uniform) in [(&w, false), (&w, true), (&zero, false)] {
            let wt = Tensor::from_slice(&gpu, weights, n, 1, "weights").unwrap();
            let out = nan_tensor(&gpu, k, d);
            let seed = rng.random::<u32>();
            run(&gpu, |t| {
                for idx in 0..k {
                    let wopt = (!uniform).then_some(&wt);
                    t.kmeans_seed_pick(&xt, wopt, &out, idx, seed, 7).unwrap();
                }
            });
            let got = out.read(&gpu).unwrap();
            for idx in 0..k {
                let row = got[(idx * d) as usize] as usize;
                assert!(
                    row < n as usize,
                    "centroid {idx}: {}",
                    got[(idx * d) as usize]
                );
                assert_eq!(
                    &got[(idx * d) as usize..((idx + 1) * d) as usize],
                    &x[row * d as usize..(row + 1) * d as usize],
                    "centroid {idx} is row {row}"
                );
                let q = KmeansParams {
                    idx,
                    seed,
                    tag: 7,
                    mode: u32::from(uniform),
                    ..p
                };
                let draw = r::km_seed_draw(&q, &wide(weights));
                if uniform || draw.total == 0.0 {
                    let want = ((draw.u as f32 * n as f32) as usize).min(n as usize - 1);
                    assert_eq!(row, want, "uniform draw {idx} (u {})", draw.u);
                } else {
                    assert!(weights[row] > 0.0, "row {row} of weight 0 drawn");
                    let goal = draw.u * draw.total;
                    let slack = 1e-5 * draw.total;
                    assert!(
                        draw.before[row] - slack <= goal && goal <= draw.after[row] + slack,
                        "draw {idx}: row {row} spans {}..{}, the goal is {goal}",
                        draw.before[row],
                        draw.after[row]
                    );
                }
            }
        }
    }
}

#[test]
fn shapes_and_shared_buffers_are_refused() {
    let gpu = gpu();
    let x = Tensor::from_slice(&gpu, &[0.0; 12], 4, 3, "x").unwrap();
    let c = Tensor::from_slice(&gpu, &[0.0; 6], 2, 3, "c").unwrap();
    let wrong = Tensor::from_slice(&gpu, &[0.0; 4], 2, 2, "wrong").unwrap();
    let out = nan_tensor(&gpu, 8, 1);
    let asg = Tensor::view(out.buffer(), 0, 4, 1).unwrap();
    let dist = Tensor::view(out.buffer(), 4, 4, 1).unwrap();
    let other = nan_tensor(&gpu, 4, 1);
    let state = StepState::new(&gpu).unwrap();
    let mut t = Tape::new(&gpu, &state);
    let e = t
        .kmeans_assign(&x, &wrong, Some(&asg), &dist)
        .unwrap_err()
        .to_string();
    assert!(e.contains("2x2 centroids for 4x3 rows"), "{e}");
    let e = t
        .kmeans_assign(&x, &c, Some(&asg), &other)
        .unwrap_err()
        .to_string();
    assert!(e.contains("one buffer"), "{e}");
    let e = t
        .kmeans_seed_dist(&x, &c, 2, &other, false)
        .unwrap_err()
        .to_string();
    assert!(e.contains("centroid 2 of 2"), "{e}");
    let cv = Tensor::view(out.buffer(), 0, 2, 3).unwrap();
    let e = t
        .kmeans_seed_pick(&x, Some(&asg), &cv, 0, 1, 1)
        .unwrap_err()
        .to_string();
    assert!(e.contains("must not share"), "{e}");
}

/// `n` rows of `d` features around `centres` (each row's centre in turn), spread `sd`.
fn blobs(rng: &mut rand::rngs::StdRng, centres: &[Vec<f32>], n: usize, sd: f32) -> Vec<f32> {
    let d = centres[0].len();
    let noise = randn(rng, n * d, sd);
    (0..n * d)
        .map(|e| centres[(e / d) % centres.len()][e % d] + noise[e])
        .collect()
}

#[test]
fn the_detector_converges_to_a_fixed_point_and_scores_by_distance() {
    use oddity::models::{Detector, Kmeans, KmeansConfig};
    let gpu = gpu();
    let mut rng = rng();
    let d = 5;
    let centres: Vec<Vec<f32>> = (0..3)
        .map(|c| (0..d).map(|t| if t == c { 10.0 } else { 0.0 }).collect())
        .collect();
    let n = 601;
    let mut x = blobs(&mut rng, &centres, n, 0.5);
    // Five far rows at the end: the anomalies.
    for i in n - 5..n {
        for t in 0..d {
            x[i * d + t] = -12.0 + t as f32;
        }
    }
    let truth: Vec<u8> = (0..n).map(|i| u8::from(i >= n - 5)).collect();
    let data = dataset("blobs", d, x.clone(), Some(truth.clone()));
    let config = KmeansConfig {
        inputs: d as u32,
        k: 3,
        max_iter: 300,
        seed: 4,
    };
    let mut km = Kmeans::new(&gpu, config.clone()).unwrap();
    km.fit(&data).unwrap();
    assert!(
        km.steps() < 300,
        "converged before the cap: {} steps",
        km.steps()
    );
    let c = km.centroids().unwrap();
    // A fixed point: every centroid is the f64 mean of the rows nearest it.
    let nearest = |i: usize| -> (usize, f64) {
        (0..3)
            .map(|j| {
                let s: f64 = (0..d)
                    .map(|t| f64::from(x[i * d + t] - c[j * d + t]).powi(2))
                    .sum();
                (j, s)
            })
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .unwrap()
    };
    let mut sums = vec![0f64; 3 * d];
    let mut counts = [0usize; 3];
    let mut sq = [0f64; 3];
    for i in 0..n {
        let (j, s) = nearest(i);
        counts[j] += 1;
        sq[j] += s;
        for t in 0..d {
            sums[j * d + t] += f64::from(x[i * d + t]);
        }
    }
    for j in 0..3 {
        for t in 0..d {
            let m = sums[j * d + t] / counts[j] as f64;
            assert!(
                (f64::from(c[j * d + t]) - m).abs() < 1e-4,
                "centroid {j}: {} against {m}",
                c[j * d + t]
            );
        }
    }
    // The three blobs found (each blob's rows in one cluster, a cluster each; the five far
    // rows join one of them), and their statistics.
    let mut of_blob: Vec<usize> = (0..3).map(|b| nearest(b).0).collect();
    for i in 0..n - 5 {
        assert_eq!(nearest(i).0, of_blob[i % 3], "row {i} left its blob");
    }
    of_blob.sort_unstable();
    assert_eq!(of_blob, [0, 1, 2], "a cluster per blob");
    for (j, (rows, var)) in km.clusters().unwrap().into_iter().enumerate() {
        assert_eq!(rows as usize, counts[j], "cluster {j}'s rows");
        let want = sq[j] / counts[j] as f64;
        assert!(
            (f64::from(var) - want).abs() < 1e-4 * want,
            "cluster {j}'s variance {var} against {want}"
        );
    }
    // Scores: the squared distance to the nearest centroid; the far rows rank first.
    let scores = km.score(&data).unwrap();
    for (i, &got) in scores.iter().enumerate() {
        let want = nearest(i).1;
        assert!(
            (f64::from(got) - want).abs() <= 1e-5 * want.max(1.0),
            "row {i}: {got} against {want}"
        );
    }
    assert_eq!(oddity::metrics::auroc(&scores, &truth).unwrap(), 1.0);
    // The same seed, the same centroids bit for bit; a bad k refused.
    let mut again = Kmeans::new(&gpu, config.clone()).unwrap();
    again.fit(&data).unwrap();
    assert!(same_bits(&again.centroids().unwrap(), &c));
    let e = Kmeans::new(
        &gpu,
        KmeansConfig {
            k: 0,
            ..config.clone()
        },
    )
    .err()
    .unwrap()
    .to_string();
    assert!(e.contains("0 clusters"), "{e}");
    let few = dataset("few", d, x[..2 * d].to_vec(), None);
    let e = Kmeans::new(&gpu, config)
        .unwrap()
        .fit(&few)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("3 clusters need 3 rows or more; few has 2"),
        "{e}"
    );
}
