//! What turns a raw table into model inputs: for each feature its source column (and, for a
//! one-hot feature, the category it marks) and the min-max range it was scaled by. A dataset
//! carries its schema; a saved model carries the schema of its training data, so new data is
//! encoded and scaled exactly as the training data was.

use serde::{Deserialize, Serialize};

/// One model input.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Feature {
    /// The raw column it comes from.
    pub column: String,
    /// For a one-hot feature, the category that gives 1 (every other value gives 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// The training data's range: a raw value v becomes (v - lo) / (hi - lo), or 0 when
    /// hi == lo. New data may fall outside [0, 1].
    pub lo: f32,
    pub hi: f32,
    /// The raw value a missing one is read as (the mean of the training data's present
    /// values), for a numeric column that had missing values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fill: Option<f32>,
}

impl Feature {
    /// The feature's name: the column, or `column=value` for a one-hot feature.
    pub fn name(&self) -> String {
        match &self.value {
            Some(v) => format!("{}={v}", self.column),
            None => self.column.clone(),
        }
    }

    /// The scaled value of a raw value, computed as at training time (f32).
    pub fn scale(&self, v: f32) -> f32 {
        let span = self.hi - self.lo;
        if span.is_infinite() {
            // A range wider than f32 holds (the column spans most of it): in f64.
            ((f64::from(v) - f64::from(self.lo)) / (f64::from(self.hi) - f64::from(self.lo))) as f32
        } else if span > 0.0 {
            (v - self.lo) / span
        } else {
            0.0
        }
    }
}

/// A categorical column kept as each row's class (for the Class models): its name and its
/// categories, class i being `values[i]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClassColumn {
    pub column: String,
    pub values: Vec<String>,
}

/// The features of a dataset, in column order, and its class column if it has one.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Schema {
    pub features: Vec<Feature>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class: Option<ClassColumn>,
}

impl Schema {
    /// How the columns were read, for the user to see, one line each: the columns encoded as
    /// categories (one-hot features) with their number of values, and the numeric columns
    /// whose missing values were filled, with the fill. Empty when every column was numeric and
    /// complete.
    pub fn encoding(&self) -> Vec<String> {
        let mut cats: Vec<(&str, usize)> = Vec::new();
        for f in self.features.iter().filter(|f| f.value.is_some()) {
            match cats.last_mut() {
                Some((c, n)) if *c == f.column => *n += 1,
                _ => cats.push((&f.column, 1)),
            }
        }
        let fills: Vec<String> = self
            .features
            .iter()
            .filter_map(|f| f.fill.map(|v| format!("{:?} ({v})", f.column)))
            .collect();
        let mut out = Vec::new();
        if !cats.is_empty() {
            let list: Vec<String> = cats
                .iter()
                .map(|(c, n)| format!("{c:?} ({n} values)"))
                .collect();
            out.push(format!(
                "encoded as categories (one-hot): {}",
                list.join(", ")
            ));
        }
        if !fills.is_empty() {
            out.push(format!(
                "missing values filled with the column's mean: {}",
                fills.join(", ")
            ));
        }
        out
    }

    /// Numeric features named `columns`, with the ranges `min_max_scale` returned.
    pub fn numeric(columns: impl IntoIterator<Item = String>, ranges: &[(f32, f32)]) -> Schema {
        Schema {
            features: columns
                .into_iter()
                .zip(ranges)
                .map(|(column, &(lo, hi))| Feature {
                    column,
                    value: None,
                    lo,
                    hi,
                    fill: None,
                })
                .collect(),
            class: None,
        }
    }

    pub fn len(&self) -> usize {
        self.features.len()
    }

    pub fn is_empty(&self) -> bool {
        self.features.is_empty()
    }

    pub fn names(&self) -> Vec<String> {
        self.features.iter().map(Feature::name).collect()
    }

    /// Scales raw row-major values (one per feature) in place.
    pub fn scale(&self, x: &mut [f32]) {
        let c = self.len();
        if c == 0 {
            return;
        }
        for row in x.chunks_mut(c) {
            for (v, f) in row.iter_mut().zip(&self.features) {
                *v = f.scale(*v);
            }
        }
    }
}

/// Scales every column to [0, 1] in place (a constant column becomes 0) and returns each
/// column's (min, max).
pub fn min_max_scale(x: &mut [f32], cols: usize) -> Vec<(f32, f32)> {
    let mut ranges = Vec::with_capacity(cols);
    for j in 0..cols {
        let (mut lo, mut hi) = (f32::INFINITY, f32::NEG_INFINITY);
        for v in x.iter().skip(j).step_by(cols) {
            lo = lo.min(*v);
            hi = hi.max(*v);
        }
        let f = Feature {
            column: String::new(),
            value: None,
            lo,
            hi,
            fill: None,
        };
        for v in x.iter_mut().skip(j).step_by(cols) {
            *v = f.scale(*v);
        }
        ranges.push((lo, hi));
    }
    ranges
}
