//! Anomaly detectors built on [`crate::nn`]: the UAI active-learning models and the label set
//! they learn from.

pub mod abc;
mod labels;
mod uai;

pub use abc::{FitReport, Supervised, SupervisedConfig, SupervisedKind};
pub use labels::LabelSet;
pub use uai::{BaseKind, HEAD_PRIOR_STD, UaiConfig, UaiModel};
