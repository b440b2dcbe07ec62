//! `oddity bench`: throughput of the paper's DAE (784-256-64-8, independent decoder, batch
//! 256, RMSprop 0.01) on MNIST-shaped synthetic data: training steps per second (replayed in
//! one submit), dispatches per step, submits and host waits per 100 steps (read from the
//! runtime's counters), and the time to score every row and read the scores back.

use std::time::Instant;

use oddity::nn::{Autoencoder, AutoencoderConfig};
use oddity::{Gpu, Tensor};

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
    /// Print one JSON object as the last line.
    #[arg(long)]
    pub json: bool,
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
    let adapter = gpu.adapter_name();
    eprintln!("adapter: {adapter}");
    let (data, _) = oddity::data::synthetic_mnist(a.rows as usize, a.dim as usize, 0.011, a.seed);
    let x = Tensor::from_slice(&gpu, &data, a.rows, a.dim, "data")?;
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
    gpu.wait()?;

    let mut rates = Vec::new();
    let mut dispatches = 0;
    for _ in 0..a.repeats {
        let c0 = gpu.counters();
        let t = Instant::now();
        model.fit(&x, a.steps)?;
        gpu.wait()?;
        rates.push(f64::from(a.steps) / t.elapsed().as_secs_f64());
        dispatches = (gpu.counters() - c0).dispatches;
    }
    let steps_per_s = median(rates);
    let dispatches_per_step = dispatches as f64 / f64::from(a.steps);

    let (plan, scores, _) = model.score_plan(&x)?;
    plan.run(1)?;
    scores.read(&gpu)?;
    let mut times = Vec::new();
    for _ in 0..a.repeats {
        let t = Instant::now();
        plan.run(1)?;
        let s = scores.read(&gpu)?;
        times.push(t.elapsed().as_secs_f64() * 1e3);
        if s.iter().any(|v| !v.is_finite()) {
            return Err(oddity::Error::Wgpu("non-finite score".into()));
        }
    }
    let score_ms = median(times);

    let profile = if a.profile > 0 {
        model.train_plan(&x)?.profile(a.profile)?
    } else {
        Vec::new()
    };

    println!("oddity bench on {adapter}");
    println!(
        "  data {} x {}, DAE {}-{}, batch {}, RMSprop 0.01",
        a.rows,
        a.dim,
        a.dim,
        a.hidden
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join("-"),
        a.batch
    );
    println!(
        "  training: {steps_per_s:.1} steps/s ({:.3} ms/step, median of {} runs of {} steps)",
        1e3 / steps_per_s,
        a.repeats,
        a.steps
    );
    println!(
        "  dispatches/step {dispatches_per_step}, submits per 100 steps {}, host waits per 100 steps {}",
        per100.submits, per100.host_waits
    );
    println!("  score all {} rows + readback: {score_ms:.2} ms", a.rows);
    for (k, us) in &profile {
        println!("  {us:10.1} us  {k}");
    }
    if a.json {
        let obj = serde_json::json!({
            "adapter": adapter,
            "rows": a.rows,
            "dim": a.dim,
            "hidden": a.hidden,
            "batch": a.batch,
            "steps": a.steps,
            "pretrain_steps_per_s": steps_per_s,
            "dispatches_per_step": dispatches_per_step,
            "submits_per_100_steps": per100.submits,
            "host_waits_per_100_steps": per100.host_waits,
            "score_all_ms": score_ms,
            "kernel_us": profile.iter().map(|(k, us)| serde_json::json!({"kernel": k, "us": us})).collect::<Vec<_>>(),
        });
        println!("{obj}");
    }
    Ok(())
}
