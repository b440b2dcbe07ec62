//! `oddity active`: Algorithm 1 from the command line, with the ground truth, a person at the
//! terminal, or a labels file as the oracle; a progress bar on stderr; the curve of anomalies
//! found against labels spent as a table, JSON, CSV and an SVG plot; every row's final score,
//! the rows asked with their answers, and the trained model, beside the curves.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use oddity::active::{
    ActiveConfig, FileOracle, GroundTruth, Interactive, Oracle, Outcome, RunSpec, budget_for,
    run_model,
};
use oddity::data::{CsvOptions, Dataset};
use oddity::datasets::{DataRequest, DataSource};
use oddity::models::Settings;
use oddity::{Error, Gpu};

#[derive(clap::Args, Clone)]
pub struct Args {
    /// A built-in dataset: digits0, digits02, digitshard, fmnist0, fmnist02, fmnisthard.
    #[arg(long, conflicts_with = "data")]
    pub dataset: Option<String>,
    /// Use at most this many rows of the data (drawn at random with --seed; for a built-in
    /// dataset, of the base set before the anomalies are constructed).
    #[arg(long)]
    pub max_rows: Option<usize>,
    /// A CSV file with a header row.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// The CSV column with normal / anomaly labels.
    #[arg(long)]
    pub label_col: Option<String>,
    /// The label value that marks an anomaly (default: 1 when the labels are 0/1).
    #[arg(long)]
    pub anomaly_label: Option<String>,
    /// The CSV column the Class models predict (a categorical feature).
    #[arg(long)]
    pub class_col: Option<String>,
    #[command(flatten)]
    pub format: crate::fit::CsvFormat,
    /// Models, comma-separated: dae-uai, dae, class-uai, class (`oddity::models::registry`).
    #[arg(long, value_delimiter = ',', default_value = "dae-uai")]
    pub model: Vec<String>,
    /// Labels to spend (default: twice the anomalies when the data has ground truth).
    #[arg(long)]
    pub budget: Option<u32>,
    /// Rows shown per round.
    #[arg(long, default_value_t = 10)]
    pub k: u32,
    #[command(flatten)]
    pub train: Training,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// truth, interactive, or file:PATH.
    #[arg(long, default_value = "truth")]
    pub oracle: String,
    /// Label journal: answers are appended here before use; an existing journal resumes.
    #[arg(long)]
    pub journal: Option<PathBuf>,
    /// Write the curves (CSV) and a plot (SVG) here, and for each model every row's final
    /// score, the rows asked with their answers (CSV) and the trained model (safetensors).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Print one JSON object per model; the last line is the last model's.
    #[arg(long)]
    pub json: bool,
}

/// Training settings of Algorithm 1 and its models, shared by `oddity active` and
/// `oddity repro uai`.
#[derive(clap::Args, Clone)]
pub struct Training {
    /// Pretraining in passes over the data: epochs x rows / batch steps, within 1000 ..= 5000.
    #[arg(long, default_value_t = oddity::active::PRETRAIN_EPOCHS,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub pretrain_epochs: u32,
    /// Pretraining steps, in place of --pretrain-epochs.
    #[arg(long)]
    pub pretrain_steps: Option<u32>,
    #[arg(long, default_value_t = 100)]
    pub active_steps: u32,
    /// Encoder widths (default: 256,64,8 for inputs over 256 features, else 32,16,L for the
    /// DAE with the code L = features / 8 within 2 ..= 8, and 32,16,8 for Class).
    #[arg(long, value_delimiter = ',')]
    pub hidden: Option<Vec<u32>>,
    /// Rows per minibatch (default: 64, or every row of data with fewer).
    #[arg(long)]
    pub batch: Option<u32>,
    /// RMSprop learning rate (default: 0.002 for the DAE models up to 256 features, else the
    /// paper's 0.01, which Class always uses).
    #[arg(long)]
    pub lr: Option<f32>,
    /// Input noise of the denoising autoencoder.
    #[arg(long, default_value_t = 0.1)]
    pub noise: f32,
    /// Standard deviation of the UAI head's Gaussian prior on its latent weights and its log
    /// weight on the standardised score, around its start (the base network's ranking; the
    /// bias is free); 0 fits the head without a prior.
    #[arg(long, default_value_t = oddity::models::HEAD_PRIOR_STD)]
    pub head_prior: f32,
    /// The minibatches the UAI head's standardisation of the score averages over (a running
    /// mean and deviation; 1: each step's minibatch alone). Default: 1 for DAE_uai, 100 for
    /// Class_uai, whose cross-entropy's deviation varies 30-fold between minibatches.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub head_stats_window: Option<u32>,
    /// How the dataset is stored on the GPU: f16 halves what scoring reads (values rounded
    /// to f16; all arithmetic stays f32).
    #[arg(long, default_value = "f32", value_parser = crate::parse::<oddity::data::Precision>)]
    pub precision: oddity::data::Precision,
}

