//! `oddity active`: Algorithm 1 from the command line, with the ground truth, a person at the
//! terminal, or a labels file as the oracle; a progress bar on stderr; the curve of anomalies
//! found against labels spent as a table, JSON, CSV and an SVG plot.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Instant;

use oddity::active::{
    ActiveConfig, ActiveModel, ActiveRun, ActiveUai, FileOracle, GroundTruth, Interactive, Journal,
    JournalHeader, Oracle,
};
use oddity::data::{CsvOptions, Dataset};
use oddity::gpu::GpuBuffer;
use oddity::models::{UaiConfig, UaiModel};
use oddity::nn::{AutoencoderConfig, Optimizer};
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
    /// Models, comma-separated: dae-uai, dae, class-uai, class.
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
    /// Write the curves (CSV) and a plot (SVG) here.
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
    #[arg(long, default_value_t = 1000)]
    pub pretrain_steps: u32,
    #[arg(long, default_value_t = 100)]
    pub active_steps: u32,
    /// Encoder widths (default: 256,64,8 for inputs over 256 features, else 32,16,8).
    #[arg(long, value_delimiter = ',')]
    pub hidden: Option<Vec<u32>>,
    #[arg(long, default_value_t = 64)]
    pub batch: u32,
    /// RMSprop learning rate.
    #[arg(long, default_value_t = 0.01)]
    pub lr: f32,
    /// Input noise of the denoising autoencoder.
    #[arg(long, default_value_t = 0.1)]
    pub noise: f32,
    /// Standard deviation of the UAI head's Gaussian prior around its start (logit = s(x));
    /// 0 fits the head without a prior.
    #[arg(long, default_value_t = oddity::models::HEAD_PRIOR_STD)]
    pub head_prior: f32,
    /// How the dataset is stored on the GPU: f16 halves what scoring reads (values rounded
    /// to f16; all arithmetic stays f32).
    #[arg(long, default_value = "f32", value_parser = crate::parse::<oddity::data::Precision>)]
    pub precision: oddity::data::Precision,
}

