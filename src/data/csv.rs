//! CSV loading: a header row; numeric columns as they are, non-numeric columns one-hot
//! encoded; every feature min-max scaled to [0, 1]; an optional binary label column naming
//! which value marks an anomaly, and an optional categorical class column. Every bad value is
//! an error that names the line and the column.

use std::collections::BTreeMap;
use std::path::Path;

use super::{DataError, Dataset, min_max_scale};

/// What to read from a CSV file.
#[derive(Clone, Debug, Default)]
pub struct CsvOptions {
    /// The column holding normal / anomaly labels (kept out of the features).
    pub label: Option<String>,
    /// The label value that marks an anomaly; required with `label` unless the values are 0/1.
    pub anomaly_label: Option<String>,
    /// A categorical column kept as the class (and out of the features).
    pub class: Option<String>,
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
}

enum Column {
    Numeric(Vec<f64>),
    Categorical(Vec<String>),
}

fn parse_number(s: &str) -> Option<f64> {
    let t = s.trim();
    if t.is_empty() || t.eq_ignore_ascii_case("nan") || t.to_ascii_lowercase().contains("inf") {
        return None;
    }
    t.parse::<f64>().ok()
}

impl Dataset {
    /// Loads `path`; see the module documentation.
    pub fn from_csv(path: impl AsRef<Path>, opts: &CsvOptions) -> Result<Dataset, DataError> {
        let path_ref = path.as_ref();
        let p = path_ref.display().to_string();
        let bytes = std::fs::read(path_ref).map_err(|e| DataError::Io {
            path: p.clone(),
            source: e,
        })?;
        let name = path_ref
            .file_stem()
            .map_or("csv".into(), |s| s.to_string_lossy().to_string());
        Dataset::from_csv_bytes(&bytes, &p, &name, opts)
    }

    /// Loads CSV text already in memory; `path` names it in errors.
    pub fn from_csv_bytes(
        bytes: &[u8],
        path: &str,
        name: &str,
        opts: &CsvOptions,
    ) -> Result<Dataset, DataError> {
        let p = path.to_string();
        if bytes.iter().all(|b| b.is_ascii_whitespace()) {
            return Err(DataError::Empty { path: p });
        }
        let mut reader = ::csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(true)
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
        let find =
            |col: &Option<String>, what: &str| -> Result<Option<usize>, DataError> {
                match col {
                    None => Ok(None),
                    Some(c) => header.iter().position(|h| h == c).map(Some).ok_or_else(|| {
                        DataError::Format {
                            path: p.clone(),
                            detail: format!(
                                "no {what} column {c:?}; the header has {}",
                                header.join(", ")
                            ),
                        }
                    }),
                }
            };
        let label_col = find(&opts.label, "label")?;
        let class_col = find(&opts.class, "class")?;
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
        let value_err = |j: usize, r: usize, detail: String| DataError::Value {
            path: p.clone(),
            line: r as u64 + 2,
            column: header[j].clone(),
            detail,
        };

        // Columns: numeric when the first value is a number, then every value must be one.
        let mut columns = Vec::with_capacity(header.len());
        for (j, col) in cells.iter().enumerate() {
            if Some(j) == label_col || Some(j) == class_col {
                columns.push(Column::Categorical(col.clone()));
                continue;
            }
            let first = &col[0];
            let looks_numeric = parse_number(first).is_some()
                || first.eq_ignore_ascii_case("nan")
                || first.to_ascii_lowercase().contains("inf")
                || first.is_empty();
            if looks_numeric {
                let mut v = Vec::with_capacity(rows);
                for (r, s) in col.iter().enumerate() {
                    match parse_number(s) {
                        Some(x) => v.push(x),
                        None if s.is_empty() => {
                            return Err(value_err(j, r, "missing value".into()));
                        }
                        None if s.parse::<f64>().is_ok() => {
                            return Err(value_err(
                                j,
                                r,
                                format!("{s:?} is not finite (NaN and infinities are refused)"),
                            ));
                        }
                        None => {
                            return Err(value_err(
                                j,
                                r,
                                format!(
                                    "{s:?} is not a number (the column's first value is numeric)"
                                ),
                            ));
                        }
                    }
                }
                columns.push(Column::Numeric(v));
            } else {
                if let Some(r) = col.iter().position(String::is_empty) {
                    return Err(value_err(j, r, "missing value".into()));
                }
                columns.push(Column::Categorical(col.clone()));
            }
        }

        // Features: numeric columns, then one column per category value.
        let mut feature_names = Vec::new();
        let mut feats: Vec<Vec<f32>> = Vec::new();
        for (j, c) in columns.iter().enumerate() {
            if Some(j) == label_col || Some(j) == class_col {
                continue;
            }
            match c {
                Column::Numeric(v) => {
                    feature_names.push(header[j].clone());
                    feats.push(v.iter().map(|&x| x as f32).collect());
                }
                Column::Categorical(v) => {
                    let cats: BTreeMap<&str, usize> = v
                        .iter()
                        .map(String::as_str)
                        .collect::<std::collections::BTreeSet<_>>()
                        .into_iter()
                        .enumerate()
                        .map(|(i, s)| (s, i))
                        .collect();
                    for (cat, k) in &cats {
                        feature_names.push(format!("{}={cat}", header[j]));
                        feats.push(
                            v.iter()
                                .map(|s| f32::from(u8::from(cats[s.as_str()] == *k)))
                                .collect(),
                        );
                    }
                }
            }
        }
        if feats.is_empty() {
            return Err(DataError::Format {
                path: p,
                detail: "no feature columns besides the label / class".into(),
            });
        }
        let cols = feats.len();
        let mut x = vec![0f32; rows * cols];
        for (j, f) in feats.iter().enumerate() {
            for (r, v) in f.iter().enumerate() {
                x[r * cols + j] = *v;
            }
        }
        min_max_scale(&mut x, cols);

        let anomaly = match label_col {
            None => None,
            Some(j) => Some(binary_labels(
                &cells[j],
                &header[j],
                opts.anomaly_label.as_deref(),
                &p,
            )?),
        };
        let class = class_col.map(|j| {
            let cats: Vec<&str> = cells[j]
                .iter()
                .map(String::as_str)
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect();
            cells[j]
                .iter()
                .map(|s| cats.iter().position(|c| c == s).unwrap_or(0) as u32)
                .collect()
        });
        Ok(Dataset {
            name: name.to_string(),
            rows,
            cols,
            x,
            anomaly,
            class,
            feature_names,
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
