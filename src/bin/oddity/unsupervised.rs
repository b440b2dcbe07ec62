//! `oddity fit --data FILE.csv`: any detector that learns without labels, trained on a CSV
//! file as PyOD's detectors are (labels, when named, only for evaluation), with a threshold
//! from a contamination rate, a percentile of held-out rows' scores, or a value; prints the
//! metrics at the threshold and a histogram of the scores, and saves the model.

use oddity::data::Dataset;
use oddity::metrics::{at_threshold, auroc, average_precision};
use oddity::models::{Threshold, registry, validation_split};
use oddity::{Error, Gpu};

use crate::fit::Args;

/// How the threshold is set (at most one of the three flags).
enum Rule {
    Contamination(f64),
    Percentile(f64),
    Value(f64),
}

fn rule(a: &Args) -> oddity::Result<Rule> {
    match (a.contamination, a.threshold_percentile, a.threshold) {
        (None, None, None) => Ok(Rule::Contamination(DEFAULT_CONTAMINATION)),
        (Some(c), None, None) => Ok(Rule::Contamination(c)),
        (None, Some(p), None) => Ok(Rule::Percentile(p)),
        (None, None, Some(v)) if v.is_finite() => Ok(Rule::Value(v)),
        (None, None, Some(v)) => Err(Error::Invalid {
            what: "threshold",
            detail: format!("{v} is not a finite number"),
        }),
        _ => Err(Error::Invalid {
            what: "threshold",
            detail: "give one of --contamination, --threshold-percentile and --threshold".into(),
        }),
    }
}

/// PyOD's default contamination.
const DEFAULT_CONTAMINATION: f64 = 0.1;

/// Rows `ix` of `data` as a dataset of their own, named for what they are.
fn rows_of(data: &Dataset, ix: &[usize], name: &str) -> Dataset {
    Dataset {
        name: format!("{} {name}", data.name),
        ..data.select(ix)
    }
}

pub fn run(a: &Args, path: &std::path::Path) -> oddity::Result<()> {
    let entry = registry::detector(&a.model)?;
    let rule = rule(a)?;
    if let Rule::Contamination(c) = rule {
        oddity::metrics::check_contamination(c)?;
    }
    if let Some(p) = &a.save {
        crate::checks::output_file("--save", p)?;
    }
    let data = Dataset::from_csv(path, &a.labels.csv_options(&a.format))?;
    for line in data.schema.encoding() {
        eprintln!("{}: {line}", path.display());
    }
    let gpu = Gpu::new()?;
    let settings = a.settings();
    let mut model = entry.build(&gpu, &data, &settings)?;
    if model.supervised() {
        return Err(Error::Invalid {
            what: "model",
            detail: format!(
                "{} learns from labels; --data trains without them (use --train FILE.csv \
                 --label-col COL for the supervised protocol)",
                a.model
            ),
        });
    }
    // A percentile threshold is taken on held-out rows (the normal ones, where labels say
    // which): the model then trains on the rest. Otherwise it trains on every row.
    let (train, held) = match rule {
        Rule::Percentile(_) => {
            let (val, train) = validation_split(&data.name, data.rows, a.seed)?;
            (
                rows_of(&data, &train, "training"),
                Some(rows_of(&data, &val, "held out")),
            )
        }
        _ => (data.clone(), None),
    };
    let mut unlabelled = train.clone();
    unlabelled.anomaly = None;
    let start = std::time::Instant::now();
    let report = model.fit(&unlabelled)?;
    // Training may still run on the GPU when fit returns (one submit, no wait).
    gpu.wait()?;
    let seconds = start.elapsed().as_secs_f64();
    let scores = model.score(&data)?;
    let threshold = match rule {
        Rule::Contamination(c) => Threshold::contamination(&model.score(&train)?, c)?,
        Rule::Percentile(p) => {
            let held = held.expect("held-out rows for a percentile");
            let s = model.score(&held)?;
            let normal: Vec<f32> = match &held.anomaly {
                Some(y) => s
                    .iter()
                    .zip(y)
                    .filter(|(_, y)| **y == 0)
                    .map(|(s, _)| *s)
                    .collect(),
                None => s,
            };
            Threshold::percentile(&normal, p)?
        }
        Rule::Value(v) => Threshold::fixed(v),
    };
    model.set_threshold(Some(threshold))?;
    let flagged = threshold.flags(&scores).iter().filter(|&&f| f == 1).count();
    // What training ran: epochs, else steps (the OCSVM's solver iterations), else nothing
    // (PCA and the isolation forest are solved or grown, not trained).
    let ran = match (report.epochs, report.steps) {
        (0, 0) => String::new(),
        (0, s) => format!(" ({s} steps)"),
        (e, _) => format!(" ({e} epochs)"),
    };
    outln!(
        "{}: {} on {} rows x {} features, fit in {seconds:.1} s{ran} on {}",
        a.model,
        data.name,
        data.rows,
        data.cols,
        gpu.adapter_name()
    );
    for note in &report.notes {
        outln!("note: {note}");
    }
    outln!(
        "threshold {:.6} ({}): flags {flagged} of {} rows",
        threshold.value,
        describe(&rule),
        data.rows
    );
    let metrics = match &data.anomaly {
        Some(y) => Some(Metrics::of(&scores, y, threshold.value)?),
        None => None,
    };
    if let Some(m) = &metrics {
        outln!(
            "AUROC {:.4}, AP {:.4}; at the threshold precision {:.4}, recall {:.4}, F1 {:.4}; \
             precision@{} {:.4}",
            m.auroc,
            m.ap,
            m.at.precision,
            m.at.recall,
            m.at.f1,
            m.n,
            m.precision_at_n
        );
    }
    for line in histogram(&scores, data.anomaly.as_deref(), threshold.value) {
        outln!("{line}");
    }
    if let Some(p) = &a.save {
        model.save(p)?;
        eprintln!("saved {}", p.display());
    }
    if a.json {
        outln!(
            "{}",
            serde_json::json!({
                "model": a.model, "data": path, "rows": data.rows, "seed": a.seed,
                "threshold": threshold.value, "flagged": flagged,
                "auroc": metrics.as_ref().map(|m| m.auroc),
                "ap": metrics.as_ref().map(|m| m.ap),
                "at_threshold": metrics.as_ref().map(|m| m.at),
                "precision_at_n": metrics.as_ref().map(|m| m.precision_at_n),
                "n": metrics.as_ref().map(|m| m.n),
                "epochs": report.epochs, "steps": report.steps, "seconds": seconds,
                "adapter": gpu.adapter_name(),
            })
        );
    }
    Ok(())
}

