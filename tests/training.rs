//! The whole training step end to end: GPU steps of a small DAE against the same steps in f64
//! (same seed, same minibatches, same noise), replay costs, determinism, and scoring.

mod common;

use common::*;
use oddity::Gpu;
use oddity::models::{Autoencoder, AutoencoderConfig};
use oddity::nn::Optimizer;
use oddity::ops::Act;
use oddity::tape::DataRows;
use oddity::tape::{StepState, Tape, Tensor};
use oddity_kernels::kernels as k;
use oddity_kernels::reference::{TAG_BATCH, TAG_NOISE, optim_step, rng_gauss, rng_u32};

struct RefLayer {
    offset: usize,
    k: usize,
    n: usize,
    act: u32,
}

fn layers(model: &Autoencoder) -> Vec<RefLayer> {
    let acts: Vec<Act> = model
        .net
        .encoder
        .acts
        .iter()
        .chain(&model.net.decoder.acts)
        .copied()
        .collect();
    model
        .core()
        .arena()
        .slots
        .iter()
        .zip(acts)
        .map(|(s, a)| RefLayer {
            offset: s.offset as usize,
            k: s.rows as usize - 1,
            n: s.cols as usize,
            act: a.code(),
        })
        .collect()
}

/// One DAE step in f64 with plain loops: the minibatch and noise from the reference RNG.
fn reference_step(
    model: &Autoencoder,
    data: &[f64],
    n_data: u32,
    params: &mut [f64],
    opt: &mut [f64],
    step: u32,
) {
    let c = &model.config;
    let (d, batch, seed) = (c.inputs as usize, c.batch as usize, model.core().rng_seed());
    let mut clean = vec![0.0; batch * d];
    let mut noisy = vec![0.0; batch * d];
    for i in 0..batch {
        let r = (rng_u32(seed, step, TAG_BATCH, i as u32) % n_data) as usize;
        for j in 0..d {
            let e = i * d + j;
            clean[e] = data[r * d + j];
            noisy[e] =
                clean[e] + f64::from(c.noise_std) * rng_gauss(seed, step, TAG_NOISE, e as u32);
        }
    }
    let ls = layers(model);
    let mut acts = vec![noisy];
    for l in &ls {
        let y = dense_fwd(
            Layer::new(l.k, l.n, l.act, 0.0),
            acts.last().unwrap(),
            batch,
            &params[l.offset..l.offset + (l.k + 1) * l.n],
        );
        acts.push(y);
    }
    let out = acts.last().unwrap();
    let mut dy: Vec<f64> = out
        .iter()
        .zip(&clean)
        .map(|(p, t)| 2.0 * (p - t) / batch as f64)
        .collect();
    let mut grads = vec![0.0; params.len()];
    for (i, l) in ls.iter().enumerate().rev() {
        let p = &params[l.offset..l.offset + (l.k + 1) * l.n];
        let (dp, dx) = dense_bwd(
            Layer::new(l.k, l.n, l.act, 0.0),
            &acts[i],
            batch,
            p,
            &acts[i + 1],
            &dy,
        );
        grads[l.offset..l.offset + dp.len()].copy_from_slice(&dp);
        dy = dx;
    }
    optim_step(
        &c.optimizer.params(params.len() as u32),
        &grads,
        step,
        params,
        opt,
    );
}

fn small_config(optimizer: Optimizer, seed: u64) -> AutoencoderConfig {
    AutoencoderConfig {
        batch: 17,
        seed,
        optimizer,
        ..AutoencoderConfig::dae(13, &[9, 6, 3])
    }
}

fn check_against_reference(gpu: &Gpu, optimizer: Optimizer) {
    check_config_against_reference(gpu, optimizer, small_config);
}

