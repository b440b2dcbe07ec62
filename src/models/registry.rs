//! The registry: every model by name, with its constructor and its default configuration.
//! Every command resolves `--model NAME` here, and model files are loaded through it.
//!
//! Names are unique within a [`Family`]: `oddity fit` and [`detector`] look among the
//! detectors, `oddity active` and [`active`] among the models Algorithm 1 drives. `dae` is in
//! both: as a detector, the ABC paper's DAE baseline (tanh, Adam, early stopping); under
//! Algorithm 1, the UAI paper's DAE (the base of DAE_uai without its head).
//!
//! Adding a model: its file implements [`Detector`] and [`Model`] (its configuration type,
//! `configure` for data of a shape, `build`), and one line of [`MODELS`] names it.

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::detector::Detector;
use super::file::{Family, ModelFile, config_from, config_json};
use super::{
    Bigan, Da3d, Dagmm, DeepSvdd, Gmm, IForest, Iterative, Kmeans, Ocsvm, OcsvmSolver, Pca,
    Seq2seq, Supervised, UaiModel, Vae,
};
use crate::data::Dataset;
use crate::error::{Result, invalid};
use crate::gpu::Gpu;

/// What a model is configured for: the data's name (for messages), its feature count and,
/// where it has classes, how many.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataShape {
    pub name: String,
    pub inputs: u32,
    pub classes: Option<u32>,
}

impl DataShape {
    pub fn of(data: &Dataset) -> DataShape {
        DataShape {
            name: data.name.clone(),
            inputs: data.cols as u32,
            classes: data
                .class
                .as_ref()
                .map(|c| c.iter().max().map_or(0, |m| m + 1)),
        }
    }
}

/// The settings a user may give any model (the command line's flags); None keeps the model's
/// default. A model ignores what it has no use for.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Settings {
    /// The seed of the initial weights, minibatches, noise and validation split.
    pub seed: u64,
    /// Hidden widths (an autoencoder's encoder, the last the latent size).
    pub hidden: Option<Vec<u32>>,
    pub batch: Option<u32>,
    /// The optimizer's learning rate.
    pub lr: Option<f32>,
    /// Input noise of a denoising autoencoder.
    pub noise: Option<f32>,
    /// The UAI head's prior standard deviation (0: no prior).
    pub head_prior: Option<f32>,
    /// The minibatches the UAI head's score standardisation averages over (1: each step's own).
    pub head_stats_window: Option<u32>,
    /// Epochs at most, for the models trained with early stopping.
    pub max_epochs: Option<u32>,
    /// Training steps, for the models trained for a number of steps.
    pub steps: Option<u32>,
    /// The one-class SVM's nu and RBF gamma.
    pub nu: Option<f32>,
    pub gamma: Option<f32>,
    /// The one-class SVM's solver.
    pub solver: Option<OcsvmSolver>,
    /// Mixture components (DAGMM's K, the Gaussian mixture's), or k-means' clusters.
    pub components: Option<u32>,
    /// Standardise the columns over the training rows before the network (the AE, DAE and
    /// the ABC paper's detectors; the VAE, which then reconstructs with an identity output).
    /// Deep SVDD and DAGMM always do.
    pub standardise: Option<bool>,
    /// The rows' image shape (DA3D's convolutional autoencoder).
    pub image: Option<crate::ops::conv::Chw>,
    /// The iterative detector's clustering, percent of clusters (p0) and rows (p) left out
    /// of its first and later training sets, rounds and reconstruction error.
    pub clustering: Option<super::Clustering>,
    pub p0: Option<f32>,
    pub p: Option<f32>,
    pub rounds: Option<u32>,
    pub recon_error: Option<super::ReconError>,
    /// The steps a row holds (a time series' window; seq2seq's encoder and decoder steps).
    pub window: Option<u32>,
}

/// A model the registry can build.
pub trait Model: Detector + Sized + 'static {
    type Config: Serialize + DeserializeOwned;

    /// The configuration the registry name `name` (one of this model's) gives data of
    /// `shape`, with `settings` applied.
    fn configure(name: &str, shape: &DataShape, settings: &Settings) -> Result<Self::Config>;

    /// The model of a configuration (from [`Model::configure`] or a model file).
    fn build(gpu: &Gpu, config: Self::Config) -> Result<Self>;

    /// [`Model::build`] for the registry entry of `family`: a model registered in both
    /// families (one implementation) takes the entry's.
    fn build_for(gpu: &Gpu, config: Self::Config, _family: Family) -> Result<Self> {
        Self::build(gpu, config)
    }
}

/// One model of the registry.
pub struct Entry {
    pub name: &'static str,
    pub family: Family,
    /// One line for listings.
    pub about: &'static str,
    configure: fn(&str, &DataShape, &Settings) -> Result<serde_json::Value>,
    build: BuildFn,
}

