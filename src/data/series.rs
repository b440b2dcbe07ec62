//! Time series: one or more value columns of a CSV file (a header row; one point a line) with
//! an optional label column, cut into sliding windows that detectors take as rows.
//!
//! - [`Series::from_csv`] reads the columns; a value that is missing or not a finite number,
//!   or a label that is neither the anomaly value nor the normal one, is an error naming its
//!   line and column.
//! - [`Series::scaling`] fits a min-max scaling per column on the training points only (new
//!   points may fall outside [0, 1]).
//! - [`Series::windows`] cuts points `range` into windows of `size` points every `stride`
//!   points (a last window ending at the range's end is added when the stride does not reach
//!   it, so every point is covered when `stride <= size`). A window is a row of `size x
//!   columns` values, step by step; it is anomalous when any of its points is.
//! - [`Windows::point_scores`] gives each point the mean score of the windows covering it.

use std::ops::Range;
use std::path::Path;

use super::{DataError, Dataset, Schema};

/// What to read from a series file.
#[derive(Clone, Debug, Default)]
pub struct SeriesOptions {
    /// The value columns (at least one), by header name.
    pub values: Vec<String>,
    /// The label column: 0 / 1, or the `anomaly_label` value against anything else.
    pub label: Option<String>,
    pub anomaly_label: Option<String>,
    /// The field separator (default `,`).
    pub delimiter: Option<u8>,
}

/// A multivariate series: `points` points of `columns.len()` values.
#[derive(Clone, Debug)]
pub struct Series {
    pub name: String,
    pub columns: Vec<String>,
    pub points: usize,
    /// Point-major raw values (`points x columns`).
    pub values: Vec<f32>,
    /// 1 where a point is anomalous.
    pub labels: Option<Vec<u8>>,
}

/// Window size and stride, in points.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Windowing {
    pub size: usize,
    pub stride: usize,
}

/// A series' windows as a dataset (one row a window), with where each starts.
#[derive(Clone, Debug)]
pub struct Windows {
    pub data: Dataset,
    /// Each window's first point (in the series' numbering).
    pub starts: Vec<usize>,
    pub size: usize,
    /// The points the windows were cut from.
    pub range: Range<usize>,
}

/// A label written as 0 or 1 (`1.0` too), else None.
fn zero_one(v: &str) -> Option<u8> {
    match v.parse::<f64>() {
        Ok(x) if x == 0.0 || x == 1.0 => Some(x as u8),
        _ => None,
    }
}

fn err(path: &str, detail: String) -> DataError {
    DataError::Format {
        path: path.to_string(),
        detail,
    }
}

impl Series {
    /// Reads `opts`' columns of the CSV file at `path`.
    pub fn from_csv(path: impl AsRef<Path>, opts: &SeriesOptions) -> Result<Series, DataError> {
        let path = path.as_ref();
        Series::from_bytes(
            &super::csv::read_file(path)?,
            &path.display().to_string(),
            opts,
        )
    }

