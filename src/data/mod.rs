//! Datasets: CSV and IDX loading, min-max scaling and one-hot encoding (kept in a schema), the
//! built-in 8x8 digits, the UAI paper's constructions (X_0, X_0-2; X_hard, which trains a
//! classifier, is `models::construct_hard`), and generators for benchmarks.

pub mod abc;
mod builtin;
pub mod classes;
mod csv;
mod idx;
mod schema;
pub mod series;
mod synthetic;
pub mod wheels;

pub use builtin::{
    FASHION_MNIST_DIR, base_dataset, construct_anomalies, digits, fashion_mnist,
    fashion_mnist_test, named, named_from,
};
pub use csv::CsvOptions;
pub use idx::{IdxArray, parse_idx, read_idx};
pub use schema::{ClassColumn, Feature, Schema, min_max_scale};
pub use synthetic::synthetic_mnist;

pub use crate::error::DataError;
use crate::error::Result;
use crate::gpu::Gpu;
use crate::tape::DataRows;

/// Features scaled to [0, 1] (row-major), with optional ground truth.
#[derive(Clone, Debug)]
pub struct Dataset {
    pub name: String,
    pub rows: usize,
    pub cols: usize,
    pub x: Vec<f32>,
    /// 1 = anomaly, 0 = normal: the ground-truth oracle and the metrics read this.
    pub anomaly: Option<Vec<u8>>,
    /// A categorical label per row (e.g. the digit), for the Class model and the constructions.
    pub class: Option<Vec<u32>>,
    /// Each feature's source column and scaling, to encode new data the same way.
    pub schema: Schema,
    /// For rows drawn from a larger table (`subsample`, `--max-rows`), each row's number in
    /// that table (0-based data rows, as `oddity score` and the oracles number them); None when
    /// the rows are the source's own. Every row number a user sees is [`Dataset::source_row`].
    pub origin: Option<Vec<u32>>,
}

impl Dataset {
    pub fn dim(&self) -> usize {
        self.cols
    }

    pub fn feature_names(&self) -> Vec<String> {
        self.schema.names()
    }

    pub fn row(&self, i: usize) -> &[f32] {
        &self.x[i * self.cols..(i + 1) * self.cols]
    }

