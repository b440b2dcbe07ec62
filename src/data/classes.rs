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

fn labelled(d: &Dataset, normal: &[u32]) -> Result<Dataset, DataError> {
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
