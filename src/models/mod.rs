//! Anomaly detectors, every one built the same way: a configuration, layers from
//! [`crate::nn`], the loss it records, on the model [`core`] (parameters, optimizer and step
//! state, training plans, chunked scoring, model files); the [`Detector`] face users call
//! (fit, score, threshold, predict, save, load) and, for the models Algorithm 1 drives, the
//! [`ActiveDetector`] face; and the [`registry`] that names them.
//!
//! - [`Autoencoder`]: the plain and denoising autoencoder (library use, benchmarks).
//! - [`UaiModel`]: DAE_uai, Class_uai and their bases (Pimentel et al.).
//! - [`Supervised`]: ABC on an AE or DAE, LRC, and the ABC paper's AE, DAE and DNN baselines.
//! - [`Vae`]: the report's variational autoencoder.
//! - [`Seq2seq`]: the report's sequence-to-sequence LSTM detector for time-series windows.
//! - [`Bigan`]: BiGAN, the report's adversarial detector (Donahue et al.; Zenati et al.'s score).
//! - [`Dagmm`]: DAGMM, a compression network and a Gaussian mixture's energy (Zong et al.).
//! - [`Da3d`]: DA3D, its simple variant and A3: an alarm network on an adversarial
//!   autoencoder's activations (Schulze et al.; Sperl et al.).
//! - [`Ocsvm`]: the one-class SVM with the RBF kernel (Schoelkopf et al.).
//! - [`IForest`]: the isolation forest (Liu et al.), the classic peer, scored on the GPU.
//! - [`Kmeans`]: k-means (k-means++ seeding, Lloyd's steps), scored by the distance to the
//!   nearest centroid.
//! - [`Gmm`]: a Gaussian mixture with diagonal covariances (EM from k-means), scored by the
//!   negative log-likelihood.
//! - [`Iterative`]: Li et al.'s iterative detector for contaminated data: an autoencoder
//!   retrained on a set chosen from clusters, then from its own reconstruction errors.
//! - [`construct_hard`]: the UAI paper's X_hard, from a weak classifier's mistakes.

mod autoencoder;
mod bigan;
pub mod core;
mod da3d;
mod dagmm;
mod deepsvdd;
mod detector;
pub mod evaluation;
mod file;
mod hard;
mod iforest;
mod iterative;
mod kmeans;
mod labels;
mod mixture;
mod ocsvm;
mod pca;
pub mod registry;
mod scaling;
mod seq2seq;
mod supervised;
mod uai;
mod vae;

pub use autoencoder::{Autoencoder, AutoencoderConfig};
pub use bigan::{Bigan, BiganConfig, Player};
pub use core::{
    EarlyStopping, EpochHook, EpochProgress, FitReport, ModelCore, ROUNDS_PER_SUBMIT,
    VALIDATION_SHARE, run_rounds, shader_seed, validation_split,
};
pub use da3d::{Body, Da3d, Da3dConfig, Da3dStep, Da3dVariant};
pub use dagmm::{DAGMM_STEPS_PER_SUBMIT, Dagmm, DagmmConfig};
pub use deepsvdd::{DeepSvdd, DeepSvddConfig};
pub use detector::{ActiveDetector, Detector, Threshold, ThresholdRule};
pub use file::{CoreState, Family, ModelFile};
pub use hard::{WEAK_BATCH, WEAK_HIDDEN, WEAK_STEPS, WeakClassifier, construct_hard};
pub use iforest::{IFOREST_SUBSAMPLE, IFOREST_TREES, IForest, IForestConfig, average_path_length};
pub use iterative::{Clustering, Iterative, IterativeConfig, ReconError};
pub use kmeans::{CHECK_EVERY, Kmeans, KmeansConfig};
pub use labels::{LabelCounts, LabelSet};
pub use mixture::{Component, Gmm, GmmConfig};
pub use ocsvm::{
    OCSVM_EXACT_MAX_ROWS, OCSVM_FEATURES, OCSVM_MIN_STEPS, Ocsvm, OcsvmConfig, OcsvmFitted,
    OcsvmSolver,
};
pub use pca::{PCA_SWEEPS, Pca, PcaConfig, PcaScore};
pub use registry::{DataShape, Model, Settings};
pub use seq2seq::{Seq2seq, Seq2seqConfig};
pub use supervised::{Supervised, SupervisedConfig, SupervisedKind};
pub use uai::{
    BaseKind, HEAD_FORM, HEAD_PRIOR_STD, UAI_BATCH, UAI_CLASS_LR, UAI_DAE_LR, UAI_NOISE,
    UAI_PAPER_LR, UaiConfig, UaiModel, uai_dae_hidden, uai_dae_lr,
};
pub use vae::{Vae, VaeConfig, VaeScore};
