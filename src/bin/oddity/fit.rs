//! `oddity fit`: any detector of the registry trained on a split and evaluated on known and
//! unknown anomalies, the ABC paper's protocol (`oddity::models::evaluation`).

use std::time::Instant;

use oddity::data::abc::{AbcSource, AbcSplit, Setting, labelled_split};
use oddity::data::{CsvOptions, Dataset};
use oddity::models::evaluation::{Evaluation, fit_and_evaluate, training_rows};
use oddity::models::{
    Clustering, DataShape, Detector, OcsvmSolver, ReconError, Settings, Threshold, registry,
};
use oddity::ops::conv::Chw;
use oddity::{Error, Gpu};

#[derive(clap::Args, Clone)]
pub struct Args {
    /// A detector of the registry: abc-ae, abc-dae, lrc, ae, dae, dnn, vae, iforest, pca,
    /// deepsvdd, ocsvm, bigan, dagmm, da3d, da3d-simple, a3, kmeans, gmm, iterative-ae.
    #[arg(long)]
    pub model: String,
    /// A built-in split: toy2d, digits-abc or fmnist-abc.
    #[arg(long, required_unless_present_any = ["train", "data", "series"], conflicts_with_all = ["train", "data"])]
    pub dataset: Option<String>,
    /// A CSV file to train an unsupervised detector on, as PyOD does (every row; with
    /// --threshold-percentile, all but a held-out fifth); a label column, when named, only
    /// evaluates: AUROC, AP, precision, recall and F1 at the threshold, precision@n.
    #[arg(long, conflicts_with_all = ["train", "test"])]
    pub data: Option<std::path::PathBuf>,
    /// A CSV file with a header and a label column (instead of --dataset): numeric columns as
    /// they are, others one-hot encoded, all min-max scaled (the scaling is saved with the
    /// model). Every anomaly in it counts as a known one.
    #[arg(long, requires = "label_col")]
    pub train: Option<std::path::PathBuf>,
    /// A CSV test file read with the training file's encoding and scaling; without it a random
    /// 30% of each class of --train is held out for testing.
    #[arg(long, requires = "train")]
    pub test: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub labels: Labels,
    #[command(flatten)]
    pub format: CsvFormat,
    /// The paper's setting for the built-in splits: 1, 2 (unknown anomalies mixed into the
    /// normal training rows) or 3 (a tenth of the known anomalies).
    #[arg(long, default_value = "1")]
    pub setting: String,
    /// Rows of each kind for toy2d (10,000 in the paper).
    #[arg(long, default_value_t = 10_000)]
    pub toy_rows: usize,
    /// Use at most this many rows of an image set (drawn per seed) before splitting.
    #[arg(long)]
    pub max_rows: Option<usize>,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Epochs at most (early stopping usually ends training first; default: the model's,
    /// 100 for the ABC paper's detectors and the VAE, 200 for BiGAN).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_epochs: Option<u32>,
    /// Minibatch rows (default: the model's). Models trained without minibatches ignore it.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub batch: Option<u32>,
    /// The optimizer's learning rate (default: the model's). Models not trained by gradient
    /// steps ignore it.
    #[arg(long)]
    pub lr: Option<f32>,
    /// Hidden widths, the last the latent size (default: the model's; the ABC paper's
    /// 300,100,20 for its detectors, 32,16,4 for the VAE on up to 256 features).
    #[arg(long, value_delimiter = ',')]
    pub hidden: Option<Vec<u32>>,
    /// The one-class SVM's nu, in (0, 1]: at most this share of the training rows outside its
    /// support (default 0.5, PyOD's). Other models ignore it.
    #[arg(long)]
    pub nu: Option<f32>,
    /// The one-class SVM's RBF gamma on standardised columns (default 1 / features). Other
    /// models ignore it.
    #[arg(long)]
    pub gamma: Option<f32>,
    /// The one-class SVM's solver: auto (exact up to 4096 rows, the random Fourier
    /// approximation beyond), exact or fourier. Other models ignore it.
    #[arg(long, value_parser = solver)]
    pub solver: Option<OcsvmSolver>,
    /// DAGMM's mixture components, 1 to 16 (default 4), the Gaussian mixture's (default 4),
    /// k-means' clusters (default 8) or the iterative detector's (default 10). Other models
    /// ignore it.
    #[arg(long)]
    pub components: Option<u32>,
    #[command(flatten)]
    pub iterative: IterativeArgs,
    #[command(flatten)]
    pub series: SeriesArgs,
    /// Standardise each column over the training rows before the network, as PyOD does (the
    /// AE, DAE, ABC, LRC and DNN, whose inputs are otherwise min-max scaled, and the VAE, then
    /// with an identity output). Deep SVDD and DAGMM always standardise; other models ignore it.
    #[arg(long)]
    pub standardise: bool,
    /// The rows' image shape as C,H,W (or HxW for one channel): DA3D and A3 then use a
    /// convolutional autoencoder; a shape whose C H W is not the data's width is refused.
    /// Other models ignore it.
    #[arg(long, value_parser = image)]
    pub image: Option<Chw>,
    /// Set the model's threshold to flag this share of its training rows (PyOD's
    /// contamination, in (0, 0.5]; with --data, 0.1 unless another threshold is given); it is
    /// saved with the model and `oddity score` flags rows by it.
    #[arg(long)]
    pub contamination: Option<f64>,
    /// With --data: the threshold is this percentile (0 to 100) of the scores of held-out rows
    /// (their normal ones where labels are named), the report's practice.
    #[arg(long)]
    pub threshold_percentile: Option<f64>,
    /// With --data: this threshold, as given.
    #[arg(long)]
    pub threshold: Option<f64>,
    /// Save the trained model here (safetensors).
    #[arg(long)]
    pub save: Option<std::path::PathBuf>,
    /// Print a JSON object as the last line.
    #[arg(long)]
    pub json: bool,
}

/// The label column of a CSV file and the value that marks an anomaly.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct Labels {
    /// The CSV label column (normal / anomaly).
    #[arg(long)]
    pub label_col: Option<String>,
    /// The label value that marks an anomaly (needed unless the labels are 0 and 1).
    #[arg(long)]
    pub anomaly_label: Option<String>,
}