/// An entry's constructor: (device, name, family, configuration) to the model.
type BuildFn = fn(&Gpu, &str, Family, serde_json::Value) -> Result<Box<dyn Detector>>;

fn configure<M: Model>(
    name: &str,
    shape: &DataShape,
    settings: &Settings,
) -> Result<serde_json::Value> {
    config_json(&M::configure(name, shape, settings)?)
}

fn build<M: Model>(
    gpu: &Gpu,
    name: &str,
    family: Family,
    config: serde_json::Value,
) -> Result<Box<dyn Detector>> {
    Ok(Box::new(M::build_for(
        gpu,
        config_from(name, config)?,
        family,
    )?))
}

impl Entry {
    /// The entry of model `M` under `name`.
    pub const fn of<M: Model>(name: &'static str, family: Family, about: &'static str) -> Entry {
        Entry {
            name,
            family,
            about,
            configure: configure::<M>,
            build: build::<M>,
        }
    }

    /// The default configuration for data of `shape`, with `settings` applied (as JSON:
    /// what a model file records, and what [`Entry::build_with`] takes).
    pub fn config(&self, shape: &DataShape, settings: &Settings) -> Result<serde_json::Value> {
        (self.configure)(self.name, shape, settings)
    }

    /// The model for `data`, configured by its default and `settings`.
    pub fn build(
        &self,
        gpu: &Gpu,
        data: &Dataset,
        settings: &Settings,
    ) -> Result<Box<dyn Detector>> {
        // A minibatch larger than the data would draw every row many times a step (and at
        // --batch 100000 on a thousand rows, run for minutes): refused before anything is made.
        if let Some(b) = settings.batch
            && b as usize > data.rows
        {
            return Err(invalid(
                "batch",
                format!(
                    "{b} rows per minibatch is more than the {} rows of {}",
                    data.rows, data.name
                ),
            ));
        }
        self.build_with(gpu, self.config(&DataShape::of(data), settings)?)
    }

    /// The model of a configuration given as JSON.
    pub fn build_with(&self, gpu: &Gpu, config: serde_json::Value) -> Result<Box<dyn Detector>> {
        let model = (self.build)(gpu, self.name, self.family, config)?;
        if model.name() != self.name {
            return Err(invalid(
                "model configuration",
                format!(
                    "the configuration is of {}, not {}",
                    model.name(),
                    self.name
                ),
            ));
        }
        Ok(model)
    }
}

