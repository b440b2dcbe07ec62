//! The label journal: one JSON line per round of answers, appended and fsync'd before the
//! answers are used, so a crash loses no label and `--journal PATH` resumes the run exactly
//! where it stopped. The first line describes the run; a journal from another dataset, model or
//! set-up is refused.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
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
    file: File,
    pub rounds: Vec<JournalRound>,
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
        let mut rounds = Vec::new();
        let existing = path.exists() && std::fs::metadata(path).map_err(|e| io(path, e))?.len() > 0;
        if existing {
            let reader = BufReader::new(File::open(path).map_err(|e| io(path, e))?);
            let lines: Vec<String> = reader
                .lines()
                .collect::<std::io::Result<_>>()
                .map_err(|e| io(path, e))?;
            let first: JournalHeader = serde_json::from_str(&lines[0]).map_err(|e| {
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
                        "{} was written for another run ({}) and cannot resume this one ({})",
                        path.display(),
                        describe(&first),
                        describe(header)
                    ),
                ));
            }
            let last = lines.len() - 1;
            for (i, line) in lines.iter().enumerate().skip(1) {
                match serde_json::from_str::<JournalRound>(line) {
                    Ok(r) => rounds.push(r),
                    // A torn last line (a crash while writing it) lost only that round's answers,
                    // which were never used: it is cut off and the round is asked again.
                    Err(_) if i == last => {
                        let kept = lines[..last].join("\n") + "\n";
                        std::fs::write(path, kept).map_err(|e| io(path, e))?;
                    }
                    Err(e) => {
                        return Err(invalid(
                            "journal",
                            format!("{}: line {}: {e}", path.display(), i + 1),
                        ));
                    }
                }
            }
        }
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| io(path, e))?;
        if !existing {
            let line =
                serde_json::to_string(header).map_err(|e| invalid("journal", e.to_string()))?;
            writeln!(file, "{line}").map_err(|e| io(path, e))?;
            file.sync_all().map_err(|e| io(path, e))?;
        }
        Ok(Journal {
            path: path.to_path_buf(),
            file,
            rounds,
        })
    }

    /// Appends a round and fsyncs it before returning.
    pub fn append(&mut self, round: &JournalRound) -> Result<()> {
        let line = serde_json::to_string(round).map_err(|e| invalid("journal", e.to_string()))?;
        writeln!(self.file, "{line}").map_err(|e| io(&self.path, e))?;
        self.file.sync_all().map_err(|e| io(&self.path, e))
    }
}

fn describe(h: &JournalHeader) -> String {
    format!(
        "dataset {} ({} rows), model {}, seed {}, k {}, budget {}, pretrain {}, active steps {}, training {}",
        h.dataset,
        h.rows,
        h.model,
        h.seed,
        h.k,
        h.budget,
        h.pretrain_steps,
        h.active_steps,
        if h.training.is_empty() {
            "not recorded"
        } else {
            &h.training
        }
    )
}