/// The minibatch when --batch is not given.
pub const DEFAULT_BATCH: u32 = 64;

impl Training {
    /// Pretraining steps on data of `rows` rows: --pretrain-steps, else --pretrain-epochs'.
    pub fn pretrain_steps_for(&self, rows: usize) -> u32 {
        self.pretrain_steps.unwrap_or_else(|| {
            oddity::active::pretrain_steps(rows, self.batch_for(rows), self.pretrain_epochs)
        })
    }

    /// The minibatch for data of `rows` rows: --batch (refused when more than the rows),
    /// else 64, or `rows` when fewer.
    pub fn batch_for(&self, rows: usize) -> u32 {
        self.batch
            .unwrap_or_else(|| DEFAULT_BATCH.min(u32::try_from(rows).unwrap_or(u32::MAX)))
    }

    /// How pretraining is set, in words.
    pub fn pretraining(&self) -> String {
        match self.pretrain_steps {
            Some(s) => format!("{s} steps"),
            None => format!(
                "{} epochs ({} ..= {} steps)",
                self.pretrain_epochs,
                oddity::active::PRETRAIN_MIN_STEPS,
                oddity::active::PRETRAIN_MAX_STEPS
            ),
        }
    }

    /// The registry settings these flags give, with `seed`, for data of `rows` rows.
    pub fn settings(&self, seed: u64, rows: usize) -> Settings {
        Settings {
            seed,
            hidden: self.hidden.clone(),
            batch: Some(self.batch_for(rows)),
            lr: self.lr,
            noise: Some(self.noise),
            head_prior: Some(self.head_prior),
            head_stats_window: self.head_stats_window,
            max_epochs: None,
            steps: Some(self.pretrain_steps_for(rows)),
            ..Settings::default()
        }
    }

    /// Algorithm 1's settings with `k` and `budget`, for data of `rows` rows.
    pub fn config(&self, k: u32, budget: u32, rows: usize) -> ActiveConfig {
        ActiveConfig {
            k,
            budget,
            pretrain_steps: self.pretrain_steps_for(rows),
            active_steps: self.active_steps,
        }
    }
}

impl Training {
    /// A set-up with the command line's defaults for pretraining epochs (unless
    /// `pretrain_steps`), learning rate (the model's), noise (0.1) and head prior.
    pub fn with(
        pretrain_steps: Option<u32>,
        active_steps: u32,
        hidden: Option<Vec<u32>>,
        batch: u32,
    ) -> Training {
        Training {
            pretrain_epochs: oddity::active::PRETRAIN_EPOCHS,
            pretrain_steps,
            active_steps,
            hidden,
            batch: Some(batch),
            lr: None,
            noise: 0.1,
            head_prior: oddity::models::HEAD_PRIOR_STD,
            head_stats_window: None,
            precision: oddity::data::Precision::F32,
        }
    }
}

impl Args {
    /// A run with the ground truth as the oracle, the budget from the data, no files, journal
    /// or JSON: what the demo, `repro uai` and `bench` start from.
    pub fn ground_truth(
        dataset: Option<String>,
        model: Vec<String>,
        k: u32,
        train: Training,
        seed: u64,
    ) -> Args {
        Args {
            dataset,
            data: None,
            max_rows: None,
            label_col: None,
            anomaly_label: None,
            class_col: None,
            format: Default::default(),
            model,
            budget: None,
            k,
            train,
            seed,
            oracle: "truth".into(),
            journal: None,
            out: None,
            json: false,
        }
    }
}

/// The dataset `a` names.
pub fn load(gpu: &Gpu, a: &Args) -> oddity::Result<Dataset> {
    let source = match (&a.dataset, &a.data) {
        (Some(name), None) => DataSource::Named(name.clone()),
        (None, Some(path)) => DataSource::Csv {
            path: path.clone(),
            options: CsvOptions {
                label: a.label_col.clone(),
                anomaly_label: a.anomaly_label.clone(),
                class: a.class_col.clone(),
                ..a.format.options()
            },
        },
        _ => {
            return Err(Error::Invalid {
                what: "data",
                detail: "give --dataset NAME or --data FILE.csv".into(),
            });
        }
    };
    oddity::datasets::load(
        gpu,
        &DataRequest {
            source,
            max_rows: a.max_rows,
            seed: a.seed,
        },
    )
}