/// `steps` of the model `config` gives against the f64 reference, on random data.
fn check_config_against_reference(
    gpu: &Gpu,
    optimizer: Optimizer,
    config: fn(Optimizer, u64) -> AutoencoderConfig,
) {
    let mut rng = rng();
    let n_data = 53u32;
    let d = config(optimizer, 0).inputs;
    let data: Vec<f32> = randn(&mut rng, (n_data * d) as usize, 1.0)
        .iter()
        .map(|v| v.abs())
        .collect();
    let x: DataRows = Tensor::from_slice(gpu, &data, n_data, d, "data")
        .unwrap()
        .into();
    let seed = rand::RngExt::random::<u64>(&mut rng);
    let mut model = Autoencoder::new(gpu, config(optimizer, seed)).unwrap();
    let mut params = wide(&model.core().arena().read(gpu).unwrap());
    let mut opt = vec![0.0; 2 * params.len()];
    let steps = 20;
    model.fit(&x, steps).unwrap();
    let dw = wide(&data);
    for s in 0..steps {
        reference_step(&model, &dw, n_data, &mut params, &mut opt, s);
    }
    let got = model.core().arena().read(gpu).unwrap();
    let e = rel_err(&got, &params);
    let moved = rel_err64(
        &params,
        &wide(
            &Autoencoder::new(gpu, config(optimizer, seed))
                .unwrap()
                .core()
                .arena()
                .read(gpu)
                .unwrap(),
        ),
    );
    eprintln!(
        "{optimizer:?}: {steps} steps, GPU vs f64 rel err {e:.2e}; parameters moved {moved:.2e}"
    );
    assert!(moved > 1e-3, "training must move the parameters");
    assert!(
        e < 1e-3,
        "{optimizer:?}: GPU vs f64 after {steps} steps: {e}"
    );
    assert_eq!(model.core().step_state().step(gpu).unwrap(), steps);
}

#[test]
fn dae_steps_match_f64_reference_sgd() {
    check_against_reference(&gpu(), Optimizer::sgd(0.1));
}

#[test]
fn dae_steps_match_f64_reference_adam() {
    check_against_reference(&gpu(), Optimizer::adam(1e-3));
}

#[test]
fn dae_steps_match_f64_reference_rmsprop_and_momentum() {
    let gpu = gpu();
    check_against_reference(&gpu, Optimizer::rmsprop(1e-3));
    check_against_reference(&gpu, Optimizer::momentum(0.05));
}

/// Wide enough for sliced K: the first layer's forward has K = 150 and every dW K = 130 rows.
fn sliced_config(optimizer: Optimizer, seed: u64) -> AutoencoderConfig {
    AutoencoderConfig {
        batch: 130,
        seed,
        optimizer,
        ..AutoencoderConfig::dae(150, &[20, 5])
    }
}

#[test]
fn dae_steps_match_f64_reference_under_both_gemm_policies() {
    use oddity::gpu::GemmPolicy;
    for (policy, sliced) in [(GemmPolicy::Auto, true), (GemmPolicy::Tiled, false)] {
        // A device of its own: the policy is a device setting, and the other tests share one.
        let gpu = own_gpu();
        gpu.set_gemm_policy(policy);
        let x: DataRows = Tensor::new(&gpu, 53, 150, "data").unwrap().into();
        let names = Autoencoder::new(&gpu, sliced_config(Optimizer::sgd(0.1), 1))
            .unwrap()
            .train_plan(&x)
            .unwrap()
            .kernel_names();
        let uses = names.iter().filter(|k| k.contains("gemm_sliced")).count();
        eprintln!("{policy:?}: {uses} sliced products in {names:?}");
        assert_eq!(uses > 0, sliced, "{policy:?}: {names:?}");
        check_config_against_reference(&gpu, Optimizer::sgd(0.1), sliced_config);
    }
}

#[test]
fn tuned_gemm_policy_times_each_product_once_and_matches_f64_reference() {
    use oddity::gpu::GemmPolicy;
    let gpu = own_gpu();
    gpu.set_gemm_policy(GemmPolicy::Tuned);
    let x: DataRows = Tensor::new(&gpu, 53, 150, "data").unwrap().into();
    let model = Autoencoder::new(&gpu, sliced_config(Optimizer::sgd(0.1), 1)).unwrap();
    // The first recording times the kernels on every new kind of product (scratch buffers,
    // one wait per kernel tried); a second recording of the same step finds them all chosen.
    let c0 = gpu.counters();
    let plan = model.train_plan(&x).unwrap();
    let first = gpu.counters() - c0;
    let c1 = gpu.counters();
    let again = model.train_plan(&x).unwrap();
    let second = gpu.counters() - c1;
    eprintln!("tuning: {first:?}; recording again: {second:?}");
    eprintln!("{:?}", plan.kernel_names());
    assert!(first.dispatches > 0 && first.host_waits > 0, "{first:?}");
    assert_eq!((second.dispatches, second.host_waits), (0, 0), "{second:?}");
    assert_eq!(plan.kernel_names(), again.kernel_names());
    drop((model, plan, again));
    // Tuning touches only its scratch buffers: training under the tuned kernels follows the
    // f64 reference.
    check_config_against_reference(&gpu, Optimizer::sgd(0.1), sliced_config);
}

