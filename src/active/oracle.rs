//! Oracles answer a query: the ground truth (a label column), a person at the terminal, or a
//! file that another labelling tool writes.

use std::io::{BufRead, Write};
use std::path::PathBuf;

use super::{Answer, Query};
use crate::data::{DataError, Dataset};
use crate::error::{Result, invalid};

/// What an oracle said about a query: answers for some or all of its rows, and whether the
/// person asked to stop (the answers given before stopping are still recorded).
#[derive(Clone, Debug, PartialEq)]
pub struct Audit {
    pub answers: Vec<(u32, Answer)>,
    pub stop: bool,
}

impl Audit {
    fn all(answers: Vec<(u32, Answer)>) -> Audit {
        Audit {
            answers,
            stop: false,
        }
    }
}

/// Answers the rows of a query.
pub trait Oracle {
    fn audit(&mut self, data: &Dataset, query: &Query) -> Result<Audit>;
}

/// Answers from the dataset's ground truth.
pub struct GroundTruth;

impl Oracle for GroundTruth {
    fn audit(&mut self, data: &Dataset, query: &Query) -> Result<Audit> {
        let truth = data.anomaly.as_ref().ok_or_else(|| {
            invalid(
                "oracle",
                format!("{} has no ground-truth labels", data.name),
            )
        })?;
        Ok(Audit::all(
            query
                .rows
                .iter()
                .map(|&(r, _)| {
                    (
                        r,
                        if truth[r as usize] == 1 {
                            Answer::Anomaly
                        } else {
                            Answer::Normal
                        },
                    )
                })
                .collect(),
        ))
    }
}

/// Answers read from a CSV file of `row,answer` lines (answer: 1 / anomaly, 0 / normal,
/// skip), re-read at every query. Rows it has no answer for are an error that names them.
pub struct FileOracle {
    pub path: PathBuf,
}

impl FileOracle {
    fn read(&self) -> Result<std::collections::HashMap<u32, Answer>> {
        let p = self.path.display().to_string();
        let bytes = std::fs::read(&self.path).map_err(|e| DataError::Io {
            path: p.clone(),
            source: e,
        })?;
        let mut out = std::collections::HashMap::new();
        for (i, line) in bytes.split(|&b| b == b'\n').enumerate() {
            let line = std::str::from_utf8(line)
                .map_err(|e| DataError::Parse {
                    path: p.clone(),
                    line: i as u64 + 1,
                    detail: format!("not UTF-8 text ({e})"),
                })?
                .trim();
            if line.is_empty()
                || line.starts_with('#')
                || (i == 0 && line.to_lowercase().starts_with("row"))
            {
                continue;
            }
            let bad = |detail: String| DataError::Parse {
                path: p.clone(),
                line: i as u64 + 1,
                detail,
            };
            let (row, ans) = line
                .split_once(',')
                .ok_or_else(|| bad(format!("{line:?} is not `row,answer`")))?;
            let row: u32 = row
                .trim()
                .parse()
                .map_err(|_| bad(format!("{:?} is not a row number", row.trim())))?;
            let ans = Answer::parse(ans.trim()).ok_or_else(|| {
                bad(format!(
                    "{:?} is not anomaly / normal / skip (or 1 / 0)",
                    ans.trim()
                ))
            })?;
            out.insert(row, ans);
        }
        Ok(out)
    }
}

impl Oracle for FileOracle {
    /// Rows are looked up by their number in the data's source file ([`Dataset::source_row`]:
    /// with `--max-rows`, the file's row, not the subsample's).
    fn audit(&mut self, data: &Dataset, query: &Query) -> Result<Audit> {
        let answers = self.read()?;
        let missing: Vec<String> = query
            .rows
            .iter()
            .map(|&(r, _)| data.source_row(r))
            .filter(|r| !answers.contains_key(r))
            .map(|r| r.to_string())
            .collect();
        if !missing.is_empty() {
            return Err(invalid(
                "answers",
                format!(
                    "{} has no answer for rows {}; add `row,anomaly|normal|skip` lines and run again with the same --journal to resume",
                    self.path.display(),
                    missing.join(", ")
                ),
            ));
        }
        Ok(Audit::all(
            query
                .rows
                .iter()
                .map(|&(r, _)| (r, answers[&data.source_row(r)]))
                .collect(),
        ))
    }
}

/// A person at the terminal: each candidate is shown (as a small image when its features form
/// a square, else as feature values) and answered a (anomaly), n (normal), s (skip) or q (quit).
pub struct Interactive<R: BufRead, W: Write> {
    pub input: R,
    pub output: W,
}

/// A square image of values in [0, 1] as text.
pub fn render(values: &[f32]) -> Option<String> {
    let side = (values.len() as f64).sqrt().round() as usize;
    if side < 2 || side * side != values.len() {
        return None;
    }
    let shades: Vec<char> = " .:-=+*#%@".chars().collect();
    let mut s = String::new();
    for row in values.chunks(side) {
        for &v in row {
            let i = ((v.clamp(0.0, 1.0) * (shades.len() - 1) as f32).round()) as usize;
            s.push(shades[i]);
            s.push(shades[i]);
        }
        s.push('\n');
    }
    Some(s)
}

impl<R: BufRead, W: Write> Oracle for Interactive<R, W> {
    fn audit(&mut self, data: &Dataset, query: &Query) -> Result<Audit> {
        let io = |e: std::io::Error| invalid("terminal", e.to_string());
        let mut out = Vec::with_capacity(query.rows.len());
        for (n, &(row, score)) in query.rows.iter().enumerate() {
            let x = data.row(row as usize);
            writeln!(
                self.output,
                "\nround {}, candidate {} of {}: row {}, score {score:.4}",
                query.round + 1,
                n + 1,
                query.rows.len(),
                data.source_row(row)
            )
            .map_err(io)?;
            match render(x) {
                Some(img) => write!(self.output, "{img}").map_err(io)?,
                None => {
                    let shown: Vec<String> = data
                        .feature_names()
                        .iter()
                        .zip(x)
                        .take(24)
                        .map(|(f, v)| format!("{f}={v:.3}"))
                        .collect();
                    writeln!(
                        self.output,
                        "{}{}",
                        shown.join("  "),
                        if x.len() > 24 { "  ..." } else { "" }
                    )
                    .map_err(io)?;
                }
            }
            loop {
                write!(self.output, "anomaly (a), normal (n), skip (s), quit (q)? ").map_err(io)?;
                self.output.flush().map_err(io)?;
                let mut line = String::new();
                let ended = self.input.read_line(&mut line).map_err(io)? == 0;
                match line.trim().to_lowercase().as_str() {
                    _ if ended => {
                        return Ok(Audit {
                            answers: out,
                            stop: true,
                        });
                    }
                    "q" | "quit" => {
                        return Ok(Audit {
                            answers: out,
                            stop: true,
                        });
                    }
                    other => {
                        if let Some(a) = Answer::parse(other) {
                            out.push((row, a));
                            break;
                        }
                    }
                }
            }
        }
        Ok(Audit::all(out))
    }
}