fn oracle(spec: &str) -> oddity::Result<Box<dyn Oracle>> {
    match spec {
        "truth" => Ok(Box::new(GroundTruth)),
        "interactive" => Ok(Box::new(Interactive {
            input: std::io::stdin().lock(),
            output: std::io::stderr(),
        })),
        s => match s.strip_prefix("file:") {
            Some(p) if !p.is_empty() => Ok(Box::new(FileOracle {
                path: PathBuf::from(p),
            })),
            _ => Err(Error::Invalid {
                what: "oracle",
                detail: format!("{s:?}; use truth, interactive or file:PATH"),
            }),
        },
    }
}

/// Says what an opened journal brings: the rounds it replays, and a torn line cut off.
fn said_journal(j: &oddity::active::Journal) {
    if let Some(line) = j.torn_line() {
        eprintln!(
            "{}: line {line} was cut short (a crash while it was written); its round is asked again",
            j.path().display()
        );
    }
    if !j.rounds.is_empty() {
        eprintln!(
            "resuming from {}: {} rounds ({} answers) are replayed before anything new is asked",
            j.path().display(),
            j.rounds.len(),
            j.answered()
        );
    }
}

/// Runs every model of `a` on its data; prints the table (and JSON), writes `--out`.
pub fn run(a: &Args) -> oddity::Result<Vec<Outcome>> {
    crate::checks::distinct_models(&a.model)?;
    if a.journal.is_some() && a.model.len() > 1 {
        return Err(Error::Invalid {
            what: "journal",
            detail: "a journal belongs to one model's run; give one --model".into(),
        });
    }
    oracle(&a.oracle)?;
    if let Some(dir) = &a.out {
        crate::checks::output_dir("--out", dir)?;
    }
    let gpu = Gpu::new()?;
    let data = load(&gpu, a)?;
    if a.oracle == "truth" && data.anomaly.is_none() {
        return Err(Error::Invalid {
            what: "oracle",
            detail: format!(
                "the default oracle (truth) answers from the data's labels, and {} has none: \
                 name the label column (--label-col), or answer yourself (--oracle interactive \
                 or file:PATH)",
                data.name
            ),
        });
    }
    let budget = budget_for(&data, a.budget)?;
    let adapter = gpu.adapter_name();
    eprintln!(
        "{}: {} rows x {} features, {} anomalies; adapter {adapter}",
        data.name,
        data.rows,
        data.cols,
        data.anomalies()
    );
    for line in data.schema.encoding() {
        eprintln!("{}: {line}", data.name);
    }
    let x = data.upload_as(&gpu, a.train.precision)?;
    let mut outcomes = run_models(&gpu, &data, &x, a, budget, true)?;
    print_table(&data, budget, a.k, &outcomes);
    if let Some(dir) = &a.out {
        write_out(dir, &data, a.k, &mut outcomes)?;
    }
    if a.json {
        for o in &outcomes {
            let obj = serde_json::json!({
                "model": o.model.name(), "dataset": data.name, "n": data.rows, "anomalies_total": data.anomalies(),
                "budget": budget, "k": a.k, "found": o.found, "curve": o.curve, "seconds": o.seconds, "adapter": adapter,
                "precision": a.train.precision,
            });
            outln!("{obj}");
        }
    }
    Ok(outcomes)
}

