//! The iterative detector (Li et al.): its training sets follow the percentiles it is given
//! (the first from the clusters, each next the rows at or below the scores' percentile), it
//! finds anomalies mixed into its training rows, the same seed gives the same scores bit for
//! bit and its file scores the same, and bad settings are refused.

mod common;

use common::*;
use oddity::models::{Clustering, Detector, Iterative, IterativeConfig, ReconError};
use rand::RngExt;

/// `normal` rows near a plane through the middle of [0, 1]^d, then `anomalies` uniform rows;
/// the labels.
fn plane_and_noise(
    rng: &mut rand::rngs::StdRng,
    normal: usize,
    anomalies: usize,
    d: usize,
) -> (Vec<f32>, Vec<u8>) {
    let u: Vec<f32> = randn(rng, 2 * d, 1.0);
    let mut x = Vec::new();
    for _ in 0..normal {
        let (a, b): (f32, f32) = (rng.random_range(-1.0..1.0), rng.random_range(-1.0..1.0));
        for t in 0..d {
            let v = 0.5 + 0.2 * (a * u[t] + b * u[d + t]) + 0.01 * rng.random_range(-1.0f32..1.0);
            x.push(v.clamp(0.0, 1.0));
        }
    }
    for _ in 0..anomalies * d {
        x.push(rng.random::<f32>());
    }
    let y = (0..normal + anomalies)
        .map(|i| u8::from(i >= normal))
        .collect();
    (x, y)
}

fn config(d: u32, seed: u64) -> IterativeConfig {
    IterativeConfig {
        inputs: d,
        hidden: vec![16, 2],
        clusters: 8,
        clustering: Clustering::Kmeans,
        p0: 30.0,
        p: 10.0,
        rounds: 3,
        epochs: 20,
        batch: 32,
        lr: 3e-3,
        error: ReconError::Angle,
        seed,
    }
}

#[test]
fn the_sets_follow_the_percentiles_and_the_mixed_in_anomalies_rank_first() {
    let gpu = gpu();
    let mut rng = rng();
    let d = 20;
    // 360 normal rows and 40 anomalies (10%) to train on; a fresh test set of the same kind.
    let (x, y) = plane_and_noise(&mut rng, 360, 40, d);
    let train = dataset("plane", d, x, Some(y));
    let (tx, ty) = plane_and_noise(&mut rng, 360, 40, d);
    let test = dataset("plane test", d, tx, Some(ty.clone()));
    let mut det = Iterative::new(&gpu, config(d as u32, 3)).unwrap();
    let report = det.fit(&train).unwrap();
    assert!(report.steps > 0);
    let sel = det.selected().to_vec();
    assert_eq!(
        sel.len(),
        3,
        "the first set and one per round but the last: {sel:?}"
    );
    // The first set: the rows of the clusters at or below the 70th percentile of the
    // clusters' variances, at least one cluster's, never every row here (the anomalies'
    // clusters are wider).
    assert!(sel[0] > 0 && sel[0] < 400, "{sel:?}");
    // Each next: the rows at or below the 90th percentile of 400 scores, that is the 360
    // lowest (the percentile lies between ranks 359 and 360) barring ties.
    for &s in &sel[1..] {
        assert!((360..=361).contains(&s), "{sel:?}");
    }
    // The anomalies mixed into training rank above the normal rows of new data.
    let scores = det.score(&test).unwrap();
    let au = oddity::metrics::auroc(&scores, &ty).unwrap();
    eprintln!("sets {sel:?}, AUROC {au:.4}");
    assert!(au > 0.95, "AUROC {au}");
    // The same seed, the same scores; the model file scores the same.
    let mut again = Iterative::new(&gpu, config(d as u32, 3)).unwrap();
    again.fit(&train).unwrap();
    assert!(same_bits(&again.score(&test).unwrap(), &scores));
    assert_eq!(again.selected(), &sel[..]);
    let back = reloaded(&gpu, &det);
    assert!(same_bits(&back.score(&test).unwrap(), &scores));
}

#[test]
fn both_clusterings_take_the_tight_clusters_rows_as_the_first_set() {
    let gpu = gpu();
    let mut rng = rng();
    // Six blobs of 50 rows in [0, 1]^4, centres 0.3 apart: four tight (sd 0.01), two wide
    // (sd 0.04).
    let d = 4;
    let mut x = Vec::new();
    for b in 0..6 {
        let sd = if b < 4 { 0.01 } else { 0.04 };
        for _ in 0..50 {
            for t in 0..d {
                let centre = 0.1 + 0.15 * ((b + t) % 6) as f32;
                x.push(centre + sd * randn(&mut rng, 1, 1.0)[0]);
            }
        }
    }
    let data = dataset("blobs", d, x, None);
    for clustering in [Clustering::Kmeans, Clustering::Gmm] {
        // p0 50: the 50th percentile of six variances lies between the third and fourth
        // smallest, so three tight blobs' rows; p0 40: the 60th is the fourth, so four.
        for (p0, want) in [(50.0, 150), (40.0, 200)] {
            let c = IterativeConfig {
                clusters: 6,
                clustering,
                p0,
                rounds: 1,
                epochs: 1,
                ..config(d as u32, 5)
            };
            let mut det = Iterative::new(&gpu, c).unwrap();
            det.fit(&data).unwrap();
            assert_eq!(det.selected(), &[want], "{clustering:?} at p0 {p0}");
        }
    }
}

#[test]
fn the_squared_error_scores_too_and_bad_settings_are_refused() {
    let gpu = gpu();
    let mut rng = rng();
    let d = 12;
    let (x, y) = plane_and_noise(&mut rng, 180, 20, d);
    let data = dataset("plane", d, x, Some(y.clone()));
    let c = IterativeConfig {
        error: ReconError::Squared,
        ..config(d as u32, 1)
    };
    let mut det = Iterative::new(&gpu, c.clone()).unwrap();
    det.fit(&data).unwrap();
    let au = oddity::metrics::auroc(&det.score(&data).unwrap(), &y).unwrap();
    assert!(au > 0.9, "AUROC {au}");
    for (bad, what) in [
        (
            IterativeConfig {
                p0: 100.0,
                ..c.clone()
            },
            "p0 and p",
        ),
        (
            IterativeConfig {
                p: -1.0,
                ..c.clone()
            },
            "p0 and p",
        ),
        (
            IterativeConfig {
                rounds: 0,
                ..c.clone()
            },
            "a round",
        ),
    ] {
        let e = Iterative::new(&gpu, bad).err().unwrap().to_string();
        assert!(e.contains(what), "{e}");
    }
    let few = dataset("few", d, data.x[..5 * d].to_vec(), None);
    let e = Iterative::new(&gpu, c)
        .unwrap()
        .fit(&few)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("8 clusters need 8 rows or more; few has 5"),
        "{e}"
    );
}