/// Every model, detectors first.
pub static MODELS: &[Entry] = &[
    Entry::of::<Supervised>(
        "abc-ae",
        Family::Detector,
        "autoencoding binary classifier on an AE (supervised; Yamanaka et al.)",
    ),
    Entry::of::<Supervised>(
        "abc-dae",
        Family::Detector,
        "autoencoding binary classifier on a denoising AE (supervised)",
    ),
    Entry::of::<Supervised>(
        "lrc",
        Family::Detector,
        "the ABC paper's unbounded baseline, y L - (1 - y) L (supervised)",
    ),
    Entry::of::<Supervised>(
        "ae",
        Family::Detector,
        "autoencoder on normal rows, reconstruction error (the ABC paper's baseline)",
    ),
    Entry::of::<Supervised>(
        "dae",
        Family::Detector,
        "denoising autoencoder on normal rows (the ABC paper's baseline)",
    ),
    Entry::of::<Supervised>(
        "dnn",
        Family::Detector,
        "sigmoid classifier of known anomalies (supervised; the ABC paper's baseline)",
    ),
    Entry::of::<Vae>(
        "vae",
        Family::Detector,
        "variational autoencoder: negative ELBO or reconstruction error (the report's VAE)",
    ),
    Entry::of::<IForest>(
        "iforest",
        Family::Detector,
        "isolation forest: 100 trees of 256-row subsamples, path-length score (Liu et al.)",
    ),
    Entry::of::<DeepSvdd>(
        "deepsvdd",
        Family::Detector,
        "Deep SVDD: a bias-free network pulls the rows to a fixed centre; squared distance (Ruff et al.)",
    ),
    Entry::of::<Dagmm>(
        "dagmm",
        Family::Detector,
        "DAGMM: an autoencoder's code and reconstruction features, scored by a Gaussian mixture's energy (Zong et al.)",
    ),
    Entry::of::<Pca>(
        "pca",
        Family::Detector,
        "principal component analysis on the GPU: squared standardised projections (the report's PCA)",
    ),
    Entry::of::<Kmeans>(
        "kmeans",
        Family::Detector,
        "k-means on the GPU (k-means++ seeding, Lloyd's steps): squared distance to the nearest centroid",
    ),
    Entry::of::<Gmm>(
        "gmm",
        Family::Detector,
        "a Gaussian mixture with diagonal covariances, EM on the GPU from k-means: negative log-likelihood",
    ),
    Entry::of::<Iterative>(
        "iterative-ae",
        Family::Detector,
        "the iterative detector for contaminated data: an autoencoder retrained on low-variance clusters, then on its own low errors (Li et al.)",
    ),
    Entry::of::<Seq2seq>(
        "seq2seq",
        Family::Detector,
        "sequence to sequence: an encoder LSTM's last state decoded by an LSTM, a time series window's squared reconstruction error (the report's)",
    ),
    Entry::of::<Bigan>(
        "bigan",
        Family::Detector,
        "BiGAN: encoder, generator and a discriminator on (x, z) pairs trained in turn; reconstruction and feature-matching score",
    ),
    Entry::of::<Da3d>(
        "da3d",
        Family::Detector,
        "DA3D: an alarm network on an adversarial autoencoder's activations, against trivial and generated anomalies (Schulze et al.)",
    ),
    Entry::of::<Da3d>(
        "da3d-simple",
        Family::Detector,
        "DA3D's simple variant: the alarm network against noise rows and wide Gaussian codes, decoded",
    ),
    Entry::of::<Da3d>(
        "a3",
        Family::Detector,
        "A3: an alarm network on an autoencoder's activations, against noise inputs (Sperl et al.)",
    ),
    Entry::of::<Ocsvm>(
        "ocsvm",
        Family::Detector,
        "one-class SVM, RBF kernel, LIBSVM's SMO on the GPU; negated decision value (Schoelkopf et al.)",
    ),
    Entry::of::<UaiModel>(
        "dae-uai",
        Family::Active,
        "DAE with the UAI head, learning from the expert's labels (Pimentel et al.)",
    ),
    Entry::of::<UaiModel>(
        "dae",
        Family::Active,
        "the DAE alone: ranks by reconstruction error, ignores labels",
    ),
    Entry::of::<UaiModel>(
        "class-uai",
        Family::Active,
        "class predictor with the UAI head (needs a class per row)",
    ),
    Entry::of::<UaiModel>(
        "class",
        Family::Active,
        "the class predictor alone: ranks by cross-entropy, ignores labels",
    ),
    Entry::of::<IForest>(
        "iforest",
        Family::Active,
        "isolation forest, grown once: ranks by path length, ignores labels (the peer)",
    ),
];

/// The names of a family's models, comma-separated.
pub fn names(family: Family) -> String {
    MODELS
        .iter()
        .filter(|e| e.family == family)
        .map(|e| e.name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The model `name` of `family`, or an error listing the family's models.
pub fn find(name: &str, family: Family) -> Result<&'static Entry> {
    MODELS
        .iter()
        .find(|e| e.family == family && e.name == name)
        .ok_or_else(|| {
            let what = match family {
                Family::Detector => "detector",
                Family::Active => "active-learning model",
            };
            invalid(
                "model",
                format!("unknown {what} {name:?}; one of {}", names(family)),
            )
        })
}

/// The detector `name` (`oddity fit`'s models).
pub fn detector(name: &str) -> Result<&'static Entry> {
    find(name, Family::Detector)
}

/// The active-learning model `name` (`oddity active`'s models).
pub fn active(name: &str) -> Result<&'static Entry> {
    find(name, Family::Active)
}

/// Loads a model file: the registry builds the model its metadata names from the
/// configuration it records, then its parameters, optimizer state, step counter, schema and
/// threshold are restored.
pub fn load(gpu: &Gpu, path: &std::path::Path) -> Result<Box<dyn Detector>> {
    let file = ModelFile::read(path)?;
    let entry = find(&file.kind, file.family)
        .map_err(|e| invalid("model file", format!("{}: {e}", path.display())))?;
    let mut model = entry
        .build_with(gpu, file.config)
        .map_err(|e| invalid("model file", format!("{}: {e}", path.display())))?;
    if !file.schema.is_empty() && file.schema.len() != model.inputs() as usize {
        return Err(invalid(
            "model file",
            format!(
                "{}: its schema has {} features, its architecture {} inputs",
                path.display(),
                file.schema.len(),
                model.inputs()
            ),
        ));
    }
    model
        .core()
        .restore(&file.state)
        .map_err(|e| invalid("model file", format!("{}: {e}", path.display())))?;
    model.set_schema(file.schema);
    if file.fitted {
        model.core_mut().mark_fitted();
    }
    model
        .set_threshold(file.threshold)
        .map_err(|e| invalid("model file", format!("{}: {e}", path.display())))?;
    Ok(model)
}