#[test]
fn replaying_100_steps_is_one_submit_and_no_host_wait() {
    let gpu = own_gpu();
    let mut rng = rng();
    let data = randn(&mut rng, 40 * 13, 1.0);
    let x: DataRows = Tensor::from_slice(&gpu, &data, 40, 13, "data")
        .unwrap()
        .into();
    let mut model = Autoencoder::new(&gpu, small_config(Optimizer::rmsprop(0.01), 3)).unwrap();
    model.fit(&x, 1).unwrap();
    let plan = model.train_plan(&x).unwrap();
    let (per_step, once) = (plan.dispatches() as u64, plan.epilogue_dispatches() as u64);
    gpu.wait().unwrap();
    let before = gpu.counters();
    model.fit(&x, 100).unwrap();
    let d = gpu.counters() - before;
    eprintln!("100 steps: {d:?}, {per_step} dispatches per step");
    assert_eq!(d.submits, 1);
    assert_eq!(d.host_waits, 0);
    assert_eq!(d.dispatches, 100 * per_step + once);
    gpu.wait().unwrap();
    assert_eq!(model.core().step_state().step(&gpu).unwrap(), 101);
}

#[test]
fn paper_dae_step_is_at_most_24_dispatches() {
    let gpu = gpu();
    let x: DataRows = Tensor::new(&gpu, 300, 784, "data").unwrap().into();
    let model = Autoencoder::new(&gpu, AutoencoderConfig::dae(784, &[256, 64, 8])).unwrap();
    let plan = model.train_plan(&x).unwrap();
    eprintln!(
        "{:?} then once {:?}",
        plan.kernel_names(),
        plan.epilogue_names()
    );
    assert!(plan.dispatches() <= 24, "{} dispatches", plan.dispatches());
    // The loss's value (the mean row error) is deferred to the run's epilogue.
    assert_eq!(
        plan.epilogue_names().len(),
        1,
        "{:?}",
        plan.epilogue_names()
    );
    assert!(plan.epilogue_names()[0].ends_with("::reduce_sum"));
    assert!(
        !plan
            .kernel_names()
            .iter()
            .any(|k| k.ends_with("::reduce_sum"))
    );
}

#[test]
fn gpu_timestamps_time_every_kernel_of_a_step() {
    let gpu = gpu();
    let x: DataRows = Tensor::new(&gpu, 70, 13, "data").unwrap().into();
    let model = Autoencoder::new(&gpu, small_config(Optimizer::rmsprop(0.01), 2)).unwrap();
    let plan = model.train_plan(&x).unwrap();
    let has = gpu
        .device()
        .features()
        .contains(wgpu::Features::TIMESTAMP_QUERY);
    let times = plan.gpu_times(3).unwrap();
    // Timestamps exactly when the adapter offers them (llvmpipe and the H100 both do).
    assert_eq!(times.is_some(), has, "{}", gpu.adapter_name());
    if let Some(t) = times {
        // The replay's dispatches, then the epilogue's (the loss's value).
        assert_eq!(t.len(), plan.dispatches() + plan.epilogue_dispatches());
        assert!(plan.epilogue_dispatches() > 0);
        assert!(t.last().unwrap().0.ends_with("(once per run)"), "{t:?}");
        assert!(
            t.iter().all(|(_, us)| us.is_finite() && *us >= 0.0),
            "{t:?}"
        );
        assert!(t.iter().map(|(_, us)| us).sum::<f64>() > 0.0, "{t:?}");
    }
}

#[test]
fn same_seed_gives_bit_identical_parameters() {
    let gpu = gpu();
    let mut rng = rng();
    let data: Vec<f32> = randn(&mut rng, 60 * 13, 1.0);
    let x: DataRows = Tensor::from_slice(&gpu, &data, 60, 13, "data")
        .unwrap()
        .into();
    let run = |seed| {
        let mut m = Autoencoder::new(&gpu, small_config(Optimizer::adam(0.01), seed)).unwrap();
        m.fit(&x, 50).unwrap();
        m.core()
            .arena()
            .read(&gpu)
            .unwrap()
            .iter()
            .map(|v| v.to_bits())
            .collect::<Vec<u32>>()
    };
    let (a, b, c) = (run(11), run(11), run(12));
    assert_eq!(a, b, "same seed, same adapter: identical bits");
    assert_ne!(a, c, "another seed trains differently");
}

