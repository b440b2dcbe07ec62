//! CSV loading: a header row; numeric columns as they are, non-numeric columns one-hot
//! encoded; every feature min-max scaled to [0, 1] (the ranges kept in the dataset's schema, so
//! new data can be read the same way with `from_csv_with_schema`); an optional binary label column naming
//! which value marks an anomaly, and an optional categorical class column. Every bad value is
//! an error that names the line and the column.

use std::collections::BTreeSet;
use std::path::Path;

use super::{ClassColumn, DataError, Dataset, Feature, Schema, min_max_scale};

/// What to read from a CSV file.
#[derive(Clone, Debug, Default)]
pub struct CsvOptions {
    /// The column holding normal / anomaly labels (kept out of the features).
    pub label: Option<String>,
    /// The label value that marks an anomaly; required with `label` unless the values are 0/1.
    pub anomaly_label: Option<String>,
    /// A categorical column kept as the class (and out of the features).
    pub class: Option<String>,
    /// The field separator (default `,`).
    pub delimiter: Option<u8>,
    /// Values that mark a missing value (`?`, `NA`, ...); when any are given, an empty field
    /// is missing too. A numeric feature's missing values are filled with the mean of its
    /// present values (kept in the schema, so scoring fills the same way); a categorical
    /// feature's give 0 in each of its one-hot features. Without markers a missing value is an
    /// error naming its line.
    pub missing: Vec<String>,
}

impl CsvOptions {
    pub fn label(mut self, col: &str) -> Self {
        self.label = Some(col.to_string());
        self
    }
    pub fn anomaly_label(mut self, value: &str) -> Self {
        self.anomaly_label = Some(value.to_string());
        self
    }
    pub fn class(mut self, col: &str) -> Self {
        self.class = Some(col.to_string());
        self
    }
    pub fn delimiter(mut self, d: u8) -> Self {
        self.delimiter = Some(d);
        self
    }
    pub fn missing(mut self, markers: &[&str]) -> Self {
        self.missing = markers.iter().map(|m| m.to_string()).collect();
        self
    }
}

/// What one field holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cell {
    /// Empty (with markers given) or a marker.
    Missing,
    /// Anything Rust reads as an f64: NaN and infinities too, which `number` then refuses.
    Number,
    Text,
}

/// A CSV file's header and cells, column by column (trimmed).
struct Table {
    path: String,
    header: Vec<String>,
    cells: Vec<Vec<String>>,
    rows: usize,
    /// The missing-value markers ([`CsvOptions::missing`]).
    missing: Vec<String>,
}

/// How many of a column's odd values an error lists.
const SHOWN: usize = 5;

impl Table {
    fn read(bytes: &[u8], path: &str, opts: &CsvOptions) -> Result<Table, DataError> {
        let p = path.to_string();
        if bytes.iter().all(|b| b.is_ascii_whitespace()) {
            return Err(DataError::Empty { path: p });
        }
        let mut reader = ::csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(true)
            .delimiter(opts.delimiter.unwrap_or(b','))
            .from_reader(bytes);
        let header: Vec<String> = reader
            .headers()
            .map_err(|e| DataError::Parse {
                path: p.clone(),
                line: 1,
                detail: e.to_string(),
            })?
            .iter()
            .map(|h| h.trim().to_string())
            .collect();
        check_header(&header, &p, opts.delimiter)?;
        let mut cells: Vec<Vec<String>> = vec![Vec::new(); header.len()];
        for (i, rec) in reader.records().enumerate() {
            let line = i as u64 + 2;
            let rec = rec.map_err(|e| DataError::Parse {
                path: p.clone(),
                line,
                detail: e.to_string(),
            })?;
            if rec.len() == 1 && rec.get(0).is_some_and(|s| s.trim().is_empty()) {
                continue;
            }
            if rec.len() != header.len() {
                return Err(DataError::Parse {
                    path: p.clone(),
                    line,
                    detail: format!("{} fields, the header has {}", rec.len(), header.len()),
                });
            }
            for (j, v) in rec.iter().enumerate() {
                cells[j].push(v.trim().to_string());
            }
        }
        let rows = cells.first().map_or(0, Vec::len);
        if rows == 0 {
            return Err(DataError::Empty { path: p });
        }
        Ok(Table {
            path: p,
            header,
            cells,
            rows,
            missing: opts.missing.clone(),
        })
    }

