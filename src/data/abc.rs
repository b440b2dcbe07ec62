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

use super::{DataError, Dataset};

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
}

impl AbcSplit {
    pub fn train_rows(&self) -> usize {
        self.train_y.len()
    }

    pub fn test_rows(&self) -> usize {
        self.test_kind.len()
    }

    /// The training rows labelled normal (y = 1), for the baselines trained on normal data.
    pub fn normal_train_x(&self) -> Vec<f32> {
        self.train_y
            .iter()
            .enumerate()
            .filter(|&(_, &y)| y == 1)
            .flat_map(|(i, _)| &self.train_x[i * self.cols..(i + 1) * self.cols])
            .copied()
            .collect()
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

/// Scales both sets' columns by the training rows' min and max (test rows may fall outside).
fn scale_by_train(split: &mut AbcSplit) {
    let c = split.cols;
    for j in 0..c {
        let (mut lo, mut hi) = (f32::INFINITY, f32::NEG_INFINITY);
        for v in split.train_x.iter().skip(j).step_by(c) {
            lo = lo.min(*v);
            hi = hi.max(*v);
        }
        let span = hi - lo;
        let f = |v: &mut f32| *v = if span > 0.0 { (*v - lo) / span } else { 0.0 };
        split.train_x.iter_mut().skip(j).step_by(c).for_each(f);
        split.test_x.iter_mut().skip(j).step_by(c).for_each(f);
    }
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
    };
    scale_by_train(&mut s);
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
    })
}

/// A built-in split by name: `toy2d`, `digits-abc`, `fmnist-abc`.
pub fn named_split(name: &str, setting: Setting, seed: u64) -> Result<AbcSplit, DataError> {
    match name {
        "toy2d" => Ok(toy2d(10_000, setting, seed)),
        "digits-abc" => class_split(&super::digits()?, name, setting, seed),
        "fmnist-abc" => class_split(&super::fashion_mnist()?, name, setting, seed),
        other => Err(DataError::Request(format!(
            "unknown dataset {other:?} for a supervised detector; built in: toy2d, digits-abc, fmnist-abc"
        ))),
    }
}
