//! Detection metrics against hand-computed values and against a fixed vector whose
//! scikit-learn 1.9.1 / numpy 2.4.6 results are written in (roc_auc_score,
//! average_precision_score, precision/recall/f1/fbeta(beta=2)/accuracy_score at a threshold,
//! precision_recall_curve's best F1, np.percentile).

#![allow(clippy::excessive_precision)] // the values as Python printed them

use oddity::metrics::*;

fn close(got: f64, want: f64, what: &str) {
    assert!(
        (got - want).abs() <= 1e-12 * want.abs().max(1.0),
        "{what}: {got} vs {want}"
    );
}

#[test]
fn hand_computed() {
    // scikit-learn's documented example: 3 of 4 (anomaly, normal) pairs ordered right.
    let (s, y) = ([0.1f32, 0.4, 0.35, 0.8], [0u8, 0, 1, 1]);
    close(auroc(&s, &y).unwrap(), 0.75, "auroc");
    // thresholds 0.8 (P 1, R 1/2), 0.4 (P 1/2, R 1/2), 0.35 (P 2/3, R 1): 1/2 + 1/2 * 2/3.
    close(average_precision(&s, &y).unwrap(), 5.0 / 6.0, "ap");
    // All tied: every pair is a half.
    close(
        auroc(&[2.0, 2.0, 2.0], &[1, 0, 0]).unwrap(),
        0.5,
        "tied auroc",
    );
    close(
        average_precision(&[2.0, 2.0, 2.0], &[1, 0, 0]).unwrap(),
        1.0 / 3.0,
        "tied ap",
    );
    // One anomaly tied with one of two normal points, above the other: (1 + 1/2) / 2.
    close(
        auroc(&[1.0, 1.0, 0.0], &[1, 0, 0]).unwrap(),
        0.75,
        "half tie",
    );
    // Perfect and reversed.
    close(auroc(&[3.0, 2.0, 1.0], &[1, 1, 0]).unwrap(), 1.0, "perfect");
    close(
        auroc(&[1.0, 2.0, 3.0], &[1, 1, 0]).unwrap(),
        0.0,
        "reversed",
    );
    // At 0.5: flagged rows 1, 3 (tp 1, fp 1), missed row 2: P 1/2, R 1/2.
    let m = at_threshold(&[0.2, 0.6, 0.4, 0.9], &[0, 1, 1, 0], 0.5).unwrap();
    assert_eq!((m.tp, m.fp, m.tn, m.fn_), (1, 1, 1, 1));
    close(m.precision, 0.5, "precision");
    close(m.recall, 0.5, "recall");
    close(m.f1, 0.5, "f1");
    close(m.f2, 0.5, "f2");
    close(m.accuracy, 0.5, "accuracy");
    // Nothing flagged: precision 0 (scikit-learn's zero_division=0), F scores 0.
    let m = at_threshold(&[0.2, 0.3], &[1, 0], 0.9).unwrap();
    assert_eq!((m.precision, m.recall, m.f1, m.f2), (0.0, 0.0, 0.0, 0.0));
    // Contamination 0.25 of 5 sorted scores 0..4: the 75th percentile, 3.0; 0.1: 3.6.
    let s = [4.0f32, 0.0, 2.0, 1.0, 3.0];
    close(contamination_threshold(&s, 0.25).unwrap(), 3.0, "q75");
    close(contamination_threshold(&s, 0.1).unwrap(), 3.6, "q90");
    close(quantile(&s, 1.0).unwrap(), 4.0, "q100");
}

#[test]
fn scikit_learn_fixed_vector() {
    let s: [f32; 37] = [
        0.0, 0.9, 0.3, -0.9, -0.5, -1.0, 0.1, 1.3, 0.1, -0.6, 0.5, 0.4, 0.1, -0.9, 0.6, 0.7, -1.3,
        0.1, -1.9, -1.3, -1.8, -0.2, -1.3, 0.3, 0.2, 0.4, -2.5, 0.1, -0.0, 0.7, -1.5, 0.1, -1.0,
        -0.8, 1.1, -0.8, 0.6,
    ];
    let y: [u8; 37] = [
        0, 1, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 1,
        0, 1, 0, 0, 0, 0, 1,
    ];
    close(auroc(&s, &y).unwrap(), 0.805_555_555_555_555_58, "auroc");
    close(
        average_precision(&s, &y).unwrap(),
        0.498_145_363_408_521_22,
        "ap",
    );
    let m = at_threshold(&s, &y, 0.5).unwrap();
    close(m.precision, 0.5, "precision");
    close(m.recall, 0.4, "recall");
    close(m.f1, 0.444_444_444_444_444_42, "f1");
    close(m.f2, 0.416_666_666_666_666_69, "f2");
    close(m.accuracy, 0.729_729_729_729_729_71, "accuracy");
    let b = best_f1_threshold(&s, &y).unwrap();
    close(b.f1, 0.689_655_172_413_793_15, "best f1");
    assert_eq!(b.threshold, f64::from(0.1f32), "best-F1 threshold");
    close(
        contamination_threshold(&s, 0.1).unwrap(),
        0.699_999_988_079_071_04,
        "percentile 90",
    );
    close(
        contamination_threshold(&s, 0.05).unwrap(),
        0.939_999_985_694_884_94,
        "percentile 95",
    );
}

#[test]
fn bad_inputs_are_named() {
    let err = |r: oddity::Result<f64>| r.unwrap_err().to_string();
    assert!(err(auroc(&[1.0, 2.0], &[1])).contains("2 scores but 1 labels"));
    assert!(err(auroc(&[1.0, f32::NAN], &[1, 0])).contains("score 1 is NaN"));
    assert!(err(auroc(&[1.0, 2.0], &[1, 2])).contains("label 1 is 2"));
    assert!(err(auroc(&[1.0, 2.0], &[1, 1])).contains("0 normal"));
    assert!(err(average_precision(&[1.0, 2.0], &[0, 0])).contains("at least one anomaly"));
    assert!(err(contamination_threshold(&[1.0], 0.7)).contains("outside"));
    assert!(err(contamination_threshold(&[], 0.1)).contains("no scores"));
}

/// precision@n: the anomalies among the n highest scores (ties by the lower row), and its
/// bounds; contamination is refused outside (0, 0.5].
#[test]
fn precision_at_n_and_the_contamination_range() {
    use oddity::metrics::{contamination_threshold, precision_at};
    let scores = [0.9f32, 0.1, 0.5, 0.5, 0.8, 0.2];
    let labels = [1u8, 0, 0, 1, 1, 0];
    assert_eq!(precision_at(&scores, &labels, 2).unwrap(), 1.0);
    // The tie at 0.5: row 2 (normal) comes before row 3 (anomaly).
    assert_eq!(precision_at(&scores, &labels, 3).unwrap(), 2.0 / 3.0);
    assert_eq!(precision_at(&scores, &labels, 4).unwrap(), 0.75);
    for n in [0, 7] {
        let e = precision_at(&scores, &labels, n).unwrap_err().to_string();
        assert!(e.contains("1 <= n <= rows"), "{e}");
    }
    for c in [0.0, -0.1, 0.51, f64::NAN] {
        let e = contamination_threshold(&scores, c).unwrap_err().to_string();
        assert!(e.contains("outside (0, 0.5]"), "{c}: {e}");
    }
    assert!(contamination_threshold(&scores, 0.5).is_ok());
}