#[test]
fn scores_and_latents_match_f64_forward_across_chunks() {
    let gpu = gpu();
    let mut rng = rng();
    let (n, d) = (8300u32, 5u32);
    let data: Vec<f32> = randn(&mut rng, (n * d) as usize, 1.0);
    let x: DataRows = Tensor::from_slice(&gpu, &data, n, d, "data")
        .unwrap()
        .into();
    let cfg = AutoencoderConfig {
        seed: 5,
        ..AutoencoderConfig::dae(d, &[4, 2])
    };
    let model = Autoencoder::new(&gpu, cfg).unwrap();
    let params = wide(&model.core().arena().read(&gpu).unwrap());
    let ls = layers(&model);
    let mut h = wide(&data);
    let mut latent = Vec::new();
    for (i, l) in ls.iter().enumerate() {
        h = dense_fwd(
            Layer::new(l.k, l.n, l.act, 0.0),
            &h,
            n as usize,
            &params[l.offset..l.offset + (l.k + 1) * l.n],
        );
        if i + 1 == model.net.encoder.acts.len() {
            latent = h.clone();
        }
    }
    let want: Vec<f64> = h
        .chunks(d as usize)
        .zip(data.chunks(d as usize))
        .map(|(p, t)| {
            p.iter()
                .zip(t)
                .map(|(a, &b)| (a - f64::from(b)).powi(2))
                .sum()
        })
        .collect();
    let scores = model.scores(&x).unwrap();
    assert!(
        rel_err(&scores, &want) < 1e-5,
        "scores: {}",
        rel_err(&scores, &want)
    );
    let lat = model.latent(&x).unwrap();
    assert!(
        rel_err(&lat, &latent) < 1e-5,
        "latents: {}",
        rel_err(&lat, &latent)
    );
}

#[test]
fn a_plain_autoencoder_without_noise_trains() {
    // No noise and no classes: the minibatch draw has two unused outputs, which must not share
    // one placeholder buffer (that plan was refused before).
    let gpu = gpu();
    let (data, _) = oddity::data::synthetic_mnist(300, 16, 0.05, 3);
    let x: DataRows = Tensor::from_slice(&gpu, &data, 300, 16, "data")
        .unwrap()
        .into();
    let cfg = AutoencoderConfig {
        noise_std: 0.0,
        batch: 32,
        ..AutoencoderConfig::dae(16, &[8, 4])
    };
    let mut model = Autoencoder::new(&gpu, cfg).unwrap();
    let before = model.scores(&x).unwrap().iter().sum::<f32>();
    model.fit(&x, 200).unwrap();
    let after = model.scores(&x).unwrap().iter().sum::<f32>();
    assert!(after < 0.8 * before, "error {before} -> {after}");
}

#[test]
fn trained_dae_scores_anomalies_higher() {
    let gpu = gpu();
    let (data, labels) = oddity::data::synthetic_mnist(2000, 32, 0.05, 7);
    let x: DataRows = Tensor::from_slice(&gpu, &data, 2000, 32, "data")
        .unwrap()
        .into();
    let cfg = AutoencoderConfig {
        batch: 64,
        seed: 1,
        optimizer: Optimizer::adam(3e-3),
        ..AutoencoderConfig::dae(32, &[16, 8, 4])
    };
    let mut model = Autoencoder::new(&gpu, cfg).unwrap();
    let before = model.scores(&x).unwrap();
    model.fit(&x, 1500).unwrap();
    let after = model.scores(&x).unwrap();
    let mean = |s: &[f32], want: u8| {
        let v: Vec<f32> = s
            .iter()
            .zip(&labels)
            .filter(|&(_, &l)| l == want)
            .map(|(v, _)| *v)
            .collect();
        v.iter().sum::<f32>() / v.len() as f32
    };
    eprintln!(
        "normal error {} -> {}, anomaly error {} -> {}",
        mean(&before, 0),
        mean(&after, 0),
        mean(&before, 1),
        mean(&after, 1)
    );
    assert!(
        mean(&after, 0) < 0.8 * mean(&before, 0),
        "training lowers the normal points' error"
    );
    assert!(
        mean(&after, 1) > 2.0 * mean(&after, 0),
        "anomalies reconstruct worse than normal points"
    );
}