impl Args {
    /// The registry settings these flags give (each model takes what it uses).
    pub fn settings(&self) -> Settings {
        Settings {
            seed: self.seed,
            max_epochs: self.max_epochs,
            batch: self.batch,
            lr: self.lr,
            hidden: self.hidden.clone(),
            nu: self.nu,
            gamma: self.gamma,
            solver: self.solver,
            components: self.components,
            standardise: self.standardise.then_some(true),
            image: self.image,
            ..self.iterative.settings()
        }
    }
}

/// A time series' flags (`crate::series` runs them).
#[derive(clap::Args, Clone, Debug, Default)]
pub struct SeriesArgs {
    /// A time series CSV file (a header, one point a line) whose sliding windows are the rows
    /// (instead of --dataset or --data); --label-col names its labels.
    #[arg(long, requires = "value_col", conflicts_with_all = ["dataset", "data", "train", "test"])]
    pub series: Option<std::path::PathBuf>,
    /// The series' value columns, comma-separated (one or more; each step of a window holds
    /// one value of each).
    #[arg(long, value_delimiter = ',', requires = "series")]
    pub value_col: Vec<String>,
    /// Points a window (seq2seq's steps).
    #[arg(long, default_value_t = 64, requires = "series")]
    pub window: usize,
    /// Points from one window's start to the next's (default 1: every window; longer than the
    /// window is allowed and leaves points unscored).
    #[arg(long, requires = "series")]
    pub stride: Option<usize>,
    /// Train on the first N points (the scaling fitted on them); the rest are scored and
    /// evaluated. Default: train on every point and score every point.
    #[arg(long, conflicts_with = "train_series")]
    pub train_points: Option<usize>,
    /// A series to train on (the same value columns; e.g. a UCR _TRAIN file); --series is
    /// then scored and evaluated.
    #[arg(long, requires = "series")]
    pub train_series: Option<std::path::PathBuf>,
    /// One label a point (0 or 1 a line, a header allowed) instead of --label-col.
    #[arg(long, conflicts_with = "label_col", requires = "series")]
    pub labels_file: Option<std::path::PathBuf>,
    /// Write each scored point's number, values, score and label here (CSV).
    #[arg(long, requires = "series")]
    pub scores_out: Option<std::path::PathBuf>,
    /// Draw the series, its scores and its true anomalies here (SVG).
    #[arg(long, requires = "series")]
    pub plot: Option<std::path::PathBuf>,
}

/// The iterative detector's options (other models ignore them).
#[derive(clap::Args, Clone, Debug, Default)]
pub struct IterativeArgs {
    /// The iterative detector's clustering for its first training set: kmeans (default) or
    /// gmm (a diagonal Gaussian mixture, each row in its most responsible component).
    #[arg(long, value_parser = clustering)]
    pub clustering: Option<Clustering>,
    /// The iterative detector's first set: the clusters at or below the (100 - p0)th
    /// percentile of the clusters' variances, p0 in [0, 100) (default 30).
    #[arg(long)]
    pub p0: Option<f32>,
    /// The iterative detector's later sets: the rows at or below the (100 - p)th percentile of
    /// the reconstruction errors, p in [0, 100) (default 10).
    #[arg(long)]
    pub p: Option<f32>,
    /// The iterative detector's rounds of training and re-selection (default 5).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub rounds: Option<u32>,
    /// The iterative detector's reconstruction error: angle (the arccos of the cosine
    /// similarity, default) or squared.
    #[arg(long, value_parser = recon_error)]
    pub error: Option<ReconError>,
}

