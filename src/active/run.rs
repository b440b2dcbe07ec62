//! A run of Algorithm 1 over one dataset, round by round: see the module documentation.

use super::{ActiveConfig, Answer, Journal, JournalRound, Oracle, Query};
use crate::data::Dataset;
use crate::error::{Result, invalid};
use crate::gpu::Gpu;
use crate::models::{ActiveDetector, LabelSet};
use crate::tape::DataRows;

/// A run of Algorithm 1 over one dataset.
pub struct ActiveRun<'m> {
    gpu: Gpu,
    model: &'m mut dyn ActiveDetector,
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
    history: Vec<RoundLog>,
    /// The data's row numbers in its source ([`Dataset::origin`]): the journal records rows
    /// by them, as the oracles show them.
    origin: Option<Vec<u32>>,
    /// Training steps run so far (pretraining included).
    steps: u64,
}

/// One round as it happened: the rows shown (best first, with their scores) and the answers.
#[derive(Clone, Debug, PartialEq)]
pub struct RoundLog {
    pub round: u32,
    pub shown: Vec<(u32, f32)>,
    pub answers: Vec<(u32, Answer)>,
}

impl<'m> ActiveRun<'m> {
    /// Checks the settings against the data and prepares the model's plans. With a journal,
    /// its recorded rounds are replayed (same seed and adapter: the same queries) before any
    /// new query is shown.
    pub fn new(
        gpu: &Gpu,
        model: &'m mut dyn ActiveDetector,
        data: &Dataset,
        x: &DataRows,
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
        model.prepare(data, x, &labels, config.k)?;
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
            history: Vec::new(),
            origin: data.origin.clone(),
            steps: 0,
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
            let counts = self.labels.counts();
            let first_step = self.steps;
            let round = self.round + 1;
            if !self.pretrained {
                self.model
                    .train(self.config.pretrain_steps, counts)
                    .map_err(|e| at_stage(e, format!("pretraining (round {round})")))?;
                self.steps += u64::from(self.config.pretrain_steps);
                self.pretrained = true;
            }
            self.model
                .train(self.config.active_steps, counts)
                .map_err(|e| at_stage(e, format!("training (round {round})")))?;
            self.steps += u64::from(self.config.active_steps);
            super::killpoint::check(super::killpoint::Place::Training, self.round);
            let mut rows = match self.model.query(counts) {
                Ok(rows) => rows,
                // Fewer rows to choose than k: scores that are NaN, from training that ran
                // away, say so, and when (the parameters are read back only here).
                Err(e) => {
                    let e = at_stage(e, format!("scoring and top-k (round {round})"));
                    return Err(self.divergence(first_step)?.unwrap_or(e));
                }
            };
            rows.truncate((self.config.budget - self.spent).min(self.config.k) as usize);
            let query = Query {
                round: self.round,
                rows,
            };
            match self.replay.pop_front() {
                Some(rec) => {
                    let shown: std::collections::HashMap<u32, u32> = query
                        .rows
                        .iter()
                        .map(|r| (self.source_row(r.0), r.0))
                        .collect();
                    if let Some((r, _)) = rec.answers.iter().find(|(r, _)| !shown.contains_key(r)) {
                        return Err(invalid(
                            "journal",
                            format!(
                                "round {}: the journal answers row {r}, which this run did not propose: the journal was edited, or written on another adapter or build or under other kernel choices (ODDITY_GEMM, ODDITY_SUBGROUPS), whose scores round differently",
                                rec.round + 1
                            ),
                        ));
                    }
                    let answers: Vec<(u32, Answer)> =
                        rec.answers.iter().map(|&(r, a)| (shown[&r], a)).collect();
                    self.apply(&query, &answers)?;
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
        super::killpoint::check(super::killpoint::Place::Answered, query.round);
        if let Some(j) = &mut self.journal {
            j.append(&JournalRound {
                round: query.round,
                answers: answers
                    .iter()
                    .map(|&(r, a)| (crate::data::source_row(self.origin.as_deref(), r), a))
                    .collect(),
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
        self.history.push(RoundLog {
            round: query.round,
            shown: query.rows.clone(),
            answers: answers.to_vec(),
        });
        Ok(())
    }

    /// Runs the rest of the algorithm: every query goes to `oracle` and its answers are
    /// recorded (journalled first); `on_round` then sees the run. Stops when the budget is
    /// spent or the oracle asks to (returns true then: resume with the same journal).
    pub fn drive(
        &mut self,
        data: &Dataset,
        oracle: &mut dyn Oracle,
        mut on_round: impl FnMut(&ActiveRun<'_>),
    ) -> Result<bool> {
        while let Some(query) = self.next_query()? {
            let audit = oracle.audit(data, &query)?;
            if !audit.answers.is_empty() {
                self.record(&audit.answers)?;
            }
            on_round(self);
            if audit.stop {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// The error for parameters that are no longer finite after this round's training (steps
    /// `first_step + 1 ..= self.steps`), if they are not; one readback.
    fn divergence(&self, first_step: u64) -> Result<Option<crate::Error>> {
        let core = self.model.core();
        let params = core.arena().read(&self.gpu)?;
        let bad = params.iter().filter(|v| !v.is_finite()).count();
        if bad == 0 {
            return Ok(None);
        }
        Ok(Some(crate::Error::Diverged(format!(
            "after training steps {}..={} (round {}), {bad} of the model's {} parameters are NaN \
             or infinite, and so are its scores; the learning rate ({:e}) is too high for this \
             data: give a smaller --lr",
            first_step + 1,
            self.steps,
            self.round + 1,
            params.len(),
            core.optimizer().lr()
        ))))
    }

    /// Row `r`'s number in the data's source (the journal's and the oracles' numbering).
    fn source_row(&self, r: u32) -> u32 {
        crate::data::source_row(self.origin.as_deref(), r)
    }

    /// Every round so far (journalled ones replayed included), in order.
    pub fn history(&self) -> &[RoundLog] {
        &self.history
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

/// A device's error (out of memory, a lost device, a failed readback) with the stage of the
/// run it struck; the journal holds every answer given before it, so the run resumes.
fn at_stage(e: crate::Error, stage: String) -> crate::Error {
    let said = |m: String| {
        format!("{m} (while {stage}; the journal keeps every answer so far: run again to resume)")
    };
    match e {
        crate::Error::Wgpu(m) => crate::Error::Wgpu(said(m)),
        crate::Error::Readback(m) => crate::Error::Readback(said(m)),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::at_stage;
    use crate::Error;

    #[test]
    fn a_device_error_names_its_stage_and_the_journal() {
        let e = at_stage(
            Error::Wgpu("out of memory".into()),
            "training (round 3)".into(),
        );
        let e = e.to_string();
        assert!(
            e.contains("out of memory (while training (round 3); the journal keeps"),
            "{e}"
        );
        // Errors of the run's own making are left as they are.
        let e = at_stage(crate::error::invalid("k", "0"), "scoring".into()).to_string();
        assert_eq!(e, "invalid k: 0");
    }
}