    fn cell(&self, j: usize, r: usize) -> Cell {
        let s = &self.cells[j][r];
        if !self.missing.is_empty() && (s.is_empty() || self.missing.contains(s)) {
            Cell::Missing
        } else if s.parse::<f64>().is_ok() {
            Cell::Number
        } else {
            Cell::Text
        }
    }

    /// The index of the column `col` names, if one is named; `what` says what it is for.
    fn find(&self, col: Option<&str>, what: &str) -> Result<Option<usize>, DataError> {
        let Some(c) = col else { return Ok(None) };
        match self.header.iter().position(|h| h == c) {
            Some(j) => Ok(Some(j)),
            None => Err(DataError::Format {
                path: self.path.clone(),
                detail: format!(
                    "no {what} column {c:?}; the header has {}",
                    self.header.join(", ")
                ),
            }),
        }
    }

    fn value_err(&self, j: usize, r: usize, detail: String) -> DataError {
        DataError::Value {
            path: self.path.clone(),
            line: r as u64 + 2,
            column: self.header[j].clone(),
            detail,
        }
    }

    /// Whether column `j` is numeric, judged on every row: numeric when no field is text
    /// (numbers, NaN, infinities, missing values), categorical when more are text than
    /// numbers. A column of
    /// numbers but for a few text values is an error listing them: a missing-value marker
    /// (`?`, `NA`) read as a category would silently turn the column into one-hot features.
    fn column_is_numeric(&self, j: usize) -> Result<bool, DataError> {
        let (mut numbers, mut text) = (0usize, Vec::new());
        for r in 0..self.rows {
            match self.cell(j, r) {
                Cell::Number => numbers += 1,
                Cell::Text => text.push(r),
                Cell::Missing => {}
            }
        }
        if text.is_empty() {
            return Ok(true);
        }
        if numbers < text.len() {
            return Ok(false);
        }
        if let [r] = text[..] {
            let v = &self.cells[j][r];
            return Err(self.value_err(
                j,
                r,
                format!(
                    "{v:?} is not a number (the column's other values are); if it marks a \
                     missing value, name it with --missing {v} (then filled with the column's \
                     mean), else correct it"
                ),
            ));
        }
        let mut values: Vec<&str> = text.iter().map(|&r| self.cells[j][r].as_str()).collect();
        values.sort_unstable();
        values.dedup();
        let shown: Vec<String> = text
            .iter()
            .take(SHOWN)
            .map(|&r| format!("{:?} (line {})", self.cells[j][r], r + 2))
            .collect();
        Err(DataError::Format {
            path: self.path.clone(),
            detail: format!(
                "column {:?} holds numbers but for {} text value{}: {}{}; if {} mark{} missing \
                 values, name {} with --missing {} (they are then filled with the column's mean), \
                 else correct the file",
                self.header[j],
                text.len(),
                if text.len() == 1 { "" } else { "s" },
                shown.join(", "),
                if text.len() > SHOWN { ", ..." } else { "" },
                if values.len() == 1 { "it" } else { "they" },
                if values.len() == 1 { "s" } else { "" },
                if values.len() == 1 { "it" } else { "them" },
                values
                    .iter()
                    .take(SHOWN)
                    .copied()
                    .collect::<Vec<_>>()
                    .join(","),
            ),
        })
    }

