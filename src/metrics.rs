//! Detection metrics every detector reports. Scores: higher = more anomalous. Labels: 1 =
//! anomaly (the positive class), 0 = normal. Computed on the host in f64 from the scores a
//! detector read back.

use crate::error::{Result, invalid};

/// Counts and rates of a detector at one threshold (score >= threshold flags an anomaly).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct AtThreshold {
    pub threshold: f64,
    pub tp: usize,
    pub fp: usize,
    pub tn: usize,
    pub fn_: usize,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub f2: f64,
    pub accuracy: f64,
}

fn check(scores: &[f32], labels: &[u8]) -> Result<(usize, usize)> {
    if scores.len() != labels.len() {
        return Err(invalid(
            "metrics",
            format!("{} scores but {} labels", scores.len(), labels.len()),
        ));
    }
    if let Some(i) = scores.iter().position(|s| s.is_nan()) {
        return Err(invalid("metrics", format!("score {i} is NaN")));
    }
    if let Some(i) = labels.iter().position(|&l| l > 1) {
        return Err(invalid(
            "metrics",
            format!("label {i} is {}, not 0 or 1", labels[i]),
        ));
    }
    let pos = labels.iter().filter(|&&l| l == 1).count();
    Ok((pos, labels.len() - pos))
}

fn need_both(pos: usize, neg: usize, what: &str) -> Result<()> {
    if pos == 0 || neg == 0 {
        return Err(invalid(
            "metrics",
            format!(
                "{what} needs anomalies and normal points; got {pos} anomalies and {neg} normal"
            ),
        ));
    }
    Ok(())
}

/// A run of equal scores: the score, the anomalies in it and its size.
struct TieGroup {
    score: f32,
    anomalies: usize,
    rows: usize,
}

/// The distinct scores from the highest down, each with its anomalies and rows (ties enter
/// together, as every threshold-based metric counts them).
fn tie_groups(scores: &[f32], labels: &[u8]) -> Vec<TieGroup> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
    let mut groups: Vec<TieGroup> = Vec::new();
    for i in order {
        let anomaly = usize::from(labels[i] == 1);
        match groups.last_mut() {
            Some(g) if g.score == scores[i] => {
                g.anomalies += anomaly;
                g.rows += 1;
            }
            _ => groups.push(TieGroup {
                score: scores[i],
                anomalies: anomaly,
                rows: 1,
            }),
        }
    }
    groups
}

fn need_anomaly(pos: usize, what: &str) -> Result<()> {
    if pos == 0 {
        return Err(invalid(
            "metrics",
            format!("{what} needs at least one anomaly"),
        ));
    }
    Ok(())
}

/// Area under the ROC curve: the Mann-Whitney statistic, the probability that a random anomaly
/// scores above a random normal point, ties counting one half.
pub fn auroc(scores: &[f32], labels: &[u8]) -> Result<f64> {
    let (pos, neg) = check(scores, labels)?;
    need_both(pos, neg, "AUROC")?;
    // From the top: each normal point in a group is beaten by the anomalies above the group
    // and ties with those inside it.
    let (mut above, mut wins) = (0usize, 0f64);
    for g in tie_groups(scores, labels) {
        let normal = g.rows - g.anomalies;
        wins += normal as f64 * (above as f64 + 0.5 * g.anomalies as f64);
        above += g.anomalies;
    }
    Ok(wins / (pos as f64 * neg as f64))
}

/// Average precision as scikit-learn computes it: the sum over distinct thresholds, highest
/// first, of (recall gained) x (precision there); ties enter together.
pub fn average_precision(scores: &[f32], labels: &[u8]) -> Result<f64> {
    let (pos, _) = check(scores, labels)?;
    need_anomaly(pos, "average precision")?;
    let (mut tp, mut seen, mut ap, mut last_recall) = (0usize, 0usize, 0f64, 0f64);
    for g in tie_groups(scores, labels) {
        tp += g.anomalies;
        seen += g.rows;
        let recall = tp as f64 / pos as f64;
        ap += (recall - last_recall) * tp as f64 / seen as f64;
        last_recall = recall;
    }
    Ok(ap)
}

