//! `oddity bench`: throughput of the paper's DAE (784-256-64-8, independent decoder, batch
//! 256, RMSprop 0.01) on MNIST-shaped synthetic data: training steps per second (replayed in
//! one submit), dispatches per step, submits and host waits per 100 steps (read from the
//! runtime's counters), and the time to score every row and read the scores back; then the
//! whole of Algorithm 1 with DAE_uai (pretraining, rounds of training, scoring with the fused
//! top-k, the ground truth as the oracle): its wall time, the DAE_uai step's dispatches, host
//! waits per round, and the time of one query (every row scored, top-k read back). Every
//! recorded plan is reported too (`--plans`, and `plans` in the JSON): each dispatch's
//! workgroups, threads and serial length, what a large GPU's occupancy depends on.

use std::time::Instant;

use oddity::Gpu;
use oddity::data::{Dataset, Precision, Schema};
use oddity::gpu::GemmPolicy;
use oddity::models::{Autoencoder, AutoencoderConfig};
use oddity::tape::DispatchReport;

#[derive(clap::Args)]
pub struct Args {
    /// Data rows.
    #[arg(long, default_value_t = 60000)]
    pub rows: u32,
    /// Features per row.
    #[arg(long, default_value_t = 784)]
    pub dim: u32,
    /// Encoder widths (the decoder mirrors them).
    #[arg(long, value_delimiter = ',', default_value = "256,64,8")]
    pub hidden: Vec<u32>,
    #[arg(long, default_value_t = 256)]
    pub batch: u32,
    /// Training steps per timed run.
    #[arg(long, default_value_t = 1000)]
    pub steps: u32,
    /// Timed runs (the median is reported).
    #[arg(long, default_value_t = 3)]
    pub repeats: u32,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Also time each kernel of the step alone (host-timed, `--profile` repeats each).
    #[arg(long, default_value_t = 0)]
    pub profile: u32,
    /// Algorithm 1: pretraining steps (the paper: 5000).
    #[arg(long, default_value_t = 5000)]
    pub pretrain_steps: u32,
    /// Algorithm 1: training steps per round (the paper: 100).
    #[arg(long, default_value_t = 100)]
    pub active_steps: u32,
    /// Algorithm 1: rows shown per round (the paper: 10).
    #[arg(long, default_value_t = 10)]
    pub k: u32,
    /// Algorithm 1: labels to spend (the paper: 1000); 0 leaves Algorithm 1 out.
    #[arg(long, default_value_t = 1000)]
    pub budget: u32,
    /// How the dataset is stored on the GPU (f16: half the bytes for scoring to read).
    #[arg(long, default_value = "f32", value_parser = crate::parse::<oddity::data::Precision>)]
    pub precision: Precision,
    /// Which GEMM kernels the plans use (default: `ODDITY_GEMM`, else auto; tiled: no sliced
    /// K, for comparison; tuned: each product's fastest, timed on the device; gemm, wide,
    /// sliced, huge: that one kernel for every product).
    #[arg(long, value_parser = crate::parse::<GemmPolicy>)]
    pub gemm: Option<GemmPolicy>,
    /// Also time every GEMM product of the DAE's step and scoring pass under each GEMM kernel,
    /// this many launches each (0: no sweep).
    #[arg(long, default_value_t = 0)]
    pub sweep: u32,
    /// Print one JSON object as the last line (with every plan's dispatches: kernel,
    /// workgroups, invocations and serial loop length).
    #[arg(long)]
    pub json: bool,
    /// Also print every plan's dispatches (kernel, workgroups, invocations, serial length).
    #[arg(long)]
    pub plans: bool,
}

