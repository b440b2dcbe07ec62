//! One model's whole run of Algorithm 1, as `oddity active` makes it: the model built by the
//! registry, its journal opened (or resumed), every round driven, and what it found.

use std::path::Path;
use std::time::Instant;

use super::{ActiveConfig, ActiveRun, Journal, JournalHeader, Oracle, RoundLog};
use crate::data::Dataset;
use crate::error::Result;
use crate::gpu::Gpu;
use crate::models::{Detector, Settings, registry};
use crate::tape::DataRows;

/// What to run.
#[derive(Clone, Copy)]
pub struct RunSpec<'a> {
    /// The model's registry name (`dae-uai`, `dae`, `class-uai`, `class`).
    pub model: &'a str,
    pub settings: &'a Settings,
    pub config: ActiveConfig,
    /// The label journal: every answer is appended (and fsync'd) before it is used; an
    /// existing journal of the same run resumes it.
    pub journal: Option<&'a Path>,
    /// The CSV column the data's classes came from, for the journal header (None: default).
    pub class_col: Option<&'a str>,
    /// Called with the journal once it is open (before any training): what it holds, for a
    /// command to say that the run resumes.
    pub on_journal: Option<&'a dyn Fn(&Journal)>,
}

/// What a run did.
pub struct Outcome {
    /// The trained model (save it for `oddity score`).
    pub model: Box<dyn Detector>,
    pub found: u32,
    pub spent: u32,
    /// Anomalies found after each round.
    pub curve: Vec<u32>,
    /// Every round: the rows shown with their scores, and the answers.
    pub history: Vec<RoundLog>,
    /// The oracle asked to stop before the budget was spent (resume with the same journal).
    pub stopped: bool,
    pub seconds: f64,
}

impl Outcome {
    /// Every row's score as the last query ranked them (read back: one wait).
    pub fn scores(&mut self) -> Result<Vec<f32>> {
        self.model.active()?.last_scores()
    }
}

/// Runs Algorithm 1 with `spec`'s model on `data` (uploaded as `x`), `oracle` answering;
/// `on_round` sees the run after every round.
pub fn run_model(
    gpu: &Gpu,
    data: &Dataset,
    x: &DataRows,
    spec: &RunSpec<'_>,
    oracle: &mut dyn Oracle,
    on_round: impl FnMut(&ActiveRun<'_>),
) -> Result<Outcome> {
    let mut model = registry::active(spec.model)?.build(gpu, data, spec.settings)?;
    let journal = match spec.journal {
        Some(p) => {
            let header = JournalHeader::for_run(
                data,
                model.name(),
                spec.settings.seed,
                &model.config()?,
                spec.class_col,
                &spec.config,
            );
            let journal = Journal::open(p, &header)?;
            if let Some(hook) = spec.on_journal {
                hook(&journal);
            }
            Some(journal)
        }
        None => None,
    };
    let start = Instant::now();
    let active = model.active()?;
    let mut run = ActiveRun::new(gpu, active, data, x, spec.config, journal)?;
    let stopped = run.drive(data, oracle, on_round)?;
    let (found, spent) = (run.found(), run.spent());
    let (curve, history) = (run.curve().to_vec(), run.history().to_vec());
    drop(run);
    Ok(Outcome {
        model,
        found,
        spent,
        curve,
        history,
        stopped,
        seconds: start.elapsed().as_secs_f64(),
    })
}