fn describe(rule: &Rule) -> String {
    match rule {
        Rule::Contamination(c) => format!("contamination {c}"),
        Rule::Percentile(p) => format!("percentile {p} of the held-out normal rows"),
        Rule::Value(_) => "given".into(),
    }
}

/// The metrics of `scores` against labels `y` (1 = anomaly) at `threshold`.
struct Metrics {
    auroc: f64,
    ap: f64,
    at: oddity::metrics::AtThreshold,
    /// The anomalies' count, and the share of anomalies among the n highest scores.
    n: usize,
    precision_at_n: f64,
}

impl Metrics {
    fn of(scores: &[f32], y: &[u8], threshold: f64) -> oddity::Result<Metrics> {
        let n = y.iter().filter(|&&v| v == 1).count();
        Ok(Metrics {
            auroc: auroc(scores, y)?,
            ap: average_precision(scores, y)?,
            at: at_threshold(scores, y, threshold)?,
            n,
            precision_at_n: oddity::metrics::precision_at(scores, y, n)?,
        })
    }
}

/// The scores in 16 bins from the lowest to the highest, a bar each (`#` normal rows, `+`
/// anomalies when labels are known, scaled to the fullest bin), the threshold's bin marked.
fn histogram(scores: &[f32], y: Option<&[u8]>, threshold: f64) -> Vec<String> {
    const BINS: usize = 16;
    const WIDTH: usize = 40;
    let (lo, hi) = scores
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &s| {
            (l.min(f64::from(s)), h.max(f64::from(s)))
        });
    if scores.is_empty() || !lo.is_finite() || !hi.is_finite() {
        return Vec::new();
    }
    let span = (hi - lo).max(f64::MIN_POSITIVE);
    let bin = |v: f64| (((v - lo) / span * BINS as f64) as usize).min(BINS - 1);
    let mut counts = [[0usize; 2]; BINS];
    for (i, &s) in scores.iter().enumerate() {
        let anomalous = y.is_some_and(|y| y[i] == 1);
        counts[bin(f64::from(s))][usize::from(anomalous)] += 1;
    }
    let most = counts.iter().map(|c| c[0] + c[1]).max().unwrap_or(1).max(1);
    let marked = (threshold >= lo && threshold <= hi).then(|| bin(threshold));
    let mut out = vec![format!(
        "scores from {lo:.4} to {hi:.4} ({}):",
        if y.is_some() {
            "# normal, + anomaly"
        } else {
            "# rows"
        }
    )];
    for (b, c) in counts.iter().enumerate() {
        let bar = |n: usize| (n * WIDTH).div_ceil(most);
        out.push(format!(
            "  {:>10.4} {:>7} {}{}{}",
            lo + span * b as f64 / BINS as f64,
            c[0] + c[1],
            "#".repeat(bar(c[0])),
            "+".repeat(bar(c[1])),
            if marked == Some(b) {
                "  <- threshold"
            } else {
                ""
            }
        ));
    }
    out
}