/// Each recorded plan of a model by name, as [`oddity::tape::Plan::report`] gives it.
type PlanReports = Vec<(&'static str, Vec<DispatchReport>)>;

/// Algorithm 1's measurements (DAE_uai).
struct Algorithm1 {
    seconds: f64,
    pretrain_steps_per_s: f64,
    dispatches_per_step: f64,
    host_waits_per_round: f64,
    submits_per_round: f64,
    rounds: u32,
    found: u32,
    anomalies: usize,
    query_ms: f64,
    dispatches_per_query: u64,
    kernels: (Vec<(String, f64)>, &'static str),
    plans: PlanReports,
}

/// Algorithm 1 with DAE_uai on `data` as `oddity active` runs it (RMSprop 0.01, noise 0.1, the
/// head prior), the ground truth as the oracle. A first model, with the same set-up, is
/// warmed up and measured alone (step dispatches, pretraining rate, query time); a fresh one
/// then runs the whole algorithm under the clock, through the library's loop.
fn algorithm1(gpu: &Gpu, a: &Args, data: &Dataset) -> oddity::Result<Algorithm1> {
    use oddity::active::{ActiveRun, GroundTruth};
    // The paper's (and the PyTorch scripts') RMSprop 0.01: the same arithmetic as the peers.
    let train = crate::active::Training {
        precision: a.precision,
        lr: Some(0.01),
        ..crate::active::Training::with(
            Some(a.pretrain_steps),
            a.active_steps,
            Some(a.hidden.clone()),
            a.batch,
        )
    };
    let settings = train.settings(a.seed, data.rows);
    let entry = oddity::models::registry::active("dae-uai")?;
    let x = data.upload_as(gpu, a.precision)?;
    let labels = oddity::models::LabelSet::new(gpu, data.rows as u32)?;
    let mut model = entry.build(gpu, data, &settings)?;
    let warm = model.active()?;
    warm.prepare(data, &x, &labels, a.k)?;
    // As with labels of both classes: the head's step and its plain query.
    let both = oddity::models::LabelCounts {
        normal: 1,
        anomalous: 1,
    };
    warm.train(2, both)?;
    warm.query(both)?;
    // Per step: the difference between a run of 101 steps and one of 1 (each run also has its
    // epilogue, the deferred loss values, once).
    let c0 = gpu.counters();
    warm.train(1, both)?;
    let c1 = gpu.counters();
    warm.train(101, both)?;
    let dispatches_per_step =
        ((gpu.counters() - c1).dispatches - (c1 - c0).dispatches) as f64 / 100.0;
    gpu.wait()?;
    let t = Instant::now();
    warm.train(a.pretrain_steps.max(1), Default::default())?;
    gpu.wait()?;
    let pretrain_steps_per_s = f64::from(a.pretrain_steps.max(1)) / t.elapsed().as_secs_f64();
    let mut times = Vec::new();
    let mut dispatches_per_query = 0;
    for _ in 0..a.repeats.max(1) {
        let (t, c0) = (Instant::now(), gpu.counters());
        warm.query(both)?;
        times.push(t.elapsed().as_secs_f64() * 1e3);
        dispatches_per_query = (gpu.counters() - c0).dispatches;
    }
    let kernels = match (a.profile, warm.step_plan()) {
        (0, _) | (_, None) => (Vec::new(), ""),
        (p, Some(plan)) => plan.kernel_times(p)?,
    };
    let plans = warm
        .plans()
        .into_iter()
        .map(|(name, plan)| (name, plan.report()))
        .collect();
    drop(model);

    let mut model = entry.build(gpu, data, &settings)?;
    let active = model.active()?;
    gpu.wait()?;
    let start = Instant::now();
    let mut run = ActiveRun::new(
        gpu,
        active,
        data,
        &x,
        train.config(a.k, a.budget, data.rows),
        None,
    )?;
    // Each round's host waits and submits, from the counters between rounds (the first round
    // includes the pretraining).
    let (mut rounds, mut waits, mut submits, mut last) = (0u32, 0u64, 0u64, gpu.counters());
    run.drive(data, &mut GroundTruth, |_| {
        let now = gpu.counters();
        let c = now - last;
        last = now;
        rounds += 1;
        waits += c.host_waits;
        submits += c.submits;
    })?;
    let found = run.found();
    drop(run);
    gpu.wait()?;
    Ok(Algorithm1 {
        seconds: start.elapsed().as_secs_f64(),
        pretrain_steps_per_s,
        dispatches_per_step,
        host_waits_per_round: waits as f64 / f64::from(rounds.max(1)),
        submits_per_round: submits as f64 / f64::from(rounds.max(1)),
        rounds,
        found,
        anomalies: data.anomalies(),
        query_ms: median(times),
        dispatches_per_query,
        kernels,
        plans,
    })
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

pub fn run(a: &Args) -> oddity::Result<()> {
    if a.steps == 0 || a.repeats == 0 || a.rows == 0 || a.dim == 0 {
        return Err(oddity::Error::Invalid {
            what: "bench size",
            detail: "rows, dim, steps and repeats must be positive".into(),
        });
    }
    let gpu = Gpu::new()?;
    if let Some(g) = a.gemm {
        gpu.set_gemm_policy(g);
    }
    let policy = gpu.gemm_policy();
    let adapter = gpu.adapter_name();
    eprintln!("adapter: {adapter}");
    let (data, truth) =
        oddity::data::synthetic_mnist(a.rows as usize, a.dim as usize, 0.011, a.seed);
    let dataset = Dataset {
        name: "synthetic-mnist".into(),
        rows: a.rows as usize,
        cols: a.dim as usize,
        x: data,
        anomaly: Some(truth),
        class: None,
        schema: Schema::numeric(
            (0..a.dim).map(|i| format!("pixel{i}")),
            &vec![(0.0, 1.0); a.dim as usize],
        ),
        origin: None,
    };
    let x = dataset.upload_as(&gpu, a.precision)?;
    let cfg = AutoencoderConfig {
        batch: a.batch,
        seed: a.seed,
        ..AutoencoderConfig::dae(a.dim, &a.hidden)
    };
    let mut model = Autoencoder::new(&gpu, cfg)?;

    // Warm-up: records the plan and compiles every pipeline.
    model.fit(&x, 2)?;
    gpu.wait()?;
    let before = gpu.counters();
    model.fit(&x, 100)?;
    let per100 = gpu.counters() - before;
    let before = gpu.counters();
    model.fit(&x, 1)?;
    let per1 = gpu.counters() - before;
    gpu.wait()?;
    // Per step, without the run's epilogue (the deferred loss value, once per run).
    let dispatches_per_step = (per100.dispatches - per1.dispatches) as f64 / 99.0;

    let mut rates = Vec::new();
    for _ in 0..a.repeats {
        let t = Instant::now();
        model.fit(&x, a.steps)?;
        gpu.wait()?;
        rates.push(f64::from(a.steps) / t.elapsed().as_secs_f64());
    }
    let steps_per_s = median(rates);

    let (plan, scores, _) = model.score_plan(&x)?;
    plan.run(1)?;
    let mut s = scores.read(&gpu)?;
    let mut times = Vec::new();
    for _ in 0..a.repeats {
        let t = Instant::now();
        plan.run(1)?;
        s = scores.read(&gpu)?;
        times.push(t.elapsed().as_secs_f64() * 1e3);
        if s.iter().any(|v| !v.is_finite()) {
            return Err(oddity::Error::Wgpu("non-finite score".into()));
        }
    }
    let score_ms = median(times);
    let dae_plans: PlanReports = vec![
        ("step", model.train_plan(&x)?.report()),
        ("score", plan.report()),
    ];
    let storage = storage_effect(&model, &dataset, a.precision, &s)?;

    let profile = if a.profile > 0 {
        model.train_plan(&x)?.kernel_times(a.profile)?
    } else {
        (Vec::new(), "")
    };
    let sweep = match a.sweep {
        0 => None,
        n => Some(crate::sweep::run(&gpu, &model, &x, n)?),
    };
    drop(model);
    let alg1 = if a.budget > 0 {
        Some(algorithm1(&gpu, a, &dataset)?)
    } else {
        None
    };

    outln!(
        "oddity bench on {adapter} (subgroups {})",
        if gpu.subgroups() { "on" } else { "off" }
    );
    outln!(
        "  data {} x {} ({:?}), DAE {}-{}, batch {}, RMSprop 0.01, GEMM {}",
        a.rows,
        a.dim,
        a.precision,
        a.dim,
        a.hidden
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join("-"),
        a.batch,
        policy.name()
    );
    outln!(
        "  training: {steps_per_s:.1} steps/s ({:.3} ms/step, median of {} runs of {} steps)",
        1e3 / steps_per_s,
        a.repeats,
        a.steps
    );
    outln!(
        "  dispatches/step {dispatches_per_step}, submits per 100 steps {}, host waits per 100 steps {}",
        per100.submits,
        per100.host_waits
    );
    outln!("  score all {} rows + readback: {score_ms:.2} ms", a.rows);
    outln!(
        "  the same model on f16 data: scores differ by at most {:.3e} (mean {:.3e}, score std {:.3e}); top {} rows {:.1}% the same; AP {:.4} (f32) vs {:.4} (f16)",
        storage.max_abs_diff,
        storage.mean_abs_diff,
        storage.score_std,
        storage.top_rows,
        100.0 * storage.top_overlap,
        storage.ap_f32,
        storage.ap_f16
    );
    print_kernels("DAE", &profile);
    if a.plans {
        print_plans("DAE", &dae_plans);
    }
    if let Some(s) = &sweep {
        s.print();
    }
    if let Some(r) = &alg1 {
        outln!(
            "  Algorithm 1 (DAE_uai, {} pretrain steps, {} per round, k {}, budget {}): {:.2} s; found {} of {} anomalies in {} rounds",
            a.pretrain_steps,
            a.active_steps,
            a.k,
            a.budget,
            r.seconds,
            r.found,
            r.anomalies,
            r.rounds
        );
        outln!(
            "    DAE_uai: {:.1} pretrain steps/s, {} dispatches/step; per round {} host waits, {} submits; one query (score all + top-k + readback) {:.2} ms, {} dispatches",
            r.pretrain_steps_per_s,
            r.dispatches_per_step,
            r.host_waits_per_round,
            r.submits_per_round,
            r.query_ms,
            r.dispatches_per_query
        );
        print_kernels("DAE_uai", &r.kernels);
        if a.plans {
            print_plans("DAE_uai", &r.plans);
        }
    }
    if a.json {
        // The whole job (DAE_uai under Algorithm 1) at the top level, null with --budget 0;
        // the plain DAE's step and scoring pass under "dae".
        let r = alg1.as_ref();
        let obj = serde_json::json!({
            "adapter": adapter,
            "rows": a.rows,
            "dim": a.dim,
            "hidden": a.hidden,
            "batch": a.batch,
            "model": "dae-uai",
            "pretrain_steps": a.pretrain_steps,
            "active_steps": a.active_steps,
            "k": a.k,
            "budget": a.budget,
            "precision": a.precision,
            "gemm": policy,
            "subgroups": gpu.subgroups(),
            "algorithm1_s": r.map(|r| r.seconds),
            "pretrain_steps_per_s": r.map(|r| r.pretrain_steps_per_s),
            "score_all_ms": r.map(|r| r.query_ms),
            "dispatches_per_query": r.map(|r| r.dispatches_per_query),
            "dispatches_per_step": r.map(|r| r.dispatches_per_step),
            "host_waits_per_round": r.map(|r| r.host_waits_per_round),
            "submits_per_round": r.map(|r| r.submits_per_round),
            "rounds": r.map(|r| r.rounds),
            "found": r.map(|r| r.found),
            "anomalies_total": r.map(|r| r.anomalies),
            "kernel_us": r.map(|r| kernels_json(&r.kernels.0)),
            "kernel_timing": r.map(|r| r.kernels.1),
            "plans": r.map(|r| plans_json(&r.plans)),
            "dae": {
                "steps": a.steps,
                "steps_per_s": steps_per_s,
                "dispatches_per_step": dispatches_per_step,
                "submits_per_100_steps": per100.submits,
                "host_waits_per_100_steps": per100.host_waits,
                "score_all_ms": score_ms,
                "f16_scoring": storage,
                "kernel_us": kernels_json(&profile.0),
                "kernel_timing": profile.1,
                "gemm_sweep": sweep,
                "plans": plans_json(&dae_plans),
            },
        });
        outln!("{obj}");
    }
    Ok(())
}

/// What storing the data as f16 changes in one trained model's scores, apart from training:
/// the model's scores of an f32 and an f16 copy of the data.
#[derive(serde::Serialize)]
struct StorageEffect {
    max_abs_diff: f64,
    mean_abs_diff: f64,
    /// The f32 scores' standard deviation, the scale for the differences.
    score_std: f64,
    /// The top 1% of rows by score (at least one).
    top_rows: usize,
    /// The share of the f32 top rows that are among the f16 top rows.
    top_overlap: f64,
    ap_f32: f64,
    ap_f16: f64,
}

/// `scores` are the model's scores of `data` stored at `precision`; the other storage is
/// uploaded and scored here.
fn storage_effect(
    model: &Autoencoder,
    data: &Dataset,
    precision: Precision,
    scores: &[f32],
) -> oddity::Result<StorageEffect> {
    let gpu = model.core().gpu();
    let other = match precision {
        Precision::F32 => Precision::F16,
        Precision::F16 => Precision::F32,
    };
    let x = data.upload_as(gpu, other)?;
    let (plan, other_scores, _) = model.score_plan(&x)?;
    plan.run(1)?;
    let other_scores = other_scores.read(gpu)?;
    let (s32, s16) = match precision {
        Precision::F32 => (scores, other_scores.as_slice()),
        Precision::F16 => (other_scores.as_slice(), scores),
    };
    let n = s32.len().max(1) as f64;
    let diffs = s32.iter().zip(s16).map(|(a, b)| f64::from((a - b).abs()));
    let mean = s32.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
    let top_rows = (s32.len() / 100).max(1);
    let top = |s: &[f32]| -> std::collections::HashSet<usize> {
        let mut idx: Vec<usize> = (0..s.len()).collect();
        idx.sort_by(|&i, &j| s[j].total_cmp(&s[i]));
        idx.into_iter().take(top_rows).collect()
    };
    let (t32, t16) = (top(s32), top(s16));
    let ap = |s: &[f32]| match &data.anomaly {
        Some(y) => oddity::metrics::average_precision(s, y),
        None => Ok(f64::NAN),
    };
    Ok(StorageEffect {
        max_abs_diff: diffs.clone().fold(0.0, f64::max),
        mean_abs_diff: diffs.sum::<f64>() / n,
        score_std: (s32
            .iter()
            .map(|&v| (f64::from(v) - mean).powi(2))
            .sum::<f64>()
            / n)
            .sqrt(),
        top_rows,
        top_overlap: t32.intersection(&t16).count() as f64 / top_rows as f64,
        ap_f32: ap(s32)?,
        ap_f16: ap(s16)?,
    })
}

fn print_kernels(model: &str, (times, how): &(Vec<(String, f64)>, &'static str)) {
    if times.is_empty() {
        return;
    }
    let total: f64 = times.iter().map(|t| t.1).sum();
    outln!("  {model} step kernels ({how}): {total:.1} us in all");
    for (k, us) in times {
        outln!("  {us:10.1} us  {k}");
    }
}

fn kernels_json(times: &[(String, f64)]) -> Vec<serde_json::Value> {
    times
        .iter()
        .map(|(k, us)| serde_json::json!({"kernel": k, "us": us}))
        .collect()
}

/// Each plan's dispatches, one line each: workgroups, invocations and the serial length
/// beside the kernel (what a big GPU needs: many workgroups, short serial chains).
fn print_plans(model: &str, plans: &PlanReports) {
    for (name, dispatches) in plans {
        outln!("  {model} {name}: {} dispatches", dispatches.len());
        outln!(
            "  {:>8} {:>10} {:>7}  kernel",
            "groups",
            "threads",
            "serial"
        );
        for d in dispatches {
            let groups: u64 = d.groups.iter().map(|&g| u64::from(g)).product();
            outln!(
                "  {groups:>8} {:>10} {:>7}  {}{}{}",
                d.invocations,
                d.serial.map_or("?".into(), |s| s.steps.to_string()),
                d.kernel,
                d.note.as_ref().map_or(String::new(), |n| format!(" {n}")),
                if d.once_per_run {
                    " (once per run)"
                } else {
                    ""
                }
            );
        }
    }
}

fn plans_json(plans: &PlanReports) -> serde_json::Value {
    plans
        .iter()
        .map(|(name, d)| (name.to_string(), serde_json::json!(d)))
        .collect::<serde_json::Map<_, _>>()
        .into()
}
