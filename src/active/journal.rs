//! The label journal: one JSON line per round of answers, appended and fsync'd before the
//! answers are used, so a crash loses no label and `--journal PATH` resumes the run exactly
//! where it stopped. The first line describes the run, the data's digest included; a journal
//! from another dataset (or another file of the same name), model or set-up is refused. A run
//! holds an exclusive lock on its journal: a second run on it is refused, not interleaved. A
//! last line torn by a crash while it was written is cut off, and said; any other line that is
//! not a round is an error naming it.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{ActiveConfig, Answer};
use crate::data::Dataset;
use crate::error::{Error, Result, invalid};

/// What a journal was written for; resuming requires an equal header.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JournalHeader {
    pub oddity_journal: u32,
    pub dataset: String,
    pub rows: u32,
    pub model: String,
    pub seed: u64,
    pub k: u32,
    pub budget: u32,
    pub pretrain_steps: u32,
    pub active_steps: u32,
    /// The rest of the set-up that changes which rows are asked: the model's configuration
    /// as resolved for this data (widths, batch, learning rate, noise, head prior, ...: every
    /// default included, so a changed default is a changed header) and the class column.
    /// Journals written before it was recorded read as "" and so are refused rather than
    /// resumed under another set-up.
    #[serde(default)]
    pub training: String,
    /// [`data_digest`] of the rows the journal's row numbers index: another file under the
    /// same name (edited, shuffled, other rows) is refused up front, not found out rounds
    /// later. Journals written before it was recorded read as "" and are refused.
    #[serde(default)]
    pub data: String,
}

/// A digest of a dataset's rows as a run sees them (features after encoding and scaling,
/// labels, classes, and each row's number in its source): FNV-1a, 64 bits, in hex.
pub fn data_digest(data: &Dataset) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for &b in bytes {
            h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    };
    eat(&(data.rows as u64).to_le_bytes());
    eat(&(data.cols as u64).to_le_bytes());
    for v in &data.x {
        eat(&v.to_bits().to_le_bytes());
    }
    if let Some(a) = &data.anomaly {
        eat(a);
    }
    for c in data.class.iter().flatten() {
        eat(&c.to_le_bytes());
    }
    for r in data.origin.iter().flatten() {
        eat(&r.to_le_bytes());
    }
    format!("{h:016x}")
}

impl JournalHeader {
    /// The header of `model`'s run on `data` under `config`; `training` is the model's
    /// resolved configuration (its [`crate::models::Detector::config`]) and CSV class column.
    pub fn for_run(
        data: &Dataset,
        model: &str,
        seed: u64,
        training: &serde_json::Value,
        class_col: Option<&str>,
        config: &ActiveConfig,
    ) -> JournalHeader {
        JournalHeader {
            oddity_journal: 1,
            dataset: data.name.clone(),
            rows: data.rows as u32,
            model: model.to_string(),
            seed,
            k: config.k,
            budget: config.budget,
            pretrain_steps: config.pretrain_steps,
            active_steps: config.active_steps,
            training: format!(
                "{training}, class column {}",
                class_col.unwrap_or("default")
            ),
            data: data_digest(data),
        }
    }
}

/// One round: the rows shown, best first, and the answers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JournalRound {
    pub round: u32,
    pub answers: Vec<(u32, Answer)>,
}

/// An open journal: the rounds already in it (to replay) and the file to append to.
pub struct Journal {
    path: PathBuf,
    /// Open for appending, and locked for as long as the journal is open.
    file: File,
    pub rounds: Vec<JournalRound>,
    torn: Option<usize>,
}

fn io(path: &Path, e: std::io::Error) -> Error {
    Error::Data(crate::data::DataError::Io {
        path: path.display().to_string(),
        source: e,
    })
}