/// The pipeline cache file: written after kernels are built, loaded by the next device, and a
/// damaged file ignored (kernels still build and compute right); an unwritable place is an
/// error from `save_pipeline_cache`, not a panic.
#[test]
fn pipeline_cache_is_written_reloaded_and_survives_damage() {
    use oddity::gpu::GpuOptions;
    let dir = std::env::temp_dir().join(format!("oddity-pc-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let options = GpuOptions {
        pipeline_cache_dir: Some(dir.clone()),
        ..GpuOptions::default()
    };
    let supported = gpu()
        .summary()
        .features
        .iter()
        .any(|f| f == "PIPELINE_CACHE");
    let x: Vec<f32> = (0..300).map(|i| (i as f32 * 0.37).sin()).collect();
    let sum_on = |g: &Gpu| {
        let state = StepState::new(g).unwrap();
        let mut tape = Tape::new(g, &state);
        let t = Tensor::from_slice(g, &x, 30, 10, "x").unwrap();
        let s = tape.sum(&t).unwrap();
        tape.finish().unwrap().run(1).unwrap();
        s.read(g).unwrap()[0]
    };
    let want: f32 = x.iter().sum();
    let g = Gpu::with_options(&options).unwrap();
    let Some(status) = g.pipeline_cache() else {
        assert!(
            !supported,
            "the adapter has PIPELINE_CACHE but no cache was opened"
        );
        return;
    };
    assert!(!status.loaded, "a fresh directory has no cache");
    assert!((sum_on(&g) - want).abs() < 1e-3);
    drop(g);
    let bytes = std::fs::read(&status.path).expect("the cache is written when the device drops");
    assert_eq!(&bytes[..8], b"oddityPC");
    let g = Gpu::with_options(&options).unwrap();
    assert!(
        g.pipeline_cache().unwrap().loaded,
        "the next device loads it"
    );
    assert!((sum_on(&g) - want).abs() < 1e-3);
    drop(g);
    // A flipped bit in the payload: ignored, and the kernels still build.
    let mut bad = bytes.clone();
    let last = bad.len() - 1;
    bad[last] ^= 0x40;
    std::fs::write(&status.path, &bad).unwrap();
    let g = Gpu::with_options(&options).unwrap();
    assert!(
        !g.pipeline_cache().unwrap().loaded,
        "a damaged cache is not loaded"
    );
    assert!((sum_on(&g) - want).abs() < 1e-3);
    drop(g);
    // A file where the directory should be: saving fails with a message, nothing panics.
    let blocked = dir.join("not-a-dir");
    std::fs::write(&blocked, b"x").unwrap();
    let g = Gpu::with_options(&GpuOptions {
        pipeline_cache_dir: Some(blocked),
        ..GpuOptions::default()
    })
    .unwrap();
    assert!((sum_on(&g) - want).abs() < 1e-3);
    let e = g.save_pipeline_cache().unwrap_err().to_string();
    assert!(e.contains("pipeline cache"), "{e}");
    drop(g);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A deferred dispatch (a loss's value) runs once per run after the replays, unless a later
/// dispatch of the replay reads what it writes or writes what it reads (then it runs in the
/// replay, before that one), or the replay reads what it writes (then it ends the replay).
#[test]
fn deferred_dispatches_run_once_after_the_replays_unless_something_needs_them() {
    use oddity::gpu::GpuBuffer;
    use oddity::tape::PlanBuilder;
    use oddity_kernels::params::{AxpyParams, FillParams, ReduceParams};

    let gpu = own_gpu();
    let n = 37u32;
    let groups = gpu.grid_1d(n.div_ceil(256)).unwrap();
    let read = |b: &GpuBuffer| gpu.read_f32(b, 0, 1).unwrap()[0];
    // x += value, every element.
    let add = |b: &mut PlanBuilder, x: &GpuBuffer, value: f32| {
        let p = FillParams {
            n,
            out_off: 0,
            value,
            accumulate: 1,
        };
        b.dispatch(k::step::FILL, Some(&p), &[("out", x)], groups)
            .unwrap();
    };
    let sum = |b: &mut PlanBuilder, x: &GpuBuffer, out: &GpuBuffer| {
        let p = ReduceParams {
            n,
            x_off: 0,
            out_off: 0,
            scale: 1.0,
        };
        b.defer(
            k::reduce::REDUCE_SUM,
            Some(&p),
            &[("x", x), ("out", out)],
            [1, 1, 1],
        )
        .unwrap()
    };
    // y = 2 out (one element).
    let double = |b: &mut PlanBuilder, out: &GpuBuffer, y: &GpuBuffer| {
        let p = AxpyParams {
            n: 1,
            x_off: 0,
            out_off: 0,
            a: 2.0,
            accumulate: 0,
        };
        b.dispatch(
            k::step::AXPY,
            Some(&p),
            &[("x", out), ("out", y)],
            [1, 1, 1],
        )
        .unwrap();
    };
    let fresh = |v: f32, len: u32| gpu.upload(&vec![v; len as usize], "b").unwrap();
    let nf = n as f32;

    // Nothing needs the sum: it runs once, after 5 replays, and sees the last one's x.
    let (x, out) = (fresh(0.0, n), fresh(f32::NAN, 1));
    let mut b = PlanBuilder::new(&gpu);
    add(&mut b, &x, 1.5);
    sum(&mut b, &x, &out);
    let plan = b.finish().unwrap();
    assert_eq!((plan.dispatches(), plan.epilogue_dispatches()), (1, 1));
    let c0 = gpu.counters();
    plan.run(5).unwrap();
    assert_eq!((gpu.counters() - c0).dispatches, 5 + 1);
    assert_eq!(read(&out), 7.5 * nf);
    // A run of no replays runs no epilogue either.
    let c0 = gpu.counters();
    plan.run(0).unwrap();
    assert_eq!((gpu.counters() - c0).dispatches, 0);
    assert_eq!(read(&out), 7.5 * nf);

    // A later dispatch reads the sum: it runs in every replay, before that one.
    let (x, out, y) = (fresh(0.0, n), fresh(f32::NAN, 1), fresh(f32::NAN, 1));
    let mut b = PlanBuilder::new(&gpu);
    add(&mut b, &x, 1.5);
    sum(&mut b, &x, &out);
    double(&mut b, &out, &y);
    let plan = b.finish().unwrap();
    assert_eq!((plan.dispatches(), plan.epilogue_dispatches()), (3, 0));
    assert_eq!(
        plan.kernel_names(),
        [
            "step::fill",
            &format!("{}::reduce_sum", sum_shader(&gpu)),
            "step::axpy"
        ]
    );
    plan.run(3).unwrap();
    assert_eq!(read(&y), 2.0 * 4.5 * nf);

    // A later dispatch changes x: the sum runs before it (4n, not the 5n after it).
    let (x, out) = (fresh(0.0, n), fresh(f32::NAN, 1));
    let mut b = PlanBuilder::new(&gpu);
    add(&mut b, &x, 1.5);
    sum(&mut b, &x, &out);
    add(&mut b, &x, 1.0);
    let plan = b.finish().unwrap();
    assert_eq!((plan.dispatches(), plan.epilogue_dispatches()), (3, 0));
    plan.run(2).unwrap();
    assert_eq!(read(&out), 4.0 * nf);

    // The replay reads the sum before it is taken (the previous replay's): it ends the replay.
    let (x, out, y) = (fresh(0.0, n), fresh(0.0, 1), fresh(f32::NAN, 1));
    let mut b = PlanBuilder::new(&gpu);
    add(&mut b, &x, 1.5);
    double(&mut b, &out, &y);
    sum(&mut b, &x, &out);
    let plan = b.finish().unwrap();
    assert_eq!((plan.dispatches(), plan.epilogue_dispatches()), (3, 0));
    plan.run(2).unwrap();
    assert_eq!(
        read(&y),
        2.0 * 1.5 * nf,
        "the second replay read the first's sum"
    );
    assert_eq!(read(&out), 3.0 * nf);

    // Cancelled before it was placed: never runs.
    let (x, out) = (fresh(0.0, n), fresh(f32::NAN, 1));
    let mut b = PlanBuilder::new(&gpu);
    add(&mut b, &x, 1.5);
    let id = sum(&mut b, &x, &out);
    assert!(b.cancel(id));
    assert!(!b.cancel(id), "cancelled twice");
    let plan = b.finish().unwrap();
    assert_eq!((plan.dispatches(), plan.epilogue_dispatches()), (1, 0));
    plan.run(2).unwrap();
    assert!(read(&out).is_nan());
}

/// The reduce shader the device runs (its subgroup variant where it has one).
fn sum_shader(gpu: &Gpu) -> &'static str {
    gpu.kernel(k::reduce::REDUCE_SUM).unwrap().shader
}