/// Algorithm 1 for every model of `a` on `data` (already uploaded as `x`), with `a`'s oracle
/// and journal; a progress bar on stderr when `progress` and stderr is a terminal.
pub fn run_models(
    gpu: &Gpu,
    data: &Dataset,
    x: &oddity::tape::DataRows,
    a: &Args,
    budget: u32,
    progress: bool,
) -> oddity::Result<Vec<Outcome>> {
    let settings = a.train.settings(a.seed, data.rows);
    let mut outcomes = Vec::new();
    for name in &a.model {
        let spec = RunSpec {
            model: name,
            settings: &settings,
            config: a.train.config(a.k, budget, data.rows),
            journal: a.journal.as_deref(),
            class_col: a.class_col.as_deref(),
            on_journal: Some(&said_journal),
        };
        let mut oracle = oracle(&a.oracle)?;
        let bar = indicatif::ProgressBar::new(u64::from(budget));
        if !progress || a.oracle == "interactive" || !std::io::stderr().is_terminal() {
            bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
        }
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{prefix} [{bar:30}] {pos}/{len} labels, {msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar.set_prefix(name.clone());
        let outcome = run_model(gpu, data, x, &spec, oracle.as_mut(), |run| {
            bar.set_position(u64::from(run.spent()));
            bar.set_message(format!("{} anomalies found", run.found()));
        })?;
        bar.finish_and_clear();
        if outcome.stopped {
            eprintln!(
                "stopped after {} labels; resume with the same --journal",
                outcome.spent
            );
        }
        outcomes.push(outcome);
    }
    Ok(outcomes)
}

fn print_table(data: &Dataset, budget: u32, k: u32, outcomes: &[Outcome]) {
    outln!(
        "{}: anomalies found vs labels spent ({} anomalies in {} rows, budget {budget}, k {k})",
        data.name,
        data.anomalies(),
        data.rows
    );
    out!("{:>8}", "labels");
    for o in outcomes {
        out!("{:>10}", o.model.name());
    }
    outln!();
    let rounds = outcomes.iter().map(|o| o.curve.len()).max().unwrap_or(0);
    for r in 0..rounds {
        out!("{:>8}", ((r as u32 + 1) * k).min(budget));
        for o in outcomes {
            match o.curve.get(r) {
                Some(f) => out!("{f:>10}"),
                None => out!("{:>10}", ""),
            }
        }
        outln!();
    }
    for o in outcomes {
        outln!(
            "{}: {} of {} anomalies with {} labels ({:.1} s)",
            o.model.name(),
            o.found,
            data.anomalies(),
            o.spent,
            o.seconds
        );
    }
}

/// The curves (CSV and SVG), and for each model its final scores, its queries with their
/// answers, and the model itself.
fn write_out(dir: &Path, data: &Dataset, k: u32, outcomes: &mut [Outcome]) -> oddity::Result<()> {
    let io = |e: std::io::Error| {
        Error::Data(oddity::data::DataError::Io {
            path: dir.display().to_string(),
            source: e,
        })
    };
    std::fs::create_dir_all(dir).map_err(io)?;
    let mut csv = String::from("model,round,labels,found\n");
    for o in outcomes.iter() {
        for (r, f) in o.curve.iter().enumerate() {
            csv.push_str(&format!(
                "{},{},{},{}\n",
                o.model.name(),
                r + 1,
                ((r as u32 + 1) * k).min(o.spent),
                f
            ));
        }
    }
    let curve_csv = dir.join(format!("{}-curve.csv", data.name));
    std::fs::write(&curve_csv, csv).map_err(io)?;
    let svg = dir.join(format!("{}-curve.svg", data.name));
    let curves: Vec<crate::plot::Curve> = outcomes
        .iter()
        .map(|o| crate::plot::Curve {
            label: o.model.name().to_string(),
            points: std::iter::once((0, 0))
                .chain(
                    o.curve
                        .iter()
                        .enumerate()
                        .map(|(r, &f)| (((r as u32 + 1) * k).min(o.spent), f)),
                )
                .collect(),
        })
        .collect();
    crate::plot::found_vs_spent(&svg, &data.name, data.anomalies() as u32, &curves)?;
    eprintln!("wrote {} and {}", curve_csv.display(), svg.display());
    for o in outcomes.iter_mut() {
        let name = o.model.name().to_string();
        let path = |what: &str| dir.join(format!("{}-{name}{what}", data.name));
        let scores = o.scores()?;
        let truth = data.anomaly.as_ref();
        let mut text = String::from(if truth.is_some() {
            "row,score,anomaly\n"
        } else {
            "row,score\n"
        });
        // Rows by their number in the source file (with --max-rows, not the subsample's).
        for (i, s) in scores.iter().enumerate() {
            let row = data.source_row(i as u32);
            match truth {
                Some(t) => text.push_str(&format!("{row},{s},{}\n", t[i])),
                None => text.push_str(&format!("{row},{s}\n")),
            }
        }
        let scores_csv = path("-scores.csv");
        std::fs::write(&scores_csv, text).map_err(io)?;
        let mut text = String::from("round,rank,row,score,answer\n");
        for r in &o.history {
            for (rank, (row, score)) in r.shown.iter().enumerate() {
                let answer = r
                    .answers
                    .iter()
                    .find(|(a, _)| a == row)
                    .map_or("", |(_, a)| a.name());
                text.push_str(&format!(
                    "{},{},{},{score},{answer}\n",
                    r.round + 1,
                    rank + 1,
                    data.source_row(*row)
                ));
            }
        }
        let queries_csv = path("-queries.csv");
        std::fs::write(&queries_csv, text).map_err(io)?;
        let model_file = path(".safetensors");
        o.model.save(&model_file)?;
        eprintln!(
            "wrote {}, {} and {}",
            scores_csv.display(),
            queries_csv.display(),
            model_file.display()
        );
    }
    Ok(())
}