impl Journal {
    /// Opens `path`, creating it with `header` when new or empty; an existing journal must have
    /// been written for the same header.
    pub fn open(path: &Path, header: &JournalHeader) -> Result<Journal> {
        // Locked before it is read, so that nothing another run appends is missed.
        let mut file = OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(path)
            .map_err(|e| io(path, e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(invalid(
                    "journal",
                    format!(
                        "{} is in use by another run (it holds the journal's lock); two runs \
                         on one journal would each record every round",
                        path.display()
                    ),
                ));
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io(path, e)),
        }
        let mut text = String::new();
        std::io::Read::read_to_string(&mut file, &mut text).map_err(|e| io(path, e))?;
        let mut rounds = Vec::new();
        let mut torn = None;
        let existing = !text.trim().is_empty();
        if existing {
            let lines: Vec<&str> = text.lines().collect();
            let first: JournalHeader = serde_json::from_str(lines[0]).map_err(|e| {
                invalid(
                    "journal",
                    format!(
                        "{}: line 1 is not an oddity journal header: {e}",
                        path.display()
                    ),
                )
            })?;
            if first != *header {
                return Err(invalid(
                    "journal",
                    format!(
                        "{} was written for another run and cannot resume this one: {}",
                        path.display(),
                        differences(&first, header)
                    ),
                ));
            }
            let last = lines.len() - 1;
            for (i, line) in lines.iter().enumerate().skip(1) {
                match serde_json::from_str::<JournalRound>(line) {
                    Ok(r) => rounds.push(r),
                    // A last line without its newline is one a crash cut short while it was
                    // written: its answers were never used, so it is cut off (and said) and
                    // the round is asked again.
                    Err(_) if i == last && !text.ends_with('\n') => torn = Some(i + 1),
                    Err(e) => {
                        return Err(invalid(
                            "journal",
                            format!(
                                "{}: line {} is not a round of answers ({e}); a journal is \
                                 written by oddity alone: restore the line or delete it to resume",
                                path.display(),
                                i + 1
                            ),
                        ));
                    }
                }
            }
            if torn.is_some() {
                let kept = lines[..last].join("\n") + "\n";
                file.set_len(0).map_err(|e| io(path, e))?;
                file.write_all(kept.as_bytes()).map_err(|e| io(path, e))?;
                file.sync_all().map_err(|e| io(path, e))?;
            } else if !text.ends_with('\n') {
                // A whole last round whose newline was lost: the next round must not be
                // appended onto its line.
                file.write_all(b"\n").map_err(|e| io(path, e))?;
                file.sync_all().map_err(|e| io(path, e))?;
            }
        }
        if !existing {
            file.set_len(0).map_err(|e| io(path, e))?;
            let line =
                serde_json::to_string(header).map_err(|e| invalid("journal", e.to_string()))?;
            writeln!(file, "{line}").map_err(|e| io(path, e))?;
            file.sync_all().map_err(|e| io(path, e))?;
        }
        Ok(Journal {
            path: path.to_path_buf(),
            file,
            rounds,
            torn,
        })
    }

    /// Where the journal is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The line number of a torn last line that opening cut off (a crash while it was
    /// written; its round is asked again), if there was one.
    pub fn torn_line(&self) -> Option<usize> {
        self.torn
    }

    /// The answers the journal already holds (rounds replayed before anything new is asked).
    pub fn answered(&self) -> usize {
        self.rounds.iter().map(|r| r.answers.len()).sum()
    }

    /// Appends a round and fsyncs it before returning.
    pub fn append(&mut self, round: &JournalRound) -> Result<()> {
        let line = serde_json::to_string(round).map_err(|e| invalid("journal", e.to_string()))?;
        if super::killpoint::armed(super::killpoint::Place::Journal, round.round) {
            // A kill in the middle of the write: half the line reaches the disk.
            let _ = self.file.write_all(&line.as_bytes()[..line.len() / 2]);
            let _ = self.file.sync_all();
            std::process::abort();
        }
        writeln!(self.file, "{line}").map_err(|e| io(&self.path, e))?;
        self.file.sync_all().map_err(|e| io(&self.path, e))
    }
}

/// What differs between the header a journal holds and this run's, field by field.
fn differences(was: &JournalHeader, now: &JournalHeader) -> String {
    let mut out = Vec::new();
    let mut field = |name: &str, a: String, b: String| {
        if a != b {
            out.push(format!("{name} {a} in the journal, {b} now"));
        }
    };
    field(
        "format",
        was.oddity_journal.to_string(),
        now.oddity_journal.to_string(),
    );
    field("dataset", was.dataset.clone(), now.dataset.clone());
    field("rows", was.rows.to_string(), now.rows.to_string());
    field("model", was.model.clone(), now.model.clone());
    field("seed", was.seed.to_string(), now.seed.to_string());
    field("k", was.k.to_string(), now.k.to_string());
    field("budget", was.budget.to_string(), now.budget.to_string());
    field(
        "pretrain steps",
        was.pretrain_steps.to_string(),
        now.pretrain_steps.to_string(),
    );
    field(
        "active steps",
        was.active_steps.to_string(),
        now.active_steps.to_string(),
    );
    let shown = |s: &str| match s {
        "" => "(not recorded)".to_string(),
        s => s.to_string(),
    };
    field("training", shown(&was.training), shown(&now.training));
    if was.data != now.data {
        out.push(format!(
            "the data differ (digest {} in the journal, {} now: another file, or the same \
             file edited, shuffled or cut otherwise)",
            shown(&was.data),
            now.data
        ));
    }
    out.join("; ")
}
