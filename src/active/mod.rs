//! Algorithm 1 of "Deep Active Learning for Anomaly Detection": pretrain, then until the
//! budget is spent: train `active_steps` steps with the labels so far, show the k highest-
//! scoring unlabelled rows to an oracle, record its answers (journalled first).
//!
//! ```text
//! let mut run = ActiveRun::new(&gpu, &mut model, &data, &x, config, journal)?;
//! while let Some(query) = run.next_query()? {       // k rows, best first
//!     let audit = oracle.audit(&data, &query)?;     // ground truth, a person, or a file
//!     run.record(&audit.answers)?;                  // journalled before it is used
//! }
//! ```

mod journal;
mod models;
mod oracle;

pub use journal::{Journal, JournalHeader, JournalRound};
pub use models::{ActiveModel, ActiveUai};
pub use oracle::{Audit, FileOracle, GroundTruth, Interactive, Oracle, render};

use serde::{Deserialize, Serialize};

use crate::data::Dataset;
use crate::error::{Result, invalid};
use crate::gpu::Gpu;
use crate::models::LabelSet;
use crate::tape::Tensor;

/// An expert's answer about one row.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Answer {
    Anomaly,
    Normal,
    Skip,
}

impl Answer {
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

/// A run of Algorithm 1 over one dataset.
pub struct ActiveRun<'m> {
    gpu: Gpu,
    model: &'m mut dyn ActiveModel,
    labels: LabelSet,
    config: ActiveConfig,
    journal: Option<Journal>,
    replay: std::collections::VecDeque<JournalRound>,
    pending: Option<Query>,
    pretrained: bool,
    spent: u32,
    found: u32,
    round: u32,
    curve: Vec<u32>,
}

impl<'m> ActiveRun<'m> {
    /// Checks the settings against the data and prepares the model's plans. With a journal,
    /// its recorded rounds are replayed (same seed and adapter: the same queries) before any
    /// new query is shown.
    pub fn new(
        gpu: &Gpu,
        model: &'m mut dyn ActiveModel,
        data: &Dataset,
        x: &Tensor,
        config: ActiveConfig,
        journal: Option<Journal>,
    ) -> Result<ActiveRun<'m>> {
        let n = data.rows as u32;
        if config.k == 0 {
            return Err(invalid("k", "must be at least 1"));
        }
        if config.budget == 0 {
            return Err(invalid("budget", "must be at least 1"));
        }
        if config.budget > n {
            return Err(invalid(
                "budget",
                format!(
                    "{} is more than the {n} rows of {}",
                    config.budget, data.name
                ),
            ));
        }
        if config.k > n {
            return Err(invalid(
                "k",
                format!("{} is more than the {n} rows of {}", config.k, data.name),
            ));
        }
        if config.budget + config.k > n + 1 {
            return Err(invalid(
                "budget",
                format!(
                    "budget {} with k {} leaves the last round fewer than k unlabelled rows of {} to rank (need budget + k <= {})",
                    config.budget,
                    config.k,
                    data.name,
                    n + 1
                ),
            ));
        }
        let labels = LabelSet::new(gpu, n)?;
        model.prepare(x, &labels, config.k)?;
        let replay = journal
            .as_ref()
            .map(|j| j.rounds.iter().cloned().collect())
            .unwrap_or_default();
        Ok(ActiveRun {
            gpu: gpu.clone(),
            model,
            labels,
            config,
            journal,
            replay,
            pending: None,
            pretrained: false,
            spent: 0,
            found: 0,
            round: 0,
            curve: Vec::new(),
        })
    }

    /// The next rows to audit, or None when the budget is spent. Rounds already in the journal
    /// are replayed and applied first.
    pub fn next_query(&mut self) -> Result<Option<Query>> {
        if let Some(q) = &self.pending {
            return Err(invalid(
                "query",
                format!("round {} is still waiting for answers", q.round + 1),
            ));
        }
        loop {
            if self.spent >= self.config.budget {
                return Ok(None);
            }
            if !self.pretrained {
                self.model.train(self.config.pretrain_steps)?;
                self.pretrained = true;
            }
            self.model.train(self.config.active_steps)?;
            let mut rows = self.model.query()?;
            rows.truncate((self.config.budget - self.spent).min(self.config.k) as usize);
            let query = Query {
                round: self.round,
                rows,
            };
            match self.replay.pop_front() {
                Some(rec) => {
                    let shown: std::collections::HashSet<u32> =
                        query.rows.iter().map(|r| r.0).collect();
                    if let Some((r, _)) = rec.answers.iter().find(|(r, _)| !shown.contains(r)) {
                        return Err(invalid(
                            "journal",
                            format!(
                                "round {}: the journal answers row {r}, which this run did not propose (another adapter, build, ODDITY_GEMM or ODDITY_SUBGROUPS?)",
                                rec.round + 1
                            ),
                        ));
                    }
                    self.apply(&query, &rec.answers)?;
                }
                None => {
                    self.pending = Some(query.clone());
                    return Ok(Some(query));
                }
            }
        }
    }

    /// Records answers to the pending query (all of its rows, or some when the expert
    /// stopped early): journalled and fsync'd first, then used.
    pub fn record(&mut self, answers: &[(u32, Answer)]) -> Result<()> {
        let query = self
            .pending
            .clone()
            .ok_or_else(|| invalid("answers", "no query is waiting for answers"))?;
        if answers.is_empty() {
            return Err(invalid("answers", "no answers given"));
        }
        let mut seen = std::collections::HashSet::new();
        for (r, _) in answers {
            if !query.rows.iter().any(|q| q.0 == *r) {
                return Err(invalid(
                    "answers",
                    format!("row {r} was not in round {}'s query", query.round + 1),
                ));
            }
            if !seen.insert(*r) {
                return Err(invalid("answers", format!("row {r} is answered twice")));
            }
        }
        if let Some(j) = &mut self.journal {
            j.append(&JournalRound {
                round: query.round,
                answers: answers.to_vec(),
            })?;
        }
        self.apply(&query, answers)?;
        self.pending = None;
        Ok(())
    }

    fn apply(&mut self, query: &Query, answers: &[(u32, Answer)]) -> Result<()> {
        let labelled: Vec<(u32, u8)> = answers
            .iter()
            .filter(|a| a.1 != Answer::Skip)
            .map(|&(r, a)| (r, u8::from(a == Answer::Anomaly)))
            .collect();
        let skipped: Vec<u32> = answers
            .iter()
            .filter(|a| a.1 == Answer::Skip)
            .map(|a| a.0)
            .collect();
        self.labels.add(&self.gpu, &labelled)?;
        self.labels.skip(&self.gpu, &skipped)?;
        self.found += labelled.iter().filter(|l| l.1 == 1).count() as u32;
        self.spent += answers.len() as u32;
        self.curve.push(self.found);
        self.round = query.round + 1;
        Ok(())
    }

    /// Anomalies found after each round.
    pub fn curve(&self) -> &[u32] {
        &self.curve
    }

    pub fn found(&self) -> u32 {
        self.found
    }

    pub fn spent(&self) -> u32 {
        self.spent
    }

    pub fn labels(&self) -> &LabelSet {
        &self.labels
    }
}
