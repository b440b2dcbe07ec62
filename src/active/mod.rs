//! Algorithm 1 of "Deep Active Learning for Anomaly Detection": pretrain, then until the
//! budget is spent: train `active_steps` steps with the labels so far, show the k highest-
//! scoring unlabelled rows to an oracle, record its answers (journalled first).
//!
//! [`run_model`] does all of it for a model named in the registry, with a per-round callback
//! (a progress bar, a plot, a benchmark's counters hook in there). Step by step:
//!
//! ```text
//! let mut run = ActiveRun::new(&gpu, model.as_mut(), &data, &x, config, journal)?;
//! while let Some(query) = run.next_query()? {       // k rows, best first
//!     let audit = oracle.audit(&data, &query)?;     // ground truth, a person, or a file
//!     run.record(&audit.answers)?;                  // journalled before it is used
//! }
//! ```
//! or `run.drive(&data, &mut oracle, |round| ...)`.

mod journal;
mod killpoint;
mod oracle;
mod run;
mod session;

pub use journal::{Journal, JournalHeader, JournalRound, data_digest};
pub use oracle::{Audit, FileOracle, GroundTruth, Interactive, Oracle, render};
pub use run::{ActiveRun, RoundLog};
pub use session::{Outcome, RunSpec, run_model};

use serde::{Deserialize, Serialize};

use crate::data::Dataset;
use crate::error::{Result, invalid};

/// An expert's answer about one row.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Answer {
    Anomaly,
    Normal,
    Skip,
}

impl Answer {
    /// `anomaly`, `normal` or `skip`, as journals and output files write it.
    pub fn name(self) -> &'static str {
        match self {
            Answer::Anomaly => "anomaly",
            Answer::Normal => "normal",
            Answer::Skip => "skip",
        }
    }

    /// `a`/`anomaly`/`1`/`y`/`yes`, `n`/`normal`/`0`/`no`, `s`/`skip`.
    pub fn parse(s: &str) -> Option<Answer> {
        match s.trim().to_lowercase().as_str() {
            "a" | "anomaly" | "1" | "y" | "yes" => Some(Answer::Anomaly),
            "n" | "normal" | "0" | "no" => Some(Answer::Normal),
            "s" | "skip" => Some(Answer::Skip),
            _ => None,
        }
    }
}

/// Pretraining's default length in epochs (passes over the data), between
/// [`PRETRAIN_MIN_STEPS`] and [`PRETRAIN_MAX_STEPS`] steps: small data (the digits, a table of
/// a thousand rows) get the floor, 1000 steps of batch 64 (the set-up the built-in datasets
/// are measured at); 5,000 rows get 1172; Fashion-MNIST's 60,000 the cap, 5000 steps (the
/// paper's count; with its batch of 256, `--batch 256`, 15 epochs are 3516 steps). A default
/// `oddity active` run on 5,000 x 50 rows then stays under 30 s on the software adapter
/// (BENCHMARKS.md, stop 18).
pub const PRETRAIN_EPOCHS: u32 = 15;
/// Pretraining steps at least and at most, whatever the data's size.
pub const PRETRAIN_MIN_STEPS: u32 = 1000;
pub const PRETRAIN_MAX_STEPS: u32 = 5000;

/// Pretraining steps for `epochs` passes over `rows` rows in minibatches of `batch`, within
/// [`PRETRAIN_MIN_STEPS`] ..= [`PRETRAIN_MAX_STEPS`].
pub fn pretrain_steps(rows: usize, batch: u32, epochs: u32) -> u32 {
    let steps = (rows as u64 * u64::from(epochs)).div_ceil(u64::from(batch.max(1)));
    steps.clamp(u64::from(PRETRAIN_MIN_STEPS), u64::from(PRETRAIN_MAX_STEPS)) as u32
}

/// Algorithm 1's settings. The paper: k 10, budget 1000, 5000 pretrain steps, 100 per round.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ActiveConfig {
    pub k: u32,
    pub budget: u32,
    pub pretrain_steps: u32,
    pub active_steps: u32,
}

/// The rows shown to the oracle in one round, best first, with their scores.
#[derive(Clone, Debug, PartialEq)]
pub struct Query {
    pub round: u32,
    pub rows: Vec<(u32, f32)>,
}

/// The budget of a run: the one given, or twice the anomalies when the data has ground truth.
pub fn budget_for(data: &Dataset, budget: Option<u32>) -> Result<u32> {
    match (budget, data.anomaly.is_some()) {
        (Some(b), _) => Ok(b),
        (None, true) => Ok((2 * data.anomalies() as u32).max(1)),
        (None, false) => Err(invalid(
            "budget",
            "the data has no ground truth: give --budget",
        )),
    }
}