    /// [`Series::from_csv`] of a file's bytes; `path` names it in errors, its stem names the
    /// series.
    pub fn from_bytes(bytes: &[u8], path: &str, opts: &SeriesOptions) -> Result<Series, DataError> {
        if bytes.iter().all(|b| b.is_ascii_whitespace()) {
            return Err(DataError::Empty { path: path.into() });
        }
        if opts.values.is_empty() {
            return Err(err(path, "name at least one value column".into()));
        }
        let mut reader = ::csv::ReaderBuilder::new()
            .has_headers(true)
            .delimiter(opts.delimiter.unwrap_or(b','))
            .from_reader(bytes);
        let parse = |line: u64, e: ::csv::Error| DataError::Parse {
            path: path.into(),
            line,
            detail: e.to_string(),
        };
        let header: Vec<String> = reader
            .headers()
            .map_err(|e| parse(1, e))?
            .iter()
            .map(|h| h.trim().to_string())
            .collect();
        let find = |name: &str, what: &str| {
            header.iter().position(|h| h == name).ok_or_else(|| {
                err(
                    path,
                    format!("no {what} column {name:?} (columns: {})", header.join(", ")),
                )
            })
        };
        let cols: Vec<usize> = opts
            .values
            .iter()
            .map(|c| find(c, "value"))
            .collect::<Result<_, _>>()?;
        let label = opts
            .label
            .as_deref()
            .map(|c| find(c, "label"))
            .transpose()?;
        let anomaly = opts.anomaly_label.as_deref();
        let (mut values, mut labels) = (Vec::new(), Vec::new());
        let mut record = ::csv::StringRecord::new();
        loop {
            let line = reader.position().line();
            match reader.read_record(&mut record) {
                Ok(false) => break,
                Ok(true) => {}
                Err(e) => return Err(parse(line, e)),
            }
            let line = record.position().map_or(line, |p| p.line());
            let field = |j: usize| record.get(j).map(str::trim).unwrap_or("");
            let bad = |j: usize, detail: String| DataError::Value {
                path: path.into(),
                line,
                column: header[j].clone(),
                detail,
            };
            for &j in &cols {
                let v = field(j);
                let x = v.parse::<f32>().ok().filter(|x| x.is_finite());
                values.push(x.ok_or_else(|| {
                    bad(
                        j,
                        if v.is_empty() {
                            "the value is missing".into()
                        } else {
                            format!("{v:?} is not a finite number")
                        },
                    )
                })?);
            }
            if let Some(j) = label {
                let v = field(j);
                labels.push(match anomaly {
                    Some(a) => u8::from(v == a),
                    None => match zero_one(v) {
                        Some(l) => l,
                        None => {
                            return Err(bad(
                                j,
                                format!(
                                    "label {v:?} is neither 0 nor 1 (name the anomaly value \
                                     with --anomaly-label)"
                                ),
                            ));
                        }
                    },
                });
            }
        }
        let points = values.len() / cols.len();
        if points == 0 {
            return Err(DataError::Empty { path: path.into() });
        }
        Ok(Series {
            name: super::csv::file_name(Path::new(path)),
            columns: opts.values.clone(),
            points,
            values,
            labels: label.map(|_| labels),
        })
    }

