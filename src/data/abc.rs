//! Supervised splits of the ABC paper (Yamanaka et al.): training rows labelled normal or known
//! anomaly, test rows that also hold anomalies of a kind never seen in training.
//!
//! - `toy2d`: two interleaving half circles (scikit-learn's `make_moons` shape, noise 0.1), the
//!   upper one normal and the lower one the known anomalies; unknown anomalies ~ N((-3, 3),
//!   0.3^2). 10,000 of each for training and for testing (unknown ones only in the test set).
//! - `digits-abc` / `fmnist-abc`: classes 1, 3, 5, 7, 9 normal, 0, 2, 6, 8 known anomalies and 4
//!   the unknown anomaly; normal and known rows are split in half between training and test at
//!   random, every 4 goes to the test set.
//!
//! Settings: 1 as above; 2 also mixes 100 unknown anomalies (fewer when the data has fewer)
//! into the training rows labelled normal (for toy2d drawn fresh; for the image sets taken out of
//! the test set's unknown rows); 3 keeps a tenth of the known anomalies for training.

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};

use super::{DataError, Dataset, Schema, min_max_scale};

/// What a test row is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RowKind {
    Normal,
    Known,
    Unknown,
}

/// A labelled training set and a test set. Training labels follow the ABC paper: y = 1 for a
/// normal row and 0 for a known anomaly.
#[derive(Clone, Debug)]
pub struct AbcSplit {
    pub name: String,
    pub cols: usize,
    pub train_x: Vec<f32>,
    pub train_y: Vec<u32>,
    pub test_x: Vec<f32>,
    pub test_kind: Vec<RowKind>,
    /// How raw data becomes these features (kept with a trained model to score new data).
    pub schema: Schema,
}

impl AbcSplit {
    pub fn train_rows(&self) -> usize {
        self.train_y.len()
    }

    pub fn test_rows(&self) -> usize {
        self.test_kind.len()
    }

    /// Test scores and anomaly labels (1 = anomaly) for normal rows against one kind.
    pub fn versus(&self, scores: &[f32], kind: RowKind) -> (Vec<f32>, Vec<u8>) {
        self.test_kind
            .iter()
            .zip(scores)
            .filter(|&(&k, _)| k == RowKind::Normal || k == kind)
            .map(|(&k, &s)| (s, u8::from(k == kind)))
            .unzip()
    }
}

/// The paper's settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Setting {
    /// Known anomalies in training; unknown ones only in the test set.
    One,
    /// As 1, with 100 unknown anomalies mixed into the training rows labelled normal.
    Two,
    /// As 1, with a tenth of the known anomalies.
    Three,
}

impl Setting {
    pub fn parse(s: &str) -> Option<Setting> {
        match s {
            "1" => Some(Setting::One),
            "2" => Some(Setting::Two),
            "3" => Some(Setting::Three),
            _ => None,
        }
    }
}

/// Points of the toy set: `n` upper-moon, lower-moon or unknown points.
fn toy_points(rng: &mut StdRng, n: usize, kind: RowKind) -> Vec<f32> {
    let mut out = Vec::with_capacity(2 * n);
    for _ in 0..n {
        let t = rng.random_range(0.0..std::f64::consts::PI);
        let (x, y, noise) = match kind {
            RowKind::Normal => (t.cos(), t.sin(), 0.1),
            RowKind::Known => (1.0 - t.cos(), 0.5 - t.sin(), 0.1),
            RowKind::Unknown => (-3.0, 3.0, 0.3),
        };
        out.push((x + noise * gauss(rng)) as f32);
        out.push((y + noise * gauss(rng)) as f32);
    }
    out
}