    /// The number in row `r` of column `j`, or an error naming the line and column: a missing
    /// value, NaN, an infinity, or a value past the f32 range (which the GPU would hold as an
    /// infinity) are all refused.
    fn number(&self, j: usize, r: usize) -> Result<f64, DataError> {
        let s = &self.cells[j][r];
        let err = |detail: String| Err(self.value_err(j, r, detail));
        match s.parse::<f64>() {
            Ok(x) if x.is_nan() || (x.is_infinite() && s.to_ascii_lowercase().contains("inf")) => {
                err(format!(
                    "{s:?} is not finite (NaN and infinities are refused)"
                ))
            }
            Ok(x) if x.is_infinite() || x.abs() > f64::from(f32::MAX) => err(format!(
                "{s:?} is outside the f32 range (magnitudes up to 3.4e38); rescale the column"
            )),
            Ok(x) => Ok(x),
            Err(_) if s.is_empty() => err(
                "missing value (name the file's missing-value markers with --missing to fill \
                 them with the column's mean)"
                    .into(),
            ),
            Err(_) => err(format!("{s:?} is not a number (the column is numeric)")),
        }
    }

    /// The mean of column `j`'s present values, for its missing ones; None when none is
    /// missing. A column with no value at all is an error.
    fn fill(&self, j: usize) -> Result<Option<f32>, DataError> {
        let mut present = Vec::new();
        for r in 0..self.rows {
            if self.cell(j, r) != Cell::Missing {
                present.push(self.number(j, r)?);
            }
        }
        if present.len() == self.rows {
            return Ok(None);
        }
        if present.is_empty() {
            return Err(DataError::Format {
                path: self.path.clone(),
                detail: format!(
                    "column {:?} holds no value, only missing ones",
                    self.header[j]
                ),
            });
        }
        Ok(Some(
            (present.iter().sum::<f64>() / present.len() as f64) as f32,
        ))
    }

    /// The anomaly labels of `opts.label`, if named.
    /// Each row's class: the index of its value in `class`'s categories; a value that is not
    /// one of them is an error naming its row.
    fn classes(&self, class: &ClassColumn) -> Result<Vec<u32>, DataError> {
        let j = self.find(Some(&class.column), "class")?.unwrap_or(0);
        (0..self.rows)
            .map(|r| {
                let v = &self.cells[j][r];
                class
                    .values
                    .iter()
                    .position(|c| c == v)
                    .map(|i| i as u32)
                    .ok_or_else(|| {
                        self.value_err(
                            j,
                            r,
                            format!(
                                "class {v:?} is none of the {} the model knows",
                                class.values.len()
                            ),
                        )
                    })
            })
            .collect()
    }

    fn labels(&self, opts: &CsvOptions) -> Result<Option<Vec<u8>>, DataError> {
        match self.find(opts.label.as_deref(), "label")? {
            None => Ok(None),
            Some(j) => binary_labels(
                &self.cells[j],
                &self.header[j],
                opts.anomaly_label.as_deref(),
                &self.path,
            )
            .map(Some),
        }
    }

    /// Row-major raw values of `features` (a one-hot feature is 1 where the column holds its
    /// category, else 0; a missing value is the feature's fill, or 0 in each one-hot feature),
    /// before scaling.
    fn raw(&self, features: &[Feature], index: &[usize]) -> Result<Vec<f32>, DataError> {
        let cols = features.len();
        let mut x = vec![0f32; self.rows * cols];
        for (k, (f, &j)) in features.iter().zip(index).enumerate() {
            for r in 0..self.rows {
                x[r * cols + k] = match (&f.value, self.cell(j, r), f.fill) {
                    (Some(_), Cell::Missing, _) => 0.0,
                    (Some(v), _, _) => f32::from(u8::from(&self.cells[j][r] == v)),
                    (None, Cell::Missing, Some(fill)) => fill,
                    (None, Cell::Missing, None) => {
                        return Err(self.value_err(
                            j,
                            r,
                            "missing value, and the model's training data had none in this \
                             column (nothing to fill it with)"
                                .into(),
                        ));
                    }
                    (None, _, _) => self.number(j, r)? as f32,
                };
            }
        }
        Ok(x)
    }
}

