//! `oddity score`: scores new data with a saved model (`oddity fit --save`, `oddity active
//! --out`), without retraining. The data is encoded and scaled by the schema saved with the
//! model; a model with a threshold also flags each row.

use std::path::PathBuf;
use std::time::Instant;

use oddity::data::Dataset;
use oddity::{Error, Gpu};

#[derive(clap::Args)]
pub struct Args {
    /// A model file written by `oddity fit --save` or `oddity active --out`.
    #[arg(long)]
    pub model_file: PathBuf,
    /// A CSV file with a header holding the columns the model was trained on (other columns
    /// are ignored).
    #[arg(long)]
    pub data: PathBuf,
    /// With --label-col, AUROC and AP against --data's labels.
    #[command(flatten)]
    pub labels: crate::fit::Labels,
    #[command(flatten)]
    pub format: crate::fit::CsvFormat,
    /// Write the scores here as CSV (`row,score`, and `flagged` (0/1) when the model has a
    /// threshold; row 0 is the first data line) instead of to standard output.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Print a JSON summary as the last line.
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: &Args) -> oddity::Result<()> {
    let start = Instant::now();
    if let Some(path) = &a.out {
        crate::checks::output_file("--out", path)?;
    }
    let gpu = Gpu::new()?;
    let model = oddity::models::registry::load(&gpu, &a.model_file)?;
    if model.schema().is_empty() {
        return Err(Error::Invalid {
            what: "model file",
            detail: format!(
                "{}: it records no input schema (how raw columns become its inputs), so new data cannot be encoded for it",
                a.model_file.display()
            ),
        });
    }
    let data =
        Dataset::from_csv_with_schema(&a.data, model.schema(), &a.labels.csv_options(&a.format))?;
    let scores = model.score(&data)?;
    let flags = model.threshold().map(|t| t.flags(&scores));
    let text: String = match &flags {
        None => std::iter::once("row,score\n".to_string())
            .chain(scores.iter().enumerate().map(|(i, s)| format!("{i},{s}\n")))
            .collect(),
        Some(f) => std::iter::once("row,score,flagged\n".to_string())
            .chain(
                scores
                    .iter()
                    .zip(f)
                    .enumerate()
                    .map(|(i, (s, f))| format!("{i},{s},{f}\n")),
            )
            .collect(),
    };
    let io = |p: &std::path::Path, e: std::io::Error| Error::Invalid {
        what: "output",
        detail: format!("{}: {e}", p.display()),
    };
    match &a.out {
        Some(p) => std::fs::write(p, text).map_err(|e| io(p, e))?,
        None => out!("{text}"),
    }
    let (auroc, ap) = match &data.anomaly {
        Some(y) => (
            Some(oddity::metrics::auroc(&scores, y)?),
            Some(oddity::metrics::average_precision(&scores, y)?),
        ),
        None => (None, None),
    };
    let seconds = start.elapsed().as_secs_f64();
    let kind = model.name();
    eprintln!(
        "{kind}: scored {} rows of {} in {seconds:.2} s on {}{}",
        data.rows,
        a.data.display(),
        gpu.adapter_name(),
        match (auroc, ap) {
            (Some(r), Some(p)) => format!("; AUROC {r:.4}, AP {p:.4}"),
            _ => String::new(),
        }
    );
    if a.json {
        outln!(
            "{}",
            serde_json::json!({
                "model": kind, "model_file": a.model_file, "data": a.data, "rows": data.rows,
                "auroc": auroc, "ap": ap, "out": a.out, "seconds": seconds,
                "flagged": flags.map(|f| f.iter().filter(|&&v| v == 1).count()),
                "adapter": gpu.adapter_name(),
            })
        );
    }
    Ok(())
}