fn gauss(rng: &mut StdRng) -> f64 {
    // Box-Muller.
    let u: f64 = rng.random_range(f64::EPSILON..1.0);
    let v: f64 = rng.random_range(0.0..1.0);
    (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
}

/// Scales both sets' columns by the training rows' min and max (test rows may fall outside)
/// and records the ranges in the split's schema, whose columns are `names`.
fn scale_by_train(split: &mut AbcSplit, names: &[&str]) {
    let ranges = min_max_scale(&mut split.train_x, split.cols);
    split.schema = Schema::numeric(names.iter().map(|s| s.to_string()), &ranges);
    split.schema.scale(&mut split.test_x);
}

/// The 2D-Toy split with `per_class` rows of each kind (10,000 in the paper).
pub fn toy2d(per_class: usize, setting: Setting, seed: u64) -> AbcSplit {
    let mut rng = StdRng::seed_from_u64(seed);
    let known_train = match setting {
        Setting::Three => per_class / 10,
        _ => per_class,
    };
    let mut train_x = toy_points(&mut rng, per_class, RowKind::Normal);
    let mut train_y = vec![1u32; per_class];
    train_x.extend(toy_points(&mut rng, known_train, RowKind::Known));
    train_y.extend(std::iter::repeat_n(0, known_train));
    if setting == Setting::Two {
        train_x.extend(toy_points(&mut rng, 100, RowKind::Unknown));
        train_y.extend(std::iter::repeat_n(1, 100));
    }
    let mut test_x = Vec::new();
    let mut test_kind = Vec::new();
    for kind in [RowKind::Normal, RowKind::Known, RowKind::Unknown] {
        test_x.extend(toy_points(&mut rng, per_class, kind));
        test_kind.extend(std::iter::repeat_n(kind, per_class));
    }
    let mut s = AbcSplit {
        name: "toy2d".into(),
        cols: 2,
        train_x,
        train_y,
        test_x,
        test_kind,
        schema: Schema::default(),
    };
    scale_by_train(&mut s, &["x", "y"]);
    s
}

/// The paper's MNIST split on a dataset with digit classes (already scaled to [0, 1]).
pub fn class_split(
    base: &Dataset,
    name: &str,
    setting: Setting,
    seed: u64,
) -> Result<AbcSplit, DataError> {
    let class = base.class.as_ref().ok_or_else(|| {
        DataError::Request(format!(
            "{}: the ABC split needs each row's class",
            base.name
        ))
    })?;
    let mut rng = StdRng::seed_from_u64(seed);
    let mut groups: [Vec<usize>; 3] = Default::default();
    for (i, &c) in class.iter().enumerate() {
        let g = match c {
            1 | 3 | 5 | 7 | 9 => 0,
            0 | 2 | 6 | 8 => 1,
            4 => 2,
            _ => continue,
        };
        groups[g].push(i);
    }
    if groups.iter().any(|g| g.is_empty()) {
        return Err(DataError::Request(format!(
            "{}: the ABC split needs classes 0-9 (normal 1, 3, 5, 7, 9; known 0, 2, 6, 8; unknown 4)",
            base.name
        )));
    }
    for g in &mut groups {
        g.shuffle(&mut rng);
    }
    let [normal, known, mut unknown] = groups;
    let (n_tr, n_te) = normal.split_at(normal.len() / 2);
    let (k_tr, k_te) = known.split_at(known.len() / 2);
    let k_tr = match setting {
        Setting::Three => &k_tr[..k_tr.len().div_ceil(10)],
        _ => k_tr,
    };
    let mut train: Vec<(usize, u32)> = n_tr.iter().map(|&i| (i, 1)).collect();
    train.extend(k_tr.iter().map(|&i| (i, 0)));
    if setting == Setting::Two {
        let mixed = unknown.len().min(100).min(unknown.len() / 2);
        train.extend(unknown.drain(..mixed).map(|i| (i, 1)));
    }
    let mut test: Vec<(usize, RowKind)> = n_te.iter().map(|&i| (i, RowKind::Normal)).collect();
    test.extend(k_te.iter().map(|&i| (i, RowKind::Known)));
    test.extend(unknown.iter().map(|&i| (i, RowKind::Unknown)));
    let rows = |ix: &mut dyn Iterator<Item = usize>| -> Vec<f32> {
        ix.flat_map(|i| base.row(i)).copied().collect()
    };
    Ok(AbcSplit {
        name: name.to_string(),
        cols: base.cols,
        train_x: rows(&mut train.iter().map(|t| t.0)),
        train_y: train.iter().map(|t| t.1).collect(),
        test_x: rows(&mut test.iter().map(|t| t.0)),
        test_kind: test.iter().map(|t| t.1).collect(),
        schema: base.schema.clone(),
    })
}

/// The share of a labelled file held out as the test set when no test file is given.
pub const TEST_SHARE: f64 = 0.3;

/// A split from data with ground truth (`anomaly`, 1 = anomaly; every anomaly is a known one,
/// so a CSV split has no unknown anomalies). With `test` (read with `train`'s schema), its rows
/// are the test set; without, a random `TEST_SHARE` of each class of `train` is held out.
pub fn labelled_split(
    train: &Dataset,
    test: Option<&Dataset>,
    seed: u64,
) -> Result<AbcSplit, DataError> {
    let truth = |d: &Dataset| -> Result<Vec<u8>, DataError> {
        d.anomaly.clone().ok_or_else(|| {
            DataError::Request(format!(
                "{}: a supervised detector needs a label column",
                d.name
            ))
        })
    };
    let y = truth(train)?;
    if let Some(t) = test
        && t.cols != train.cols
    {
        return Err(DataError::Request(format!(
            "{}: {} features, the training data {} has {}",
            t.name, t.cols, train.name, train.cols
        )));
    }
    let (train_ix, test_rows): (Vec<usize>, Vec<(Vec<f32>, u8)>) = match test {
        Some(t) => {
            let ty = truth(t)?;
            (
                (0..train.rows).collect(),
                (0..t.rows).map(|i| (t.row(i).to_vec(), ty[i])).collect(),
            )
        }
        None => {
            let mut rng = StdRng::seed_from_u64(seed);
            let (mut tr, mut te) = (Vec::new(), Vec::new());
            for class in [0u8, 1] {
                let mut ix: Vec<usize> = (0..train.rows).filter(|&i| y[i] == class).collect();
                ix.shuffle(&mut rng);
                let n = ((ix.len() as f64 * TEST_SHARE).round() as usize)
                    .max(1)
                    .min(ix.len().saturating_sub(1));
                if n == 0 {
                    return Err(DataError::Request(format!(
                        "{}: {} {} rows are too few to hold out a test set (give --test)",
                        train.name,
                        ix.len(),
                        if class == 1 { "anomaly" } else { "normal" }
                    )));
                }
                te.extend(ix.drain(..n));
                tr.extend(ix);
            }
            tr.sort_unstable();
            te.sort_unstable();
            (
                tr,
                te.iter().map(|&i| (train.row(i).to_vec(), y[i])).collect(),
            )
        }
    };
    Ok(AbcSplit {
        name: train.name.clone(),
        cols: train.cols,
        train_x: train_ix
            .iter()
            .flat_map(|&i| train.row(i))
            .copied()
            .collect(),
        // ABC's labels: 1 = normal, 0 = known anomaly.
        train_y: train_ix.iter().map(|&i| u32::from(y[i] == 0)).collect(),
        test_x: test_rows.iter().flat_map(|(x, _)| x).copied().collect(),
        test_kind: test_rows
            .iter()
            .map(|&(_, a)| {
                if a == 1 {
                    RowKind::Known
                } else {
                    RowKind::Normal
                }
            })
            .collect(),
        schema: train.schema.clone(),
    })
}

/// Where a built-in split's rows come from: generated per seed (2D-Toy) or an image set,
/// loaded once and split per seed.
pub enum AbcSource {
    Toy { per_class: usize },
    Images { name: String, base: Box<Dataset> },
}

impl AbcSource {
    /// `toy2d` (with `toy_rows` of each kind), `digits-abc` or `fmnist-abc`.
    pub fn named(name: &str, toy_rows: usize) -> Result<AbcSource, DataError> {
        let base = match name {
            "toy2d" => {
                return Ok(AbcSource::Toy {
                    per_class: toy_rows,
                });
            }
            "digits-abc" => super::digits()?,
            "fmnist-abc" => super::fashion_mnist()?,
            other => {
                return Err(DataError::Request(format!(
                    "unknown dataset {other:?} for a supervised detector; built in: toy2d, digits-abc, fmnist-abc"
                )));
            }
        };
        Ok(AbcSource::Images {
            name: name.to_string(),
            base: Box::new(base),
        })
    }

    /// The split for one setting and seed. `max_rows` draws at most that many rows of an
    /// image set (per seed) before splitting, for slow adapters.
    pub fn split(
        &self,
        setting: Setting,
        seed: u64,
        max_rows: Option<usize>,
    ) -> Result<AbcSplit, DataError> {
        match self {
            AbcSource::Toy { per_class } => Ok(toy2d(*per_class, setting, seed)),
            AbcSource::Images { name, base } => match max_rows {
                Some(n) => class_split(&base.subsample(n, seed), name, setting, seed),
                None => class_split(base, name, setting, seed),
            },
        }
    }
}

/// A built-in split by name (2D-Toy at the paper's 10,000 of each kind); see [`AbcSource`].
pub fn named_split(
    name: &str,
    setting: Setting,
    seed: u64,
    max_rows: Option<usize>,
) -> Result<AbcSplit, DataError> {
    AbcSource::named(name, 10_000)?.split(setting, seed, max_rows)
}