impl IterativeArgs {
    /// The default settings with these options.
    pub fn settings(&self) -> Settings {
        Settings {
            clustering: self.clustering,
            p0: self.p0,
            p: self.p,
            rounds: self.rounds,
            recon_error: self.error,
            ..Settings::default()
        }
    }
}

impl Labels {
    pub fn csv_options(&self, format: &CsvFormat) -> CsvOptions {
        CsvOptions {
            label: self.label_col.clone(),
            anomaly_label: self.anomaly_label.clone(),
            class: None,
            ..format.options()
        }
    }
}

/// How a CSV file is written: its separator and its missing-value markers.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct CsvFormat {
    /// The field separator: one character (`;`, `|`, `\t` for a tab).
    #[arg(long, value_parser = delimiter)]
    pub delimiter: Option<u8>,
    /// Values that mark a missing value, comma-separated (e.g. `?,NA`); an empty field is
    /// then missing too. A numeric column's missing values are filled with the mean of its
    /// present values, a categorical column's give 0 in each of its one-hot features.
    #[arg(long, value_delimiter = ',')]
    pub missing: Vec<String>,
}

impl CsvFormat {
    pub fn options(&self) -> CsvOptions {
        CsvOptions {
            delimiter: self.delimiter,
            missing: self.missing.clone(),
            ..CsvOptions::default()
        }
    }
}

/// `--solver`: auto, exact or fourier.
/// `--image`: `C,H,W` or `HxW` (one channel), each at least 1.
fn image(s: &str) -> Result<Chw, String> {
    let parts: Vec<&str> = if s.contains('x') {
        std::iter::once("1").chain(s.split('x')).collect()
    } else {
        s.split(',').collect()
    };
    let nums: Vec<u32> = parts
        .iter()
        .map(|p| p.trim().parse::<u32>().ok().filter(|&v| v > 0))
        .collect::<Option<_>>()
        .ok_or_else(|| format!("{s:?}: C,H,W or HxW, each a whole number of at least 1"))?;
    match nums[..] {
        [c, h, w] => Ok(Chw::new(c, h, w)),
        _ => Err(format!(
            "{s:?}: C,H,W or HxW, each a whole number of at least 1"
        )),
    }
}

fn solver(s: &str) -> Result<OcsvmSolver, String> {
    OcsvmSolver::parse(s).ok_or_else(|| format!("{s:?}: one of auto, exact, fourier"))
}

fn clustering(s: &str) -> Result<Clustering, String> {
    Clustering::parse(s).ok_or_else(|| format!("{s:?}: one of kmeans, gmm"))
}

fn recon_error(s: &str) -> Result<ReconError, String> {
    ReconError::parse(s).ok_or_else(|| format!("{s:?}: one of angle, squared"))
}

/// `--delimiter`: one ASCII character, `\t` (or `tab`) for a tab.
fn delimiter(s: &str) -> Result<u8, String> {
    match s {
        "\\t" | "tab" | "\t" => Ok(b'\t'),
        _ => match s.as_bytes() {
            [b] if b.is_ascii() && *b != b'"' && *b != b'\n' && *b != b'\r' => Ok(*b),
            _ => Err(format!(
                "{s:?}: one ASCII character (not a quote or a line break), or \\t for a tab"
            )),
        },
    }
}

pub fn setting(s: &str) -> oddity::Result<Setting> {
    Setting::parse(s).ok_or_else(|| Error::Invalid {
        what: "setting",
        detail: format!("{s:?}; one of 1, 2, 3"),
    })
}

/// A built-in source; for toy2d, `toy_rows` of each kind.
pub fn source(dataset: &str, toy_rows: usize) -> oddity::Result<AbcSource> {
    if dataset == "toy2d" && toy_rows < 10 {
        return Err(Error::Invalid {
            what: "toy rows",
            detail: format!("{toy_rows}; at least 10"),
        });
    }
    Ok(AbcSource::named(dataset, toy_rows)?)
}

/// Trains registry detector `model` on `split` with `settings` and evaluates it; `on_epoch`
/// hears of each epoch of a detector trained by epochs.
pub fn evaluate(
    gpu: &Gpu,
    split: &AbcSplit,
    model: &str,
    settings: &Settings,
    on_epoch: Option<oddity::models::EpochHook>,
) -> oddity::Result<(Box<dyn Detector>, Evaluation, f64)> {
    let entry = registry::detector(model)?;
    let shape = DataShape {
        name: split.name.clone(),
        inputs: split.cols as u32,
        classes: None,
    };
    let mut detector = entry.build_with(gpu, entry.config(&shape, settings)?)?;
    detector.core_mut().on_epoch = on_epoch;
    let start = Instant::now();
    let ev = fit_and_evaluate(detector.as_mut(), split)?;
    Ok((detector, ev, start.elapsed().as_secs_f64()))
}

