//! The `oddity` command-line tool.

mod bench;
mod info;

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
    /// Adapters, features and limits.
    Info(info::Args),
    /// Throughput of the paper's DAE training step and scoring pass.
    Bench(bench::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::Info(a)) => info::run(&a),
        Some(Command::Bench(a)) => bench::run(&a),
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

/// With no arguments: the adapter, then a small DAE benchmark the software adapter finishes in
/// seconds. (The active-learning demo arrives with the UAI work.)
fn demo() -> oddity::Result<()> {
    info::run(&info::Args { json: false })?;
    println!();
    bench::run(&bench::Args::small())
}