/// Counts and rates when rows scoring at least `threshold` are flagged. Precision is 0 when
/// nothing is flagged (as scikit-learn's zero_division=0).
pub fn at_threshold(scores: &[f32], labels: &[u8], threshold: f64) -> Result<AtThreshold> {
    check(scores, labels)?;
    let (mut tp, mut fp, mut tn, mut fn_) = (0, 0, 0, 0);
    for (&s, &l) in scores.iter().zip(labels) {
        match (f64::from(s) >= threshold, l == 1) {
            (true, true) => tp += 1,
            (true, false) => fp += 1,
            (false, false) => tn += 1,
            (false, true) => fn_ += 1,
        }
    }
    let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let precision = ratio(tp, tp + fp);
    let recall = ratio(tp, tp + fn_);
    let f = |beta2: f64| {
        let d = beta2 * precision + recall;
        if d == 0.0 {
            0.0
        } else {
            (1.0 + beta2) * precision * recall / d
        }
    };
    Ok(AtThreshold {
        threshold,
        tp,
        fp,
        tn,
        fn_,
        precision,
        recall,
        f1: f(1.0),
        f2: f(4.0),
        accuracy: ratio(tp + tn, scores.len()),
    })
}

/// The threshold (one of the scores) with the highest F1; of equal F1s, the highest threshold.
pub fn best_f1_threshold(scores: &[f32], labels: &[u8]) -> Result<AtThreshold> {
    let (pos, _) = check(scores, labels)?;
    need_anomaly(pos, "best-F1 threshold")?;
    let (mut tp, mut seen) = (0usize, 0usize);
    let (mut best_f1, mut best_t) = (-1f64, f64::INFINITY);
    for g in tie_groups(scores, labels) {
        tp += g.anomalies;
        seen += g.rows;
        let f1 = 2.0 * tp as f64 / (seen + pos) as f64;
        if f1 > best_f1 {
            best_f1 = f1;
            best_t = f64::from(g.score);
        }
    }
    at_threshold(scores, labels, best_t)
}

/// The share of anomalies among the `n` highest scores (ties broken by the lower row, as a
/// stable sort leaves them); PyOD's precision@n with n the number of anomalies.
pub fn precision_at(scores: &[f32], labels: &[u8], n: usize) -> Result<f64> {
    check(scores, labels)?;
    if n == 0 || n > scores.len() {
        return Err(invalid(
            "precision@n",
            format!("n = {n} for {} rows (1 <= n <= rows)", scores.len()),
        ));
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    Ok(order[..n].iter().filter(|&&i| labels[i] == 1).count() as f64 / n as f64)
}

/// The threshold that flags a `contamination` share of the rows: the (1 - contamination)
/// quantile of the scores (see [`quantile`]), as scikit-learn's detectors set it.
pub fn contamination_threshold(scores: &[f32], contamination: f64) -> Result<f64> {
    check_contamination(contamination)?;
    quantile(scores, 1.0 - contamination)
}

/// A contamination rate PyOD accepts: in (0, 0.5].
pub fn check_contamination(contamination: f64) -> Result<()> {
    if !(contamination > 0.0 && contamination <= 0.5) {
        return Err(invalid(
            "contamination",
            format!("{contamination} is outside (0, 0.5]"),
        ));
    }
    Ok(())
}

/// The `q` quantile (0 to 1) of the scores, interpolated linearly between the two nearest
/// (numpy's default percentile).
pub fn quantile(scores: &[f32], q: f64) -> Result<f64> {
    if !(0.0..=1.0).contains(&q) {
        return Err(invalid("quantile", format!("{q} is outside [0, 1]")));
    }
    if scores.is_empty() {
        return Err(invalid("quantile", "no scores"));
    }
    if let Some(i) = scores.iter().position(|s| s.is_nan()) {
        return Err(invalid("metrics", format!("score {i} is NaN")));
    }
    let mut s: Vec<f64> = scores.iter().map(|&v| f64::from(v)).collect();
    s.sort_by(f64::total_cmp);
    let pos = q * (s.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = (lo + 1).min(s.len() - 1);
    Ok(s[lo] + (pos - lo as f64) * (s[hi] - s[lo]))
}
