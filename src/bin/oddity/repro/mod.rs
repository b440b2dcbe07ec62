//! `oddity repro NAME`: the papers' experiments.

mod abc;
mod da3d;
mod iterative;
mod series;
mod uai;

#[derive(clap::Subcommand)]
pub enum Experiment {
    /// "Deep Active Learning for Anomaly Detection": found-at-budget for DAE, DAE_uai, Class
    /// and Class_uai on X_0, X_0-2 and X_hard.
    Uai(uai::UaiArgs),
    /// "Autoencoding Binary Classifiers for Supervised Anomaly Detection": known- and
    /// unknown-anomaly AUROC of ABC, LRC, AE, DAE and DNN, and Figure 5's error curves.
    Abc(abc::Args),
    /// "Double-Adversarial Activation Anomaly Detection" (Table 2's protocol): AUROC and AP of
    /// DA3D, its simple variant, A3, Deep SVDD and DAGMM with some classes normal, clean and
    /// polluted.
    Da3d(da3d::Args),
    /// Li et al.'s contaminated training sets: AUROC and AP of the iterative detector, a plain
    /// autoencoder, OCSVM and DAGMM with 5%, 10% and 20% anomalies in training.
    Iterative(iterative::Args),
    /// The report's sequence-to-sequence LSTM on labelled series (UCR InternalBleeding16,
    /// Yahoo, MIT-BIH): AUROC, AP and the best F1 per point beside the dense autoencoder and
    /// PCA on the same windows, and pictures of the series with their scores.
    Series(series::Args),
}

pub fn run(e: &Experiment) -> oddity::Result<()> {
    match e {
        Experiment::Uai(a) => uai::run(a),
        Experiment::Abc(a) => abc::run(a),
        Experiment::Da3d(a) => da3d::run(a),
        Experiment::Iterative(a) => iterative::run(a),
        Experiment::Series(a) => series::run(a),
    }
}

/// The default datasets of an experiment: `built_in`, and the Fashion-MNIST ones `fmnist`
/// when it is installed and the adapter is not a software one (there a line says how to ask
/// for them anyway).
fn default_datasets(gpu: &oddity::Gpu, built_in: &[&str], fmnist: &[&str]) -> Vec<String> {
    let mut d: Vec<String> = built_in.iter().map(|s| s.to_string()).collect();
    let installed = std::path::Path::new(oddity::data::FASHION_MNIST_DIR).exists();
    if installed && gpu.summary().device_type != "Cpu" {
        d.extend(fmnist.iter().map(|s| s.to_string()));
    } else if installed {
        eprintln!(
            "Fashion-MNIST left out on the software adapter; ask for it with --datasets {} --max-rows 6000",
            fmnist.join(",")
        );
    }
    d
}

/// Mean and (population) standard deviation, as numpy's `mean` and `std`.
fn mean_std(v: &[f64]) -> (f64, f64) {
    let n = v.len().max(1) as f64;
    let m = v.iter().sum::<f64>() / n;
    (
        m,
        (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / n).sqrt(),
    )
}

/// An experiment runs at least one seed.
fn check_seeds(seeds: u32) -> oddity::Result<()> {
    if seeds == 0 {
        return Err(oddity::Error::Invalid {
            what: "seeds",
            detail: "must be at least 1".into(),
        });
    }
    Ok(())
}
