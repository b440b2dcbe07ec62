//! `oddity repro abc`: the ABC paper's comparison (Yamanaka et al., Table 2 and Figure 5): known-
//! and unknown-anomaly AUROC of ABC, LRC and the AE, DAE and DNN baselines over several seeds
//! (mean and standard deviation), and the reconstruction error of normal data and of known
//! anomalies through training for ABC and LRC, with the checks on 2D-Toy.

use std::collections::BTreeMap;
use std::time::Instant;

use oddity::models::evaluation::Evaluation;
use oddity::models::registry;
use oddity::{Error, Gpu};

use crate::fit;

#[derive(clap::Args)]
pub struct Args {
    /// Datasets (default: toy2d and digits-abc, and fmnist-abc when Fashion-MNIST is installed
    /// and the adapter is not a software one).
    #[arg(long, value_delimiter = ',')]
    pub datasets: Option<Vec<String>>,
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "abc-ae,abc-dae,lrc,ae,dae,dnn"
    )]
    pub models: Vec<String>,
    /// The paper's settings to run (1, 2, 3).
    #[arg(long, value_delimiter = ',', default_value = "1")]
    pub settings: Vec<String>,
    /// Seeds first-seed, first-seed + 1, ...: each draws its own split and initial weights.
    #[arg(long, default_value_t = 5)]
    pub seeds: u32,
    #[arg(long, default_value_t = 0)]
    pub first_seed: u64,
    /// Rows of each kind for toy2d (10,000 in the paper).
    #[arg(long, default_value_t = 10_000)]
    pub toy_rows: usize,
    /// Use at most this many rows of an image set (drawn per seed) before splitting.
    #[arg(long)]
    pub max_rows: Option<usize>,
    /// Epochs at most (early stopping usually ends training first).
    #[arg(long, default_value_t = 100)]
    pub max_epochs: u32,
    /// Exit with an error when a check fails.
    #[arg(long)]
    pub check: bool,
    /// Print one JSON object as the last line.
    #[arg(long)]
    pub json: bool,
}

/// One dataset and setting: every model's evaluation for every seed.
struct Row {
    dataset: String,
    setting: String,
    runs: BTreeMap<String, Vec<(u64, Evaluation, f64)>>,
}

/// A metric of every run (NaN where the test set had no such rows).
fn metric(runs: &[(u64, Evaluation, f64)], f: fn(&Evaluation) -> Option<f64>) -> Vec<f64> {
    runs.iter()
        .map(|(_, e, _)| f(e).unwrap_or(f64::NAN))
        .collect()
}

struct Check {
    what: String,
    holds: bool,
}

/// The checks, on 2D-Toy setting 1 when it was run with ABC(AE) and the DNN.
fn checks(rows: &[Row], toy_rows: usize) -> Vec<Check> {
    let mut out = Vec::new();
    let Some(r) = rows
        .iter()
        .find(|r| r.dataset == "toy2d" && r.setting == "1")
    else {
        return out;
    };
    let scale = if toy_rows == 10_000 {
        String::new()
    } else {
        format!(" ({toy_rows} rows of each kind; the paper has 10000)")
    };
    let known = |m: &str| {
        r.runs
            .get(m)
            .map(|v| super::mean_std(&metric(v, |e| e.known_auroc)).0)
    };
    let unknown = |m: &str| {
        r.runs
            .get(m)
            .map(|v| super::mean_std(&metric(v, |e| e.unknown_auroc)).0)
    };
    if let (Some(k), Some(u)) = (known("abc-ae"), unknown("abc-ae")) {
        out.push(Check {
            what: format!("toy2d: abc-ae mean known AUROC {k:.4} >= 0.95{scale}"),
            holds: k >= 0.95,
        });
        out.push(Check {
            what: format!("toy2d: abc-ae mean unknown AUROC {u:.4} >= 0.98{scale}"),
            holds: u >= 0.98,
        });
        if let Some(d) = unknown("dnn") {
            out.push(Check {
                what: format!(
                    "toy2d: dnn mean unknown AUROC {d:.4} at least 0.3 below abc-ae's {u:.4}{scale}"
                ),
                holds: d <= u - 0.3,
            });
        }
    }
    out
}