/// The header's own faults: a name given twice (which column would a saved model read?), and
/// a header that is one field holding `;`, a tab or `|` while the delimiter was left at `,`
/// (a file separated by something else).
fn check_header(header: &[String], path: &str, delimiter: Option<u8>) -> Result<(), DataError> {
    for (i, h) in header.iter().enumerate() {
        if let Some(k) = header[i + 1..].iter().position(|o| o == h) {
            return Err(DataError::Format {
                path: path.into(),
                detail: format!(
                    "column {h:?} appears twice in the header (fields {} and {}); rename one",
                    i + 1,
                    i + k + 2
                ),
            });
        }
    }
    if let ([only], None) = (header, delimiter)
        && let Some(sep) = [';', '\t', '|'].into_iter().find(|&c| only.contains(c))
    {
        let shown = if sep == '\t' {
            "\\t".to_string()
        } else {
            sep.to_string()
        };
        return Err(DataError::Format {
            path: path.into(),
            detail: format!(
                "the header is one field, {only:?}, holding {sep:?}: if the file is separated \
                 by {sep:?}, give --delimiter '{shown}' (--delimiter ',' reads it as one column)"
            ),
        });
    }
    Ok(())
}

pub(super) fn file_name(path: &Path) -> String {
    path.file_stem()
        .map_or("csv".into(), |s| s.to_string_lossy().to_string())
}

pub(super) fn read_file(path: &Path) -> Result<Vec<u8>, DataError> {
    std::fs::read(path).map_err(|e| DataError::Io {
        path: path.display().to_string(),
        source: e,
    })
}

impl Dataset {
    /// Loads `path`; see the module documentation.
    pub fn from_csv(path: impl AsRef<Path>, opts: &CsvOptions) -> Result<Dataset, DataError> {
        let path = path.as_ref();
        let bytes = read_file(path)?;
        Dataset::from_csv_bytes(&bytes, &path.display().to_string(), &file_name(path), opts)
    }

    /// Loads CSV text already in memory; `path` names it in errors.
    pub fn from_csv_bytes(
        bytes: &[u8],
        path: &str,
        name: &str,
        opts: &CsvOptions,
    ) -> Result<Dataset, DataError> {
        let t = Table::read(bytes, path, opts)?;
        let label_col = t.find(opts.label.as_deref(), "label")?;
        let class_col = t.find(opts.class.as_deref(), "class")?;
        // Features: numeric columns as they are, one per category value for the others.
        let mut features = Vec::new();
        let mut index = Vec::new();
        for j in 0..t.header.len() {
            if Some(j) == label_col || Some(j) == class_col {
                continue;
            }
            let column = t.header[j].clone();
            if t.column_is_numeric(j)? {
                features.push(Feature {
                    column,
                    value: None,
                    lo: 0.0,
                    hi: 0.0,
                    fill: t.fill(j)?,
                });
                index.push(j);
                continue;
            }
            if t.missing.is_empty()
                && let Some(r) = t.cells[j].iter().position(String::is_empty)
            {
                return Err(t.value_err(
                    j,
                    r,
                    "missing value (name the file's missing-value markers with --missing)".into(),
                ));
            }
            let cats: BTreeSet<&String> = (0..t.rows)
                .filter(|&r| t.cell(j, r) != Cell::Missing)
                .map(|r| &t.cells[j][r])
                .collect();
            for cat in cats {
                features.push(Feature {
                    column: column.clone(),
                    value: Some(cat.clone()),
                    lo: 0.0,
                    hi: 0.0,
                    fill: None,
                });
                index.push(j);
            }
        }
        if features.is_empty() {
            return Err(DataError::Format {
                path: t.path,
                detail: "no feature columns besides the label / class".into(),
            });
        }
        let cols = features.len();
        let mut x = t.raw(&features, &index)?;
        for (f, (lo, hi)) in features.iter_mut().zip(min_max_scale(&mut x, cols)) {
            (f.lo, f.hi) = (lo, hi);
        }
        let anomaly = t.labels(opts)?;
        let class = class_col.map(|j| ClassColumn {
            column: t.header[j].clone(),
            values: t.cells[j]
                .iter()
                .collect::<BTreeSet<_>>()
                .into_iter()
                .cloned()
                .collect(),
        });
        Ok(Dataset {
            name: name.to_string(),
            rows: t.rows,
            cols,
            x,
            anomaly,
            class: class.as_ref().map(|c| t.classes(c)).transpose()?,
            schema: Schema { features, class },
            origin: None,
        })
    }

