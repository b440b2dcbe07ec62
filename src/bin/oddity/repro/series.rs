//! `oddity repro series`: the report's sequence-to-sequence detector on real labelled series,
//! beside the dense autoencoder and PCA on the same windows. UCR InternalBleeding16 trains on
//! its training file and is scored on its test file; the Yahoo series and the MIT-BIH excerpt
//! train on their first half and are scored on the second (a fixed rule: the labels choose
//! nothing). The scaling is fitted on the training points; labels never reach a detector.
//! Each point's score is the mean over the windows covering it; AUROC, AP and the best F1
//! over the scored points, each seed's printed, then each series' mean and deviation; with
//! `--out`, the first seed's picture of each series and detector (SVG) and its scores (CSV).

use oddity::data::series::{Series, SeriesOptions, Windowing};
use oddity::data::wheels::{MITDB, UCR_BLEEDING_TEST, UCR_BLEEDING_TRAIN, WheelFile, YAHOO};
use oddity::models::{Settings, registry};
use oddity::{Error, Gpu};

use crate::fit::shown;
use crate::series::{SeriesResult, SeriesTask};

#[derive(clap::Args)]
pub struct Args {
    /// Series: ucr (InternalBleeding16), yahoo, mitdb. Default: each whose wheel is found.
    #[arg(long, value_delimiter = ',')]
    pub series: Option<Vec<String>>,
    #[arg(long, value_delimiter = ',', default_value = "seq2seq,ae,pca")]
    pub models: Vec<String>,
    /// Points a window.
    #[arg(long, default_value_t = 64)]
    pub window: usize,
    /// Points between windows.
    #[arg(long, default_value_t = 1)]
    pub stride: usize,
    /// Seeds first-seed, first-seed + 1, ...
    #[arg(long, default_value_t = 3)]
    pub seeds: u32,
    #[arg(long, default_value_t = 0)]
    pub first_seed: u64,
    /// Epochs at most for the detectors trained by epochs (default: each model's on a GPU, 30
    /// on a software adapter).
    #[arg(long)]
    pub max_epochs: Option<u32>,
    /// A directory for the first seed's pictures (SVG) and per-point scores (CSV).
    #[arg(long)]
    pub out: Option<std::path::PathBuf>,
    /// Print one JSON object as the last line.
    #[arg(long)]
    pub json: bool,
}

#[derive(serde::Serialize)]
struct Run {
    series: String,
    seed: u64,
    #[serde(flatten)]
    result: SeriesResult,
}

/// A series file's columns.
fn read(file: &WheelFile, value: &str, label: Option<&str>) -> oddity::Result<Series> {
    let opts = SeriesOptions {
        values: vec![value.into()],
        label: label.map(str::to_string),
        ..SeriesOptions::default()
    };
    Ok(Series::from_csv(file.locate()?, &opts)?)
}

/// The task of series `name` with windows `w`.
fn task(name: &str, w: Windowing) -> oddity::Result<SeriesTask> {
    let mut t = match name {
        "ucr" => SeriesTask::after(
            read(&UCR_BLEEDING_TRAIN, "value", None)?,
            &read(&UCR_BLEEDING_TEST, "value", Some("is_anomaly"))?,
            w,
        )?,
        "yahoo" | "mitdb" => {
            let wheel = if name == "yahoo" { &YAHOO } else { &MITDB };
            let s = read(wheel, "data", Some("label"))?;
            let half = s.points / 2;
            SeriesTask::first(s, half, w)?
        }
        other => {
            return Err(Error::Invalid {
                what: "series",
                detail: format!("{other:?}: one of ucr, yahoo, mitdb"),
            });
        }
    };
    t.series.name = name.to_string();
    Ok(t)
}