pub fn run(a: &Args) -> oddity::Result<()> {
    super::check_seeds(a.seeds)?;
    for m in &a.models {
        registry::detector(m)?;
    }
    let gpu = Gpu::new()?;
    let adapter = gpu.adapter_name();
    let datasets = a.datasets.clone().unwrap_or_else(|| {
        super::default_datasets(&gpu, &["toy2d", "digits-abc"], &["fmnist-abc"])
    });
    // Names, settings and data are checked (and each image set loaded once) before any
    // training; the splits are made one seed at a time.
    let settings = a
        .settings
        .iter()
        .map(|s| fit::setting(s).map(|v| (s.clone(), v)))
        .collect::<oddity::Result<Vec<_>>>()?;
    let sources = datasets
        .iter()
        .map(|d| fit::source(d, a.toy_rows).map(|v| (d.clone(), v)))
        .collect::<oddity::Result<Vec<_>>>()?;
    let mut jobs = Vec::new();
    for (name, source) in &sources {
        for (setting, value) in &settings {
            for s in 0..u64::from(a.seeds) {
                jobs.push((name, source, setting, *value, a.first_seed + s));
            }
        }
    }
    eprintln!(
        "repro abc: {} x settings {} x {} seeds x {}; toy2d {} of each, up to {} epochs; adapter {adapter}",
        datasets.join(","),
        a.settings.join(","),
        a.seeds,
        a.models.join(","),
        a.toy_rows,
        a.max_epochs
    );
    let start = Instant::now();
    let bar = crate::progress::Progress::new((jobs.len() * a.models.len()) as u64);
    let mut rows: Vec<Row> = Vec::new();
    for (name, source, setting, value, seed) in jobs {
        let split = source.split(value, seed, a.max_rows)?;
        if !rows
            .last()
            .is_some_and(|r| &r.dataset == name && &r.setting == setting)
        {
            rows.push(Row {
                dataset: name.clone(),
                setting: setting.clone(),
                runs: BTreeMap::new(),
            });
        }
        let row = rows.last_mut().expect("pushed above");
        for model in &a.models {
            bar.start(format!("{name} setting {setting} seed {seed} {model}"));
            let settings = oddity::models::Settings {
                seed,
                max_epochs: Some(a.max_epochs),
                ..Default::default()
            };
            let (_, ev, seconds) = fit::evaluate(&gpu, &split, model, &settings, None)?;
            bar.done(format!(
                "{name} setting {setting} seed {seed} {model}: known AUROC {}, unknown {}; {} epochs, {seconds:.1} s",
                fit::shown(ev.known_auroc),
                fit::shown(ev.unknown_auroc),
                ev.fit.epochs
            ));
            row.runs
                .entry(model.clone())
                .or_default()
                .push((seed, ev, seconds));
        }
    }
    bar.finish();
    let seconds = start.elapsed().as_secs_f64();
    let checks = checks(&rows, a.toy_rows);
    for (title, f) in [
        (
            "known anomalies",
            (|e: &Evaluation| e.known_auroc) as fn(&Evaluation) -> Option<f64>,
        ),
        ("unknown anomalies", |e: &Evaluation| e.unknown_auroc),
    ] {
        print_table(a, &rows, title, f);
    }
    if !checks.is_empty() {
        outln!("checks:");
        for c in &checks {
            outln!("  {} {}", if c.holds { "holds:" } else { "FAILS:" }, c.what);
        }
    }
    outln!("{seconds:.1} s on {adapter}");
    if a.json {
        outln!("{}", json(a, &rows, &checks, seconds, &adapter));
    }
    let failed = checks.iter().filter(|c| !c.holds).count();
    if a.check && failed > 0 {
        return Err(Error::Invalid {
            what: "repro abc",
            detail: format!("{failed} of {} checks failed", checks.len()),
        });
    }
    Ok(())
}

fn print_table(a: &Args, rows: &[Row], title: &str, f: fn(&Evaluation) -> Option<f64>) {
    outln!("AUROC on {title}: mean +- std over {} seeds", a.seeds);
    out!("{:<14}{:>8}", "dataset", "setting");
    for m in &a.models {
        out!("{m:>17}");
    }
    outln!();
    for r in rows {
        out!("{:<14}{:>8}", r.dataset, r.setting);
        for m in &a.models {
            let cell = r.runs.get(m).map_or("-".to_string(), |v| {
                let (mean, std) = super::mean_std(&metric(v, f));
                format!("{mean:.3} +- {std:.3}")
            });
            out!("{cell:>17}");
        }
        outln!();
    }
}

fn json(
    a: &Args,
    rows: &[Row],
    checks: &[Check],
    seconds: f64,
    adapter: &str,
) -> serde_json::Value {
    let results: Vec<_> = rows
        .iter()
        .map(|r| {
            let models: serde_json::Map<String, serde_json::Value> = r
                .runs
                .iter()
                .map(|(m, runs)| {
                    let summary = |f: fn(&Evaluation) -> Option<f64>| {
                        let v = metric(runs, f);
                        let (mean, std) = super::mean_std(&v);
                        serde_json::json!({"per_seed": v, "mean": mean, "std": std})
                    };
                    // Figure 5: mean reconstruction error of the validation split's normal
                    // rows and known anomalies after each epoch (ABC and LRC).
                    let curves: Vec<_> = runs
                        .iter()
                        .filter(|(_, e, _)| !e.fit.anomaly_error.is_empty())
                        .map(|(seed, e, _)| {
                            serde_json::json!({
                                "seed": seed, "normal_error": e.fit.normal_error,
                                "anomaly_error": e.fit.anomaly_error,
                            })
                        })
                        .collect();
                    let value = serde_json::json!({
                        "known_auroc": summary(|e| e.known_auroc),
                        "unknown_auroc": summary(|e| e.unknown_auroc),
                        "known_ap": summary(|e| e.known_ap),
                        "unknown_ap": summary(|e| e.unknown_ap),
                        "epochs": runs.iter().map(|(_, e, _)| e.fit.epochs).collect::<Vec<_>>(),
                        "best_epoch": runs.iter().map(|(_, e, _)| e.fit.best_epoch).collect::<Vec<_>>(),
                        "diverged": runs.iter().map(|(_, e, _)| e.fit.diverged).collect::<Vec<_>>(),
                        "seconds": runs.iter().map(|(_, _, s)| s).collect::<Vec<_>>(),
                        "figure5": curves,
                    });
                    (m.clone(), value)
                })
                .collect();
            serde_json::json!({"dataset": r.dataset, "setting": r.setting, "models": models})
        })
        .collect();
    let checks: Vec<_> = checks
        .iter()
        .map(|c| serde_json::json!({"check": c.what, "holds": c.holds}))
        .collect();
    serde_json::json!({
        "experiment": "abc", "adapter": adapter, "seeds": a.seeds, "first_seed": a.first_seed,
        "toy_rows": a.toy_rows, "max_rows": a.max_rows, "max_epochs": a.max_epochs, "results": results,
        "checks": checks, "seconds": seconds,
    })
}