impl Training {
    /// A set-up with the command line's defaults for learning rate (0.01), noise (0.1) and
    /// head prior.
    pub fn with(
        pretrain_steps: u32,
        active_steps: u32,
        hidden: Option<Vec<u32>>,
        batch: u32,
    ) -> Training {
        Training {
            pretrain_steps,
            active_steps,
            hidden,
            batch,
            lr: 0.01,
            noise: 0.1,
            head_prior: oddity::models::HEAD_PRIOR_STD,
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

/// One model's run.
pub struct Outcome {
    pub model: String,
    pub found: u32,
    pub spent: u32,
    pub curve: Vec<u32>,
    pub seconds: f64,
}

pub fn load(gpu: &Gpu, a: &Args) -> oddity::Result<Dataset> {
    match (&a.dataset, &a.data) {
        (Some(name), None) => {
            let mut base = oddity::data::base_dataset(name)?;
            if let Some(n) = a.max_rows {
                base = base.subsample(n, a.seed);
            }
            let mut d = if name == "digitshard" || name == "fmnisthard" {
                oddity::data::construct_hard(gpu, &base, a.seed)?
            } else {
                oddity::data::named_from(name, &base, a.seed)?
            };
            d.name = name.clone();
            Ok(d)
        }
        (None, Some(path)) => {
            let mut opts = CsvOptions::default();
            if let Some(c) = &a.label_col {
                opts = opts.label(c);
            }
            if let Some(v) = &a.anomaly_label {
                opts = opts.anomaly_label(v);
            }
            if let Some(c) = &a.class_col {
                opts = opts.class(c);
            }
            let d = Dataset::from_csv(path, &opts)?;
            Ok(match a.max_rows {
                Some(n) => d.subsample(n, a.seed),
                None => d,
            })
        }
        _ => Err(Error::Invalid {
            what: "data",
            detail: "give --dataset NAME or --data FILE.csv".into(),
        }),
    }
}

pub fn build(
    name: &str,
    gpu: &Gpu,
    data: &Dataset,
    a: &Args,
) -> oddity::Result<Box<dyn ActiveModel>> {
    let dim = data.cols as u32;
    let hidden = a.train.hidden.clone().unwrap_or_else(|| {
        if dim > 256 {
            vec![256, 64, 8]
        } else {
            vec![32, 16, 8]
        }
    });
    let ae = AutoencoderConfig {
        batch: a.train.batch,
        seed: a.seed,
        noise_std: a.train.noise,
        optimizer: Optimizer::rmsprop(a.train.lr),
        ..AutoencoderConfig::dae(dim, &hidden)
    };
    let classes = || -> oddity::Result<(GpuBuffer, u32)> {
        let cls = data.class.as_ref().ok_or_else(|| Error::Invalid {
            what: "model",
            detail: format!(
                "{name} predicts each row's class, and {} has none (for CSV data: --class-col)",
                data.name
            ),
        })?;
        let count = cls.iter().max().map_or(0, |m| m + 1);
        Ok((gpu.upload(cls, "classes")?, count))
    };
    let prior = (a.train.head_prior != 0.0).then_some(a.train.head_prior);
    let config = match name {
        "dae" => UaiConfig::new(ae).without_head(),
        "dae-uai" => UaiConfig {
            head_prior_std: prior,
            ..UaiConfig::new(ae)
        },
        "class" | "class-uai" => {
            let (buf, count) = classes()?;
            let cfg = UaiConfig {
                head_prior_std: prior,
                ..UaiConfig::class(ae, count)
            };
            let cfg = if name == "class" {
                cfg.without_head()
            } else {
                cfg
            };
            return Ok(Box::new(ActiveUai::new(
                UaiModel::new(gpu, cfg)?,
                Some(buf),
            )));
        }
        other => {
            return Err(Error::Invalid {
                what: "model",
                detail: format!("{other:?}; available: dae-uai, dae, class-uai, class"),
            });
        }
    };
    Ok(Box::new(ActiveUai::new(UaiModel::new(gpu, config)?, None)))
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

/// Runs every model of `a` on its data; prints the table (and JSON), writes `--out`.
pub fn run(a: &Args) -> oddity::Result<Vec<Outcome>> {
    let gpu = Gpu::new()?;
    let data = load(&gpu, a)?;
    let budget = budget_for(&data, a.budget)?;
    if a.journal.is_some() && a.model.len() > 1 {
        return Err(Error::Invalid {
            what: "journal",
            detail: "a journal belongs to one model's run; give one --model".into(),
        });
    }
    let adapter = gpu.adapter_name();
    eprintln!(
        "{}: {} rows x {} features, {} anomalies; adapter {adapter}",
        data.name,
        data.rows,
        data.cols,
        data.anomalies()
    );
    let x = data.upload_as(&gpu, a.train.precision)?;
    let outcomes = run_models(&gpu, &data, &x, a, budget, true)?;
    print_table(&data, budget, a.k, &outcomes);
    if let Some(dir) = &a.out {
        write_out(dir, &data, a.k, &outcomes)?;
    }
    if a.json {
        for o in &outcomes {
            let obj = serde_json::json!({
                "model": o.model, "dataset": data.name, "n": data.rows, "anomalies_total": data.anomalies(),
                "budget": budget, "k": a.k, "found": o.found, "curve": o.curve, "seconds": o.seconds, "adapter": adapter,
                "precision": a.train.precision,
            });
            println!("{obj}");
        }
    }
    Ok(outcomes)
}

/// `--budget`, or twice the anomalies when the data has ground truth.
pub fn budget_for(data: &Dataset, budget: Option<u32>) -> oddity::Result<u32> {
    match (budget, data.anomaly.is_some()) {
        (Some(b), _) => Ok(b),
        (None, true) => Ok((2 * data.anomalies() as u32).max(1)),
        (None, false) => Err(Error::Invalid {
            what: "budget",
            detail: "the data has no ground truth: give --budget".into(),
        }),
    }
}

/// Algorithm 1 for every model of `a` on `data` (already uploaded as `x`), with `a`'s oracle
/// and journal; a progress bar on stderr when `progress` and stderr is a terminal.
/// The training set-up in words, for the journal header.
fn training_words(a: &Args) -> String {
    let t = &a.train;
    let hidden = t.hidden.as_ref().map_or("default".to_string(), |h| {
        h.iter().map(u32::to_string).collect::<Vec<_>>().join(",")
    });
    format!(
        "hidden {hidden}, batch {}, lr {}, noise {}, head prior {}, class column {}",
        t.batch,
        t.lr,
        t.noise,
        t.head_prior,
        a.class_col.as_deref().unwrap_or("default")
    )
}

pub fn run_models(
    gpu: &Gpu,
    data: &Dataset,
    x: &oddity::Tensor,
    a: &Args,
    budget: u32,
    progress: bool,
) -> oddity::Result<Vec<Outcome>> {
    let config = ActiveConfig {
        k: a.k,
        budget,
        pretrain_steps: a.train.pretrain_steps,
        active_steps: a.train.active_steps,
    };
    let mut outcomes = Vec::new();
    for name in &a.model {
        let mut model = build(name, gpu, data, a)?;
        let journal = match &a.journal {
            Some(p) => {
                let header = JournalHeader {
                    oddity_journal: 1,
                    dataset: data.name.clone(),
                    rows: data.rows as u32,
                    model: model.name(),
                    seed: a.seed,
                    k: a.k,
                    budget,
                    pretrain_steps: a.train.pretrain_steps,
                    active_steps: a.train.active_steps,
                    training: training_words(a),
                };
                Some(Journal::open(p, &header)?)
            }
            None => None,
        };
        let mut oracle = oracle(&a.oracle)?;
        let start = Instant::now();
        let mut run = ActiveRun::new(gpu, model.as_mut(), data, x, config, journal)?;
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
        let mut stopped = false;
        while let Some(query) = run.next_query()? {
            let audit = oracle.audit(data, &query)?;
            if !audit.answers.is_empty() {
                run.record(&audit.answers)?;
            }
            bar.set_position(u64::from(run.spent()));
            bar.set_message(format!("{} anomalies found", run.found()));
            if audit.stop {
                stopped = true;
                break;
            }
        }
        bar.finish_and_clear();
        if stopped {
            eprintln!(
                "stopped after {} labels; resume with the same --journal",
                run.spent()
            );
        }
        outcomes.push(Outcome {
            model: name.clone(),
            found: run.found(),
            spent: run.spent(),
            curve: run.curve().to_vec(),
            seconds: start.elapsed().as_secs_f64(),
        });
    }
    Ok(outcomes)
}

fn print_table(data: &Dataset, budget: u32, k: u32, outcomes: &[Outcome]) {
    println!(
        "{}: anomalies found vs labels spent ({} anomalies in {} rows, budget {budget}, k {k})",
        data.name,
        data.anomalies(),
        data.rows
    );
    print!("{:>8}", "labels");
    for o in outcomes {
        print!("{:>10}", o.model);
    }
    println!();
    let rounds = outcomes.iter().map(|o| o.curve.len()).max().unwrap_or(0);
    for r in 0..rounds {
        print!("{:>8}", ((r as u32 + 1) * k).min(budget));
        for o in outcomes {
            match o.curve.get(r) {
                Some(f) => print!("{f:>10}"),
                None => print!("{:>10}", ""),
            }
        }
        println!();
    }
    for o in outcomes {
        println!(
            "{}: {} of {} anomalies with {} labels ({:.1} s)",
            o.model,
            o.found,
            data.anomalies(),
            o.spent,
            o.seconds
        );
    }
}

fn write_out(
    dir: &std::path::Path,
    data: &Dataset,
    k: u32,
    outcomes: &[Outcome],
) -> oddity::Result<()> {
    use plotters::prelude::*;
    let io = |e: std::io::Error| {
        Error::Data(oddity::data::DataError::Io {
            path: dir.display().to_string(),
            source: e,
        })
    };
    std::fs::create_dir_all(dir).map_err(io)?;
    let mut csv = String::from("model,round,labels,found\n");
    for o in outcomes {
        for (r, f) in o.curve.iter().enumerate() {
            csv.push_str(&format!(
                "{},{},{},{}\n",
                o.model,
                r + 1,
                ((r as u32 + 1) * k).min(o.spent),
                f
            ));
        }
    }
    std::fs::write(dir.join(format!("{}-curve.csv", data.name)), csv).map_err(io)?;
    let path = dir.join(format!("{}-curve.svg", data.name));
    let max_x = outcomes.iter().map(|o| o.spent).max().unwrap_or(1).max(1);
    let max_y = (data.anomalies() as u32)
        .max(outcomes.iter().map(|o| o.found).max().unwrap_or(1))
        .max(1);
    let plot_err = |e: String| Error::Invalid {
        what: "plot",
        detail: e,
    };
    let root = SVGBackend::new(&path, (720, 480)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| plot_err(e.to_string()))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!("{}: anomalies found vs labels spent", data.name),
            ("sans-serif", 20),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d(0u32..max_x, 0u32..max_y)
        .map_err(|e| plot_err(e.to_string()))?;
    chart
        .configure_mesh()
        .x_desc("labels spent")
        .y_desc("anomalies found")
        .draw()
        .map_err(|e| plot_err(e.to_string()))?;
    for (i, o) in outcomes.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        let points: Vec<(u32, u32)> = std::iter::once((0, 0))
            .chain(
                o.curve
                    .iter()
                    .enumerate()
                    .map(|(r, &f)| (((r as u32 + 1) * k).min(o.spent), f)),
            )
            .collect();
        chart
            .draw_series(LineSeries::new(points, color.stroke_width(2)))
            .map_err(|e| plot_err(e.to_string()))?
            .label(o.model.clone())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
    }
    chart
        .configure_series_labels()
        .border_style(BLACK)
        .background_style(WHITE.mix(0.8))
        .draw()
        .map_err(|e| plot_err(e.to_string()))?;
    root.present().map_err(|e| plot_err(e.to_string()))?;
    eprintln!(
        "wrote {} and {}",
        dir.join(format!("{}-curve.csv", data.name)).display(),
        path.display()
    );
    Ok(())
}
