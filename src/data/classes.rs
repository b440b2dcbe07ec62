//! Some classes normal, the rest anomalous: the DA3D paper's protocol on a dataset with
//! classes (Fashion-MNIST 0-4 against 5-9, and the same on MNIST and the digits). The
//! detector trains on normal rows only, or on normal rows polluted with a share of unlabelled
//! anomalies; the test split keeps every class.

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use super::{DataError, Dataset};

/// A training set and a test set, each row's ground truth set (1: a class not in `normal`).
pub struct ClassSplit {
    pub train: Dataset,
    pub test: Dataset,
}

/// `d` with each row's ground truth set from its class: 1 for a class not in `normal`.
pub fn labelled(d: &Dataset, normal: &[u32]) -> Result<Dataset, DataError> {
    let class = d.class.as_ref().ok_or_else(|| {
        DataError::Request(format!("{} has no classes to split normal from", d.name))
    })?;
    Ok(Dataset {
        anomaly: Some(
            class
                .iter()
                .map(|c| u8::from(!normal.contains(c)))
                .collect(),
        ),
        ..d.clone()
    })
}

/// Rows of classes `normal` are normal, the others anomalies. Without `test`, a random half of
/// `base` (by `seed`) is the test split and the other half the training pool; with it, `base`
/// is the pool and `test` the test split. The training set is the pool's normal rows and, when
/// `pollution` > 0, as many of its anomalies (drawn by `seed`) as make that share of it.
pub fn normal_classes_split(
    base: &Dataset,
    normal: &[u32],
    test: Option<&Dataset>,
    pollution: f64,
    seed: u64,
) -> Result<ClassSplit, DataError> {
    if normal.is_empty() {
        return Err(DataError::Request("no normal classes given".into()));
    }
    if !(0.0..0.5).contains(&pollution) {
        return Err(DataError::Request(format!(
            "pollution {pollution}: the share of anomalies in training must be in [0, 0.5)"
        )));
    }
    let base = labelled(base, normal)?;
    let mut rng = StdRng::seed_from_u64(seed);
    let (pool, test) = match test {
        Some(t) => {
            if t.cols != base.cols {
                return Err(DataError::Request(format!(
                    "{} has {} features and {} has {}",
                    base.name, base.cols, t.name, t.cols
                )));
            }
            (base, labelled(t, normal)?)
        }
        None => {
            let mut ix: Vec<usize> = (0..base.rows).collect();
            ix.shuffle(&mut rng);
            let (a, b) = ix.split_at(base.rows / 2);
            let (mut a, mut b) = (a.to_vec(), b.to_vec());
            a.sort_unstable();
            b.sort_unstable();
            (base.select(&a), base.select(&b))
        }
    };
    let flags = pool.anomaly.as_ref().expect("labelled above");
    let normal_rows: Vec<usize> = (0..pool.rows).filter(|&i| flags[i] == 0).collect();
    let mut anomalies: Vec<usize> = (0..pool.rows).filter(|&i| flags[i] == 1).collect();
    if normal_rows.is_empty() || test.anomalies() == 0 || test.anomalies() == test.rows {
        return Err(DataError::Request(format!(
            "classes {normal:?} of {} leave no normal training rows or a one-class test split",
            pool.name
        )));
    }
    let polluting = ((pollution / (1.0 - pollution)) * normal_rows.len() as f64).round() as usize;
    if polluting > anomalies.len() {
        return Err(DataError::Request(format!(
            "pollution {pollution} of {} normal training rows needs {polluting} anomalies; the \
             training pool has {}",
            normal_rows.len(),
            anomalies.len()
        )));
    }
    anomalies.shuffle(&mut rng);
    let mut train_rows = normal_rows;
    train_rows.extend(anomalies.iter().take(polluting));
    train_rows.sort_unstable();
    let mut train = pool.select(&train_rows);
    let which = normal
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(",");
    train.name = format!("{}-normal{which}", pool.name);
    Ok(ClassSplit { train, test })
}

/// Rows labelled by their ground truth (1: anomaly): a random half (by `seed`) is the test
/// split; the training set is the other half's normal rows mixed with its anomalies so that
/// they are `share` of it (Li et al.'s contaminated training sets): as many anomalies as that
/// takes, or, where the half has fewer, every one of them and as many normal rows (drawn by
/// `seed`) as keep the share. The training set's name says the share.
pub fn contaminated_split(base: &Dataset, share: f64, seed: u64) -> Result<ClassSplit, DataError> {
    let flags = base.anomaly.as_ref().ok_or_else(|| {
        DataError::Request(format!(
            "{} has no ground truth to contaminate with",
            base.name
        ))
    })?;
    if !(share > 0.0 && share < 0.5) {
        return Err(DataError::Request(format!(
            "contamination {share}: the share of anomalies in training must be in (0, 0.5)"
        )));
    }
    let mut rng = StdRng::seed_from_u64(seed);
    let mut ix: Vec<usize> = (0..base.rows).collect();
    ix.shuffle(&mut rng);
    let (pool, test) = ix.split_at(base.rows / 2);
    let mut normal: Vec<usize> = pool.iter().copied().filter(|&i| flags[i] == 0).collect();
    let mut anomalies: Vec<usize> = pool.iter().copied().filter(|&i| flags[i] == 1).collect();
    let mut test = test.to_vec();
    test.sort_unstable();
    let test = base.select(&test);
    if normal.is_empty()
        || anomalies.is_empty()
        || test.anomalies() == 0
        || test.anomalies() == test.rows
    {
        return Err(DataError::Request(format!(
            "{}'s halves leave no normal or no anomalous training rows, or a one-class test split",
            base.name
        )));
    }
    normal.shuffle(&mut rng);
    anomalies.shuffle(&mut rng);
    let want = ((share / (1.0 - share)) * normal.len() as f64).round() as usize;
    if want <= anomalies.len() {
        anomalies.truncate(want.max(1));
    } else {
        let keep = ((1.0 - share) / share * anomalies.len() as f64).round() as usize;
        normal.truncate(keep.max(1));
    }
    let mut rows = normal;
    rows.extend(anomalies);
    rows.sort_unstable();
    let mut train = base.select(&rows);
    train.name = format!("{}-contaminated{}", base.name, share);
    Ok(ClassSplit { train, test })
}

/// `train` and `test` without the columns that are constant over `train`'s rows (a detector
/// that standardises cannot take them), and the names of those left out.
pub fn without_constant_columns(
    train: &Dataset,
    test: &Dataset,
) -> (Dataset, Dataset, Vec<String>) {
    let keep: Vec<usize> = (0..train.cols)
        .filter(|&j| {
            let mut col = (0..train.rows).map(|i| train.x[i * train.cols + j]);
            let first = col.next().unwrap_or(0.0);
            col.any(|v| v != first)
        })
        .collect();
    let dropped = (0..train.cols)
        .filter(|j| !keep.contains(j))
        .map(|j| train.schema.features[j].name())
        .collect();
    let cut = |d: &Dataset| Dataset {
        cols: keep.len(),
        x: (0..d.rows)
            .flat_map(|i| keep.iter().map(move |&j| (i, j)))
            .map(|(i, j)| d.x[i * d.cols + j])
            .collect(),
        schema: super::Schema {
            features: keep.iter().map(|&j| d.schema.features[j].clone()).collect(),
            class: d.schema.class.clone(),
        },
        ..d.clone()
    };
    (cut(train), cut(test), dropped)
}