    /// Refuses, for `model` (named in the message), data whose columns cannot be standardised:
    /// fewer than two rows, or a column that holds one value in every row (its deviation is 0).
    pub fn check_standardisable(&self, model: &str) -> Result<()> {
        if self.rows < 2 {
            return Err(crate::error::invalid(
                "data",
                format!(
                    "{} has {} row(s); {model} needs at least 2",
                    self.name, self.rows
                ),
            ));
        }
        let names = self.feature_names();
        for j in 0..self.cols {
            let first = self.x[j];
            if (1..self.rows).all(|i| self.x[i * self.cols + j] == first) {
                return Err(crate::error::invalid(
                    "data",
                    format!(
                        "column {:?} of {} is constant ({first} in every row): {model} cannot \
                         standardise it; leave it out",
                        names.get(j).map_or("?", String::as_str),
                        self.name
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Each column's mean and population deviation (`2 x cols`: the means, then the
    /// deviations), in f64 over every row.
    pub fn column_stats(&self) -> Vec<f32> {
        let (n, d) = (self.rows, self.cols);
        let mut out = vec![0f32; 2 * d];
        for j in 0..d {
            let col = || (0..n).map(|i| f64::from(self.x[i * d + j]));
            let mean = col().sum::<f64>() / n.max(1) as f64;
            let var = col().map(|v| (v - mean).powi(2)).sum::<f64>() / n.max(1) as f64;
            out[j] = mean as f32;
            out[d + j] = var.sqrt() as f32;
        }
        out
    }

    /// Row `i`'s number in the table it came from (see [`Dataset::origin`]).
    pub fn source_row(&self, i: u32) -> u32 {
        source_row(self.origin.as_deref(), i)
    }

    /// Number of anomalies in the ground truth (0 without one).
    pub fn anomalies(&self) -> usize {
        self.anomaly
            .as_ref()
            .map_or(0, |a| a.iter().filter(|&&v| v == 1).count())
    }

    /// At most `n` rows drawn at random without replacement (kept in their order), for
    /// running a large dataset at a scale a slow adapter can carry. All rows when `n >= rows`.
    /// Each row keeps its number in the source ([`Dataset::origin`]).
    pub fn subsample(&self, n: usize, seed: u64) -> Dataset {
        use rand::seq::index::sample;
        use rand::{SeedableRng, rngs::StdRng};
        if n >= self.rows {
            return self.clone();
        }
        let mut rows = sample(&mut StdRng::seed_from_u64(seed), self.rows, n).into_vec();
        rows.sort_unstable();
        self.select(&rows)
    }

    /// Rows `ix` of this dataset, in that order, each with its features, label, class and
    /// number in the source ([`Dataset::origin`]); the name and schema kept.
    pub fn select(&self, ix: &[usize]) -> Dataset {
        let pick = |v: &Vec<u8>| ix.iter().map(|&r| v[r]).collect();
        Dataset {
            name: self.name.clone(),
            rows: ix.len(),
            cols: self.cols,
            x: ix.iter().flat_map(|&r| self.row(r)).copied().collect(),
            anomaly: self.anomaly.as_ref().map(pick),
            class: self
                .class
                .as_ref()
                .map(|c| ix.iter().map(|&r| c[r]).collect()),
            schema: self.schema.clone(),
            origin: Some(ix.iter().map(|&r| self.source_row(r as u32)).collect()),
        }
    }

    /// The same rows with every feature scaled by one range, the widest of them all (raw
    /// values from min(lo) to max(hi) become 0 to 1): what images want (as dividing by 255
    /// does), where each pixel's own range stretches a border pixel that is rarely lit to full
    /// brightness. Each value is taken back to its raw unit through its feature's range and
    /// scaled again (in f64); the schema gets the new range, so data scaled by it later (a test
    /// split) matches. Refused for one-hot features.
    pub fn in_one_range(&self) -> std::result::Result<Dataset, DataError> {
        let f = &self.schema.features;
        if f.len() != self.cols {
            return Err(DataError::Request(format!(
                "{}: its schema has {} features for {} columns",
                self.name,
                f.len(),
                self.cols
            )));
        }
        if let Some(one_hot) = f.iter().find(|f| f.value.is_some()) {
            return Err(DataError::Request(format!(
                "{}: {} is a one-hot feature; only numeric features share one range",
                self.name,
                one_hot.name()
            )));
        }
        let lo = f
            .iter()
            .map(|f| f64::from(f.lo))
            .fold(f64::INFINITY, f64::min);
        let hi = f
            .iter()
            .map(|f| f64::from(f.hi))
            .fold(f64::NEG_INFINITY, f64::max);
        let span = hi - lo;
        let mut out = self.clone();
        for row in out.x.chunks_mut(self.cols.max(1)) {
            for (v, f) in row.iter_mut().zip(f) {
                let raw = f64::from(f.lo) + f64::from(*v) * (f64::from(f.hi) - f64::from(f.lo));
                *v = if span > 0.0 {
                    ((raw - lo) / span) as f32
                } else {
                    0.0
                };
            }
        }
        for feature in &mut out.schema.features {
            feature.lo = lo as f32;
            feature.hi = hi as f32;
        }
        Ok(out)
    }

    /// The features on the GPU ([`DataRows`]: one tensor, or parts when one binding cannot
    /// hold them).
    pub fn upload(&self, gpu: &Gpu) -> Result<DataRows> {
        self.upload_as(gpu, Precision::F32)
    }

    /// The features on the GPU stored at `precision` (f16 refuses a value past its range,
    /// naming the row and column); more rows than one binding holds are spread over parts
    /// ([`DataRows::upload`]), more than those can hold refused with the sizes.
    pub fn upload_as(&self, gpu: &Gpu, precision: Precision) -> Result<DataRows> {
        let (rows, cols) = (self.rows as u32, self.cols as u32);
        DataRows::upload(
            gpu,
            &self.x,
            rows,
            cols,
            &self.name,
            precision == Precision::F16,
        )
    }
}

/// Row `i`'s number in its source, given a dataset's [`Dataset::origin`] (`i` itself without
/// one).
pub fn source_row(origin: Option<&[u32]>, i: u32) -> u32 {
    origin.and_then(|o| o.get(i as usize).copied()).unwrap_or(i)
}

/// How a dataset is stored on the GPU. f16 halves its memory and what each pass over it reads
/// (scoring every row reads the whole dataset twice for a DAE: the first layer and the
/// reconstruction target); the values are rounded to f16 (about 3 significant digits, a
/// largest finite value of 65504), and every computation on them stays f32. The UAI models and
/// the autoencoders take either; a kernel that cannot read f16 refuses it when recorded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    #[default]
    F32,
    F16,
}

impl Precision {
    /// `f32` or `f16`, as `--precision` takes it and JSON prints it.
    pub fn name(self) -> &'static str {
        match self {
            Precision::F32 => "f32",
            Precision::F16 => "f16",
        }
    }
}

impl std::str::FromStr for Precision {
    type Err = crate::Error;

    fn from_str(s: &str) -> Result<Precision> {
        [Precision::F32, Precision::F16]
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| crate::error::invalid("precision", format!("`{s}`; f32 or f16")))
    }
}
