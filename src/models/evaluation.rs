//! The ABC paper's protocol for any detector: fit on a split's training rows (the normal ones
//! only, for a detector that does not learn from labels), score its test rows, and report the
//! AUROC and AP against known anomalies and against unknown ones.

use serde::Serialize;

use super::core::FitReport;
use super::detector::Detector;
use crate::data::Dataset;
use crate::data::abc::{AbcSplit, RowKind};
use crate::error::Result;

/// Known- and unknown-anomaly AUROC and AP (normal test rows against each kind) of a detector
/// trained on a split; None where the test set has no rows of that kind.
#[derive(Clone, Debug, Serialize)]
pub struct Evaluation {
    pub known_auroc: Option<f64>,
    pub unknown_auroc: Option<f64>,
    pub known_ap: Option<f64>,
    pub unknown_ap: Option<f64>,
    pub fit: FitReport,
    /// The test rows' scores, in the split's test order.
    #[serde(skip)]
    pub test_scores: Vec<f32>,
}

/// The split's training rows as a dataset (anomaly = 1 for its known anomalies); with
/// `normal_only`, its normal rows alone.
pub fn training_rows(split: &AbcSplit, normal_only: bool) -> Dataset {
    let keep: Vec<usize> = (0..split.train_rows())
        .filter(|&i| !normal_only || split.train_y[i] == 1)
        .collect();
    let cols = split.cols;
    Dataset {
        name: split.name.clone(),
        rows: keep.len(),
        cols,
        x: keep
            .iter()
            .flat_map(|&i| &split.train_x[i * cols..(i + 1) * cols])
            .copied()
            .collect(),
        anomaly: Some(
            keep.iter()
                .map(|&i| u8::from(split.train_y[i] == 0))
                .collect(),
        ),
        class: None,
        schema: split.schema.clone(),
        origin: None,
    }
}

/// Fits `detector` on `split`'s training rows (the normal ones unless it learns from labels)
/// and scores the test rows.
pub fn fit_and_evaluate(detector: &mut dyn Detector, split: &AbcSplit) -> Result<Evaluation> {
    let fit = detector.fit(&training_rows(split, !detector.supervised()))?;
    let test = Dataset {
        name: format!("{} test", split.name),
        rows: split.test_rows(),
        cols: split.cols,
        x: split.test_x.clone(),
        anomaly: None,
        class: None,
        schema: split.schema.clone(),
        origin: None,
    };
    let scores = detector.score(&test)?;
    // A kind with no test rows (a CSV split has no unknown anomalies) has no metric.
    let metric = |kind: RowKind| -> Result<(Option<f64>, Option<f64>)> {
        let (s, y) = split.versus(&scores, kind);
        if !y.contains(&1) || !y.contains(&0) {
            return Ok((None, None));
        }
        Ok((
            Some(crate::metrics::auroc(&s, &y)?),
            Some(crate::metrics::average_precision(&s, &y)?),
        ))
    };
    let (known_auroc, known_ap) = metric(RowKind::Known)?;
    let (unknown_auroc, unknown_ap) = metric(RowKind::Unknown)?;
    Ok(Evaluation {
        known_auroc,
        unknown_auroc,
        known_ap,
        unknown_ap,
        fit,
        test_scores: scores,
    })
}
