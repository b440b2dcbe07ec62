//! Datasets by name, as the commands take them: a built-in one (the UAI paper's X_0, X_0-2 and
//! X_hard on the shipped digits or on Fashion-MNIST; X_hard trains a weak classifier on the
//! GPU) or a CSV file, optionally cut to a random subset of rows.

use std::path::PathBuf;

use crate::data::{CsvOptions, Dataset, base_dataset, named_from};
use crate::error::Result;
use crate::gpu::Gpu;
use crate::models::construct_hard;

/// The built-in datasets.
pub const NAMES: [&str; 6] = [
    "digits0",
    "digits02",
    "digitshard",
    "fmnist0",
    "fmnist02",
    "fmnisthard",
];

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
            let base = cut(base_dataset(name)?);
            let mut d = if name == "digitshard" || name == "fmnisthard" {
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