    /// Loads `path` encoded and scaled by `schema` (a trained model's), so its rows are the
    /// inputs the model was trained on. Every column the schema names must be present (others
    /// are ignored); a category not seen in training gives 0 in all of its one-hot features;
    /// values may fall outside [0, 1]. `opts.label` optionally names ground truth.
    pub fn from_csv_with_schema(
        path: impl AsRef<Path>,
        schema: &Schema,
        opts: &CsvOptions,
    ) -> Result<Dataset, DataError> {
        let path = path.as_ref();
        let bytes = read_file(path)?;
        Dataset::from_csv_bytes_with_schema(
            &bytes,
            &path.display().to_string(),
            &file_name(path),
            schema,
            opts,
        )
    }

    /// `from_csv_with_schema` on CSV text already in memory; `path` names it in errors.
    pub fn from_csv_bytes_with_schema(
        bytes: &[u8],
        path: &str,
        name: &str,
        schema: &Schema,
        opts: &CsvOptions,
    ) -> Result<Dataset, DataError> {
        if schema.is_empty() {
            return Err(DataError::Request(format!(
                "{path}: the schema has no features to read"
            )));
        }
        let t = Table::read(bytes, path, opts)?;
        let index = schema
            .features
            .iter()
            .map(|f| {
                t.find(Some(&f.column), "feature")
                    .map(|j| j.expect("a named column"))
            })
            .collect::<Result<Vec<usize>, DataError>>()?;
        let mut x = t.raw(&schema.features, &index)?;
        schema.scale(&mut x);
        // Each row's class where the schema has a class column and the file holds it.
        let class = match &schema.class {
            Some(c) if t.header.contains(&c.column) => Some(t.classes(c)?),
            _ => None,
        };
        Ok(Dataset {
            name: name.to_string(),
            rows: t.rows,
            cols: schema.len(),
            x,
            anomaly: t.labels(opts)?,
            class,
            schema: schema.clone(),
            origin: None,
        })
    }
}

/// 1 where the label is the anomaly value. The column must hold exactly two values.
fn binary_labels(
    col: &[String],
    name: &str,
    anomaly: Option<&str>,
    path: &str,
) -> Result<Vec<u8>, DataError> {
    let values: std::collections::BTreeSet<&str> = col.iter().map(String::as_str).collect();
    if values.len() != 2 {
        let shown: Vec<&str> = values.iter().take(6).copied().collect();
        return Err(DataError::Format {
            path: path.into(),
            detail: format!(
                "label column {name:?} must hold exactly two classes, found {}: {}{}",
                values.len(),
                shown.join(", "),
                if values.len() > 6 { ", ..." } else { "" }
            ),
        });
    }
    let anomaly = match anomaly {
        Some(a) => a,
        None if values.contains("0") && values.contains("1") => "1",
        None => {
            return Err(DataError::Format {
                path: path.into(),
                detail: format!(
                    "label column {name:?} holds {}; say which marks an anomaly (--anomaly-label)",
                    values.iter().copied().collect::<Vec<_>>().join(" and ")
                ),
            });
        }
    };
    if !values.contains(anomaly) {
        return Err(DataError::Format {
            path: path.into(),
            detail: format!(
                "anomaly label {anomaly:?} does not occur in column {name:?} (values: {})",
                values.iter().copied().collect::<Vec<_>>().join(", ")
            ),
        });
    }
    Ok(col.iter().map(|s| u8::from(s == anomaly)).collect())
}
