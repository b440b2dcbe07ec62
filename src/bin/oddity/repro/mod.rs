//! `oddity repro NAME`: the papers' experiments.

mod abc;
mod uai;

#[derive(clap::Subcommand)]
pub enum Experiment {
    /// "Deep Active Learning for Anomaly Detection": found-at-budget for DAE, DAE_uai, Class
    /// and Class_uai on X_0, X_0-2 and X_hard.
    Uai(uai::UaiArgs),
    /// "Autoencoding Binary Classifiers for Supervised Anomaly Detection": known- and
    /// unknown-anomaly AUROC of ABC, LRC, AE, DAE and DNN, and Figure 5's error curves.
    Abc(abc::Args),
}

pub fn run(e: &Experiment) -> oddity::Result<()> {
    match e {
        Experiment::Uai(a) => uai::run(a),
        Experiment::Abc(a) => abc::run(a),
    }
}