    /// One label a point from a file of one a line (0 or 1; a first line that is neither is a
    /// header), for [`Series::with_labels`].
    pub fn labels_from_file(path: impl AsRef<Path>) -> Result<Vec<u8>, DataError> {
        let path = path.as_ref();
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| DataError::Io {
            path: name.clone(),
            source,
        })?;
        let mut labels = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let v = line.trim();
            match zero_one(v) {
                Some(l) => labels.push(l),
                None if i == 0 || v.is_empty() => {}
                None => {
                    return Err(DataError::Parse {
                        path: name,
                        line: i as u64 + 1,
                        detail: format!("label {v:?} is neither 0 nor 1"),
                    });
                }
            }
        }
        if labels.is_empty() {
            return Err(DataError::Empty { path: name });
        }
        Ok(labels)
    }

    /// The series with `labels` (one a point), refused when their number is not the points'.
    pub fn with_labels(mut self, labels: Vec<u8>) -> Result<Series, DataError> {
        if labels.len() != self.points {
            return Err(err(
                &self.name,
                format!(
                    "{} labels for a series of {} points",
                    labels.len(),
                    self.points
                ),
            ));
        }
        self.labels = Some(labels);
        Ok(self)
    }

    /// The series `after` continues (the same columns): a training series and its test
    /// series as one, the test's points from `self.points` on.
    pub fn then(mut self, after: &Series) -> Result<Series, DataError> {
        if after.columns.len() != self.columns.len() {
            return Err(err(
                &after.name,
                format!(
                    "{} value columns after a series of {}",
                    after.columns.len(),
                    self.columns.len()
                ),
            ));
        }
        self.labels = match (self.labels.take(), &after.labels) {
            (None, None) => None,
            (a, b) => {
                let mut l = a.unwrap_or_else(|| vec![0; self.points]);
                l.extend(b.clone().unwrap_or_else(|| vec![0; after.points]));
                Some(l)
            }
        };
        self.values.extend_from_slice(&after.values);
        self.points += after.points;
        Ok(self)
    }

    /// Each column's min-max scaling fitted on points `train` (a constant column maps to 0).
    pub fn scaling(&self, train: Range<usize>) -> Result<Schema, DataError> {
        if train.is_empty() || train.end > self.points {
            return Err(err(
                &self.name,
                format!(
                    "training points {}..{} of a series of {}",
                    train.start, train.end, self.points
                ),
            ));
        }
        let c = self.columns.len();
        let mut part = self.values[train.start * c..train.end * c].to_vec();
        let ranges = super::min_max_scale(&mut part, c);
        Ok(Schema::numeric(self.columns.iter().cloned(), &ranges))
    }

    /// Points `range` cut into windows (see the module documentation), scaled by `scaling`.
    /// A window or stride of 0 and a range shorter than one window are refused.
    pub fn windows(
        &self,
        range: Range<usize>,
        w: Windowing,
        scaling: &Schema,
    ) -> Result<Windows, DataError> {
        let c = self.columns.len();
        if w.size == 0 || w.stride == 0 {
            return Err(err(
                &self.name,
                format!(
                    "a window of {} points every {} points: both must be at least 1",
                    w.size, w.stride
                ),
            ));
        }
        if range.end > self.points || range.len() < w.size {
            return Err(err(
                &self.name,
                format!(
                    "points {}..{} ({} of them) are fewer than one window of {}",
                    range.start,
                    range.end,
                    range.len(),
                    w.size
                ),
            ));
        }
        if scaling.len() != c {
            return Err(err(
                &self.name,
                format!("a scaling of {} columns for {c}", scaling.len()),
            ));
        }
        let mut starts: Vec<usize> = (range.start..=range.end - w.size)
            .step_by(w.stride)
            .collect();
        let last = range.end - w.size;
        if w.stride <= w.size && starts.last() != Some(&last) {
            starts.push(last);
        }
        let mut x = Vec::with_capacity(starts.len() * w.size * c);
        for &s in &starts {
            let mut part = self.values[s * c..(s + w.size) * c].to_vec();
            scaling.scale(&mut part);
            x.extend(part);
        }
        let anomaly = self.labels.as_ref().map(|l| {
            starts
                .iter()
                .map(|&s| u8::from(l[s..s + w.size].contains(&1)))
                .collect()
        });
        let names =
            (0..w.size).flat_map(|t| self.columns.iter().map(move |col| format!("{col}@{t}")));
        let ranges: Vec<(f32, f32)> = (0..w.size * c).map(|_| (0.0, 1.0)).collect();
        Ok(Windows {
            data: Dataset {
                name: format!("{} windows", self.name),
                rows: starts.len(),
                cols: w.size * c,
                x,
                anomaly,
                class: None,
                schema: Schema::numeric(names, &ranges),
                origin: None,
            },
            starts,
            size: w.size,
            range,
        })
    }
}

impl Windowing {
    /// A note when the stride skips points (allowed: those points get no score).
    pub fn note(&self) -> Option<String> {
        (self.stride > self.size).then(|| {
            format!(
                "a stride of {} is longer than the window of {}: {} points between windows get \
                 no score",
                self.stride,
                self.size,
                self.stride - self.size
            )
        })
    }
}

impl Windows {
    /// Each point of the range's mean score over the windows covering it (NaN where none
    /// does); `scores` one a window.
    pub fn point_scores(&self, scores: &[f32]) -> Result<Vec<f32>, DataError> {
        if scores.len() != self.starts.len() {
            return Err(err(
                &self.data.name,
                format!("{} scores for {} windows", scores.len(), self.starts.len()),
            ));
        }
        let n = self.range.len();
        let (mut sum, mut count) = (vec![0f64; n], vec![0u32; n]);
        for (&s, &v) in self.starts.iter().zip(scores) {
            for p in s - self.range.start..s - self.range.start + self.size {
                sum[p] += f64::from(v);
                count[p] += 1;
            }
        }
        Ok(sum
            .iter()
            .zip(&count)
            .map(|(&s, &k)| {
                if k == 0 {
                    f32::NAN
                } else {
                    (s / f64::from(k)) as f32
                }
            })
            .collect())
    }
}