pub fn run(a: &Args) -> oddity::Result<()> {
    for m in &a.models {
        registry::detector(m)?;
    }
    super::check_seeds(a.seeds)?;
    if let Some(out) = &a.out {
        std::fs::create_dir_all(out).map_err(|e| Error::Invalid {
            what: "--out",
            detail: format!("{}: {e}", out.display()),
        })?;
    }
    let gpu = Gpu::new()?;
    let software = gpu.summary().device_type == "Cpu";
    let max_epochs = a.max_epochs.or(software.then_some(30));
    let w = Windowing {
        size: a.window,
        stride: a.stride,
    };
    if let Some(note) = w.note() {
        eprintln!("note: {note}");
    }
    let names = a.series.clone().unwrap_or_else(|| {
        let mut d = Vec::new();
        for (name, wheel) in [
            ("ucr", UCR_BLEEDING_TEST),
            ("yahoo", YAHOO),
            ("mitdb", MITDB),
        ] {
            if wheel.locate().is_ok() {
                d.push(name.to_string());
            } else {
                eprintln!(
                    "{name} left out: {} not found ({} wheel)",
                    wheel.path, wheel.wheel
                );
            }
        }
        d
    });
    println!(
        "Series on {}: windows of {} points every {}; epochs {}",
        gpu.adapter_name(),
        w.size,
        w.stride,
        max_epochs.map_or("each model's".into(), |e| format!(
            "at most {e}{}",
            if software {
                " (reduced for a software adapter)"
            } else {
                ""
            }
        ))
    );
    let mut runs: Vec<Run> = Vec::new();
    for name in &names {
        let t = task(name, w)?;
        let anomalies = t
            .eval_labels()
            .map_or(0, |l| l.iter().filter(|&&v| v == 1).count());
        println!(
            "{name}: {} training points, {} scored ({anomalies} anomalous)",
            t.train.len(),
            t.eval.len()
        );
        for seed in a.first_seed..a.first_seed + u64::from(a.seeds) {
            for model in &a.models {
                let settings = Settings {
                    seed,
                    max_epochs,
                    ..Settings::default()
                };
                let (r, _) = t.run(&gpu, model, &settings)?;
                println!(
                    "{name} seed {seed} {model}: AUROC {} AP {} best F1 {} (windows AUROC {}); {} epochs, {:.1} s",
                    shown(r.auroc),
                    shown(r.ap),
                    shown(r.best_f1),
                    shown(r.window_auroc),
                    r.epochs,
                    r.seconds
                );
                if let (Some(out), true) = (&a.out, seed == a.first_seed) {
                    let path = out.join(format!("{name}-{model}.svg"));
                    t.draw(&path, &format!("{name} ({model}, seed {seed})"), &r.points)?;
                    crate::series::write_scores(
                        &out.join(format!("{name}-{model}.csv")),
                        &t,
                        &r.points,
                    )?;
                }
                runs.push(Run {
                    series: name.clone(),
                    seed,
                    result: r,
                });
            }
        }
        summarise(&runs, name, a);
    }
    if a.json {
        println!(
            "{}",
            serde_json::json!({ "adapter": gpu.adapter_name(), "runs": runs })
        );
    }
    Ok(())
}

/// Each detector's mean (sd) over the seeds on series `name`.
fn summarise(runs: &[Run], name: &str, a: &Args) {
    println!("{name}: mean (sd) over {} seeds", a.seeds);
    for model in &a.models {
        let pick = |f: fn(&SeriesResult) -> Option<f64>| -> Vec<f64> {
            runs.iter()
                .filter(|r| r.series == name && &r.result.model == model)
                .filter_map(|r| f(&r.result))
                .collect()
        };
        let parts: Vec<String> = [
            ("AUROC", pick(|r| r.auroc)),
            ("AP", pick(|r| r.ap)),
            ("best F1", pick(|r| r.best_f1)),
        ]
        .into_iter()
        .map(|(what, v)| {
            let (m, sd) = super::mean_std(&v);
            format!("{what} {m:.4} ({sd:.4})")
        })
        .collect();
        println!("  {model:<8} {}", parts.join("  "));
    }
}
