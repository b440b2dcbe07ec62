//! The `oddity` command-line tool: it parses flags, calls the library, prints and plots.

// First: its macros (`out!`, `outln!`) are for every module below.
#[macro_use]
mod stdout;

mod active;
mod bench;
mod checks;
mod fit;
mod info;
mod plot;
mod progress;
mod repro;
mod score;
mod series;
mod sweep;
mod unsupervised;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "oddity",
    version,
    about = "Deep anomaly detection on any GPU through WGSL compute kernels"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Active anomaly detection (Algorithm 1 of the UAI paper).
    Active(Box<active::Args>),
    /// Train a detector of the registry (ABC, LRC, their baselines, the VAE) and evaluate it.
    Fit(Box<fit::Args>),
    /// Score a CSV file with a model saved by `oddity fit --save` or `oddity active --out`.
    Score(Box<score::Args>),
    /// Adapters, features and limits.
    Info(info::Args),
    /// Throughput of the paper's DAE training step and scoring pass.
    Bench(bench::Args),
    /// The papers' experiments.
    #[command(subcommand)]
    Repro(repro::Experiment),
}

/// A flag's value parsed by the library's `FromStr` (whose error names the values it takes).
fn parse<T: std::str::FromStr<Err = oddity::Error>>(s: &str) -> Result<T, String> {
    s.parse().map_err(|e: oddity::Error| e.to_string())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::Active(a)) => active::run(&a).map(|_| ()),
        Some(Command::Fit(a)) => match (&a.data, &a.series.series) {
            (Some(path), _) => unsupervised::run(&a, path),
            (None, Some(_)) => series::run(&a),
            (None, None) => fit::run(&a),
        },
        Some(Command::Score(a)) => score::run(&a),
        Some(Command::Info(a)) => info::run(&a),
        Some(Command::Bench(a)) => bench::run(&a),
        Some(Command::Repro(e)) => repro::run(&e),
        None => demo(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// With no arguments: the demo. Active anomaly detection on the built-in digits (X_0: the
/// 0s are the anomalies), DAE_uai against the plain DAE, the ground truth as the oracle, the
/// found-vs-budget table, and the plot in `oddity-out/`. `oddity active`'s training defaults
/// (15 epochs of pretraining, at least 1000 steps; the paper's 100 steps per round), k 5,
/// seed 0: about 35 s on the software adapter.
fn demo() -> oddity::Result<()> {
    let args = active::Args {
        out: Some("oddity-out".into()),
        ..active::Args::ground_truth(
            Some("digits0".into()),
            vec!["dae-uai".into(), "dae".into()],
            5,
            active::Training::with(None, 100, None, 64),
            0,
        )
    };
    active::run(&args).map(|_| ())
}