/// The split `a` asks for: a built-in one or one from CSV files.
fn split_of(a: &Args) -> oddity::Result<AbcSplit> {
    let (Some(train), None) = (&a.train, &a.dataset) else {
        let name = a.dataset.as_deref().unwrap_or_default();
        let setting = setting(&a.setting)?;
        return Ok(source(name, a.toy_rows)?.split(setting, a.seed, a.max_rows)?);
    };
    if a.setting != "1" {
        return Err(Error::Invalid {
            what: "setting",
            detail: "settings 2 and 3 are for the built-in splits, not --train".into(),
        });
    }
    let opts = a.labels.csv_options(&a.format);
    let data = Dataset::from_csv(train, &opts)?;
    for line in data.schema.encoding() {
        eprintln!("{}: {line}", train.display());
    }
    let test = match &a.test {
        Some(t) => Some(Dataset::from_csv_with_schema(t, &data.schema, &opts)?),
        None => None,
    };
    Ok(labelled_split(&data, test.as_ref(), a.seed)?)
}

/// A metric for printing: 4 decimals, or "-" where the test set had no such rows.
pub fn shown(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{v:.4}"))
}

pub fn run(a: &Args) -> oddity::Result<()> {
    registry::detector(&a.model)?;
    if a.threshold_percentile.is_some() || a.threshold.is_some() {
        return Err(Error::Invalid {
            what: "threshold",
            detail: "--threshold-percentile and --threshold go with --data".into(),
        });
    }
    if let Some(path) = &a.save {
        crate::checks::output_file("--save", path)?;
    }
    let split = split_of(a)?;
    let gpu = Gpu::new()?;
    let adapter = gpu.adapter_name();
    eprintln!(
        "{}: {} training rows, {} test rows, {} features; {} on {adapter}",
        split.name,
        split.train_rows(),
        split.test_rows(),
        split.cols,
        a.model
    );
    let split_name = split.name.clone();
    let settings = a.settings();
    // Each epoch as it ends: a bar on a terminal, else a line (training can take minutes).
    // The bar's length: the flag, else the early-stopping detectors' default (the hook
    // reports each epoch against the model's own limit).
    let progress = std::sync::Arc::new(crate::progress::Progress::new(u64::from(
        a.max_epochs.unwrap_or(100),
    )));
    let bar = progress.clone();
    let hook: oddity::models::EpochHook = std::sync::Arc::new(move |e| {
        bar.done(format!(
            "{} epoch {}/{}: validation loss {:.6} (best epoch {})",
            split_name, e.epoch, e.max_epochs, e.val_loss, e.best_epoch
        ));
    });
    let (mut model, ev, seconds) = evaluate(&gpu, &split, &a.model, &settings, Some(hook))?;
    progress.finish();
    if ev.fit.diverged {
        eprintln!(
            "{}: training diverged at epoch {} (the validation loss became NaN or infinite); the \
             model of epoch {}, the best before it, is kept",
            a.model, ev.fit.epochs, ev.fit.best_epoch
        );
    }
    outln!(
        "{}: known AUROC {} AP {}; unknown AUROC {} AP {}; {} epochs (best {}), {:.1} s",
        a.model,
        shown(ev.known_auroc),
        shown(ev.known_ap),
        shown(ev.unknown_auroc),
        shown(ev.unknown_ap),
        ev.fit.epochs,
        ev.fit.best_epoch,
        seconds
    );
    if let Some(rate) = a.contamination {
        let train = training_rows(&split, !model.supervised());
        let t = Threshold::contamination(&model.score(&train)?, rate)?;
        let flagged = t.flags(&ev.test_scores).iter().filter(|&&f| f == 1).count();
        outln!(
            "threshold {:.6} (contamination {rate} of the training rows): flags {flagged} of {} test rows",
            t.value,
            ev.test_scores.len()
        );
        model.set_threshold(Some(t))?;
    }
    if let Some(path) = &a.save {
        model.save(path)?;
        eprintln!("saved {}", path.display());
    }
    if a.json {
        outln!(
            "{}",
            serde_json::json!({
                "model": a.model, "dataset": split.name, "setting": a.setting, "seed": a.seed,
                "known_auroc": ev.known_auroc, "unknown_auroc": ev.unknown_auroc,
                "known_ap": ev.known_ap, "unknown_ap": ev.unknown_ap,
                "epochs": ev.fit.epochs, "best_epoch": ev.fit.best_epoch,
                "threshold": model.threshold().map(|t| t.value),
                "seconds": seconds, "adapter": adapter,
            })
        );
    }
    Ok(())
}
