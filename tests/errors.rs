//! Bad input is an error with a clear message when a plan is built, never a wgpu panic.

mod common;

use common::*;
use oddity::Error;
use oddity::models::{Autoencoder, AutoencoderConfig};
use oddity::nn::Optimizer;
use oddity::ops::Act;
use oddity::ops::dense::DenseParams;
use oddity::ops::loss::RowError;
use oddity::tape::{PlanBuilder, StepState, Tape, Tensor};
use oddity_kernels::kernels as k;
use oddity_kernels::params::ReduceParams;

/// Tests that create devices of their own (outside `Gpu::new`'s lock) take this first: the
/// NVIDIA 580 Vulkan driver was seen to hang when instances are created on several threads at
/// once.
static CREATING_DEVICES: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn msg<T>(r: oddity::Result<T>) -> String {
    match r {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn shape_mismatches_are_errors_at_plan_build() {
    let gpu = gpu();
    let state = StepState::new(&gpu).unwrap();
    let mut tape = Tape::new(&gpu, &state);
    let x = Tensor::new(&gpu, 4, 3, "x").unwrap();
    let w = DenseParams::new(Tensor::new(&gpu, 6, 2, "w").unwrap()).unwrap();
    let m = msg(tape.dense(&x, &w, Act::Relu));
    assert!(
        m.contains("dense") && m.contains("3 columns") && m.contains("takes 5"),
        "{m}"
    );
    let a = Tensor::new(&gpu, 4, 3, "a").unwrap();
    let b = Tensor::new(&gpu, 4, 2, "b").unwrap();
    let m = msg(tape.row_error(&a, &b, RowError::SquaredL2));
    assert!(
        m.contains("row_error") && m.contains("4x3") && m.contains("4x2"),
        "{m}"
    );
    let m = msg(tape.bce_with_logits(&a, &Tensor::new(&gpu, 4, 1, "y").unwrap(), None));
    assert!(m.contains("logits must be 4x1"), "{m}");
    let m = msg(tape.backward(&a));
    assert!(m.contains("loss must be 1x1"), "{m}");
    let m = msg(tape.dense(
        &x,
        &DenseParams::new(Tensor::new(&gpu, 4, 2, "w").unwrap()).unwrap(),
        Act::LeakyRelu(-1.0),
    ));
    assert!(m.contains("slope must be positive"), "{m}");
    // The query's head scores: a head that does not fit the latent, a score or an output
    // that is not one per row.
    let (l, s) = (x.clone(), Tensor::new(&gpu, 4, 1, "s").unwrap());
    let head = DenseParams::new(Tensor::new(&gpu, 5, 1, "head").unwrap()).unwrap();
    let st = Tensor::new(&gpu, 2, 1, "stats").unwrap();
    let m = msg(tape.uai_head_scores(&l, &s, &w, &st, &s));
    assert!(
        m.contains("uai_head_scores") && m.contains("5 inputs and 2 outputs"),
        "{m}"
    );
    let m = msg(tape.uai_head_scores(&l, &b, &head, &st, &s));
    assert!(
        m.contains("4x2 score") && m.contains("one score per row"),
        "{m}"
    );
    let m = msg(tape.uai_head_scores(&l, &s, &head, &st, &Tensor::new(&gpu, 3, 1, "o").unwrap()));
    assert!(m.contains("3x1 output") && m.contains("needs 4x1"), "{m}");
    let m = msg(tape.uai_head_scores(&l, &s, &head, &s, &s));
    assert!(
        m.contains("4x1 statistics") && m.contains("needs 2x1"),
        "{m}"
    );
    // The training head: a running state that is not (mean, deviation, count), a decay
    // outside (0, 1].
    let ym = gpu.upload(&[0f32; 5], "ym").unwrap();
    let (y, mask) = (
        Tensor::view(&ym, 0, 2, 1).unwrap(),
        Tensor::view(&ym, 2, 2, 1).unwrap(),
    );
    let state = Tensor::new(&gpu, 3, 1, "state").unwrap();
    for (stats, stats_decay, want) in [
        (&st, 1.0, "needs 3x1"),
        (&state, 0.0, "decay must be in (0, 1], got 0"),
        (&state, 1.5, "got 1.5"),
    ] {
        let input = oddity::ops::head::HeadInput {
            latent: &l,
            r0: 2,
            score: &s,
            y: &y,
            mask: &mask,
            prior: None,
            stats,
            stats_decay,
        };
        let m = msg(tape.uai_head(input, &head));
        assert!(m.contains("uai_head") && m.contains(want), "{m}");
    }
    assert_eq!(
        tape.dispatches(),
        0,
        "nothing was recorded for the bad calls"
    );
    assert!(msg(Tensor::view(x.buffer(), 10, 1, 3)).contains("passes the end"));
    assert!(msg(Tensor::from_slice(&gpu, &[1.0, 2.0], 3, 1, "t")).contains("2 values for a 3 x 1"));
}

#[test]
fn kernel_launches_that_do_not_match_the_shader_are_errors() {
    let gpu = gpu();
    let (x, out) = (
        gpu.upload(&[1f32; 8], "x").unwrap(),
        gpu.upload(&[0f32; 8], "out").unwrap(),
    );
    let p = ReduceParams {
        n: 8,
        x_off: 0,
        out_off: 0,
        scale: 1.0,
    };
    let mut b = PlanBuilder::new(&gpu);
    let m = msg(b.dispatch(k::reduce::REDUCE_SUM, Some(&p), &[("x", &x)], [1, 1, 1]));
    assert!(m.contains("no buffer for binding out"), "{m}");
    let m = msg(b.dispatch(
        k::reduce::REDUCE_SUM,
        Some(&p),
        &[("x", &x), ("out", &out), ("extra", &out)],
        [1, 1, 1],
    ));
    assert!(m.contains("extra is not a binding"), "{m}");
    let m = msg(b.dispatch(
        k::reduce::REDUCE_SUM,
        Some(&p),
        &[("x", &out), ("out", &out)],
        [1, 1, 1],
    ));
    assert!(m.contains("share") && m.contains("writes"), "{m}");
    // Kernels are named by generated constants; one built by hand may still name nothing.
    let nope = oddity::gpu::KernelId {
        shader: "reduce",
        entry: "nope",
        f16: None,
    };
    let m = msg(b.dispatch(nope, Some(&p), &[], [1, 1, 1]));
    assert!(m.contains("no such shader entry point"), "{m}");
    let m = msg(b.dispatch(
        k::reduce::REDUCE_SUM,
        None,
        &[("x", &x), ("out", &out)],
        [1, 1, 1],
    ));
    assert!(m.contains("parameters missing"), "{m}");
    let m = msg(b.dispatch(
        k::reduce::REDUCE_SUM,
        Some(&p),
        &[("x", &x), ("out", &out)],
        [1, 70000, 1],
    ));
    assert!(m.contains("workgroups per dimension"), "{m}");
    assert!(b.is_empty());
    b.dispatch(
        k::reduce::REDUCE_SUM,
        Some(&p),
        &[("x", &x), ("out", &out)],
        [1, 1, 1],
    )
    .unwrap();
    b.finish().unwrap().run(1).unwrap();
    assert_eq!(gpu.read_f32(&out, 0, 1).unwrap()[0], 8.0);
}

#[test]
fn bad_model_settings_and_data_are_errors() {
    let gpu = gpu();
    let bad = |cfg: AutoencoderConfig| msg(Autoencoder::new(&gpu, cfg));
    assert!(
        bad(AutoencoderConfig {
            batch: 0,
            ..AutoencoderConfig::dae(4, &[2])
        })
        .contains("batch")
    );
    assert!(bad(AutoencoderConfig::dae(4, &[])).contains("hidden"));
    assert!(bad(AutoencoderConfig::dae(4, &[3, 0])).contains("zero"));
    assert!(
        bad(AutoencoderConfig {
            optimizer: Optimizer::sgd(-1.0),
            ..AutoencoderConfig::dae(4, &[2])
        })
        .contains("lr > 0")
    );
    assert!(
        bad(AutoencoderConfig {
            optimizer: Optimizer::adam(f32::NAN),
            ..AutoencoderConfig::dae(4, &[2])
        })
        .contains("optimizer")
    );
    let mut model = Autoencoder::new(&gpu, AutoencoderConfig::dae(4, &[2])).unwrap();
    let data = Tensor::new(&gpu, 10, 5, "data").unwrap().into();
    assert!(msg(model.fit(&data, 1)).contains("5 columns, the model takes 4"));
    assert!(msg(model.scores(&data)).contains("5 columns"));
    let huge = gpu.limits().max_storage_buffer_binding_size / 4 + 1;
    assert!(matches!(gpu.buffer(huge, "huge"), Err(Error::Limit { .. })));
}

/// A dataset stored as f16 goes only where a kernel reads f16; anything else is a clear error
/// when recorded, as are values f16 cannot hold and writes into it.
#[test]
fn f16_data_is_refused_where_it_cannot_be_read() {
    let gpu = gpu();
    let x16 = Tensor::from_slice_f16(&gpu, &[0.5; 12], 4, 3, "pixels").unwrap();
    let state = StepState::new(&gpu).unwrap();
    let mut tape = Tape::new(&gpu, &state);
    let m = msg(tape.gauss_noise(&x16, 0.1, 1, 0));
    assert!(m.contains("f16") && m.contains("noise"), "{m}");
    let dst = Tensor::new(&gpu, 4, 3, "dst").unwrap();
    let m = msg(tape.copy(&x16, &dst));
    assert!(m.contains("f16"), "{m}");
    let m = msg(x16.write(&gpu, &[0.0; 12]));
    assert!(m.contains("f16"), "{m}");
    let mut data = oddity::data::Dataset {
        name: "big".into(),
        rows: 2,
        cols: 3,
        x: vec![0.0, 1.0, 2.0, 3.0, 70000.0, 5.0],
        anomaly: None,
        class: None,
        schema: oddity::data::Schema::numeric(["a", "b", "c"].map(String::from), &[(0.0, 1.0); 3]),
        origin: None,
    };
    let m = msg(data.upload_as(&gpu, oddity::data::Precision::F16));
    assert!(
        m.contains("big") && m.contains("row 1 column 1") && m.contains("70000"),
        "{m}"
    );
    let m = msg(Tensor::from_slice_f16(&gpu, &[1.0, -1e5], 1, 2, "direct"));
    assert!(m.contains("direct") && m.contains("row 0 column 1"), "{m}");
    data.x[4] = 4.0;
    assert!(
        data.upload_as(&gpu, oddity::data::Precision::F16)
            .unwrap()
            .is_half()
    );
}

#[test]
fn cli_reports_a_missing_adapter_without_panicking() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_oddity"))
        .args([
            "bench", "--rows", "10", "--dim", "4", "--hidden", "2", "--batch", "4", "--steps", "1",
        ])
        .env("WGPU_ADAPTER_NAME", "no-such-adapter-xyz")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("no adapter's name contains WGPU_ADAPTER_NAME=\"no-such-adapter-xyz\""),
        "{err}"
    );
    assert!(
        err.contains("adapters found:") && err.contains("mesa-vulkan-drivers"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

/// `oddity info --json` with one environment variable set.
fn info_with(var: &str, value: &str) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_oddity"))
        .args(["info", "--json"])
        .env(var, value)
        .output()
        .unwrap()
}

#[test]
fn cli_refuses_an_unknown_gemm_policy_and_reports_the_chosen_one() {
    let info = |value: &str| info_with("ODDITY_GEMM", value);
    let out = info("fastest");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("invalid ODDITY_GEMM: `fastest` is not a GEMM policy")
            && err.contains("auto, tiled, tuned"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    let out = info("Tuned");
    let text = String::from_utf8_lossy(&out.stdout);
    let v: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(v["gemm_policy"], "tuned", "{v}");
}

#[test]
fn cli_refuses_an_unknown_subgroup_setting_and_reports_the_chosen_one() {
    let info = |value: &str| info_with("ODDITY_SUBGROUPS", value);
    let out = info("sometimes");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("invalid ODDITY_SUBGROUPS: `sometimes` is neither `on` nor `off`"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    for (value, want) in [("OFF", false), ("on", true)] {
        let out = info(value);
        assert!(out.status.success(), "{value}");
        let text = String::from_utf8_lossy(&out.stdout);
        let v: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
        assert_eq!(v["subgroups"], want, "{v}");
    }
}

/// One plan of `oddity bench --json`'s `plans`: each dispatch names its kernel, workgroups and
/// threads, and a serial length; a GEMM's is its K loop (16 deep, 64 for `gemm_sliced`), read
/// from its `MxNxK`.
fn check_plan_report(plan: &serde_json::Value) {
    let list = plan
        .as_array()
        .unwrap_or_else(|| panic!("not a plan: {plan}"));
    assert!(!list.is_empty());
    for d in list {
        let kernel = d["kernel"].as_str().unwrap();
        let groups: u64 = d["groups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g.as_u64().unwrap())
            .product();
        let size: u64 = d["workgroup_size"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g.as_u64().unwrap())
            .product();
        assert!(
            groups > 0 && d["invocations"].as_u64() == Some(groups * size),
            "{d}"
        );
        let serial = d["serial"]["steps"]
            .as_u64()
            .unwrap_or_else(|| panic!("no serial length: {d}"));
        assert!(serial >= 1 && d["serial"]["of"].is_string(), "{d}");
        if let Some(note) = d["note"].as_str() {
            let k: u64 = note.split('x').nth(2).unwrap().parse().unwrap();
            let depth = if kernel.ends_with("::gemm_sliced") {
                64
            } else {
                16
            };
            assert!(kernel.contains("::gemm"), "{d}");
            assert_eq!(serial, k.div_ceil(depth), "{d}");
        }
    }
}

#[test]
fn cli_bench_json_last_line_has_the_fields() {
    // The dataset stored as f32 and as f16, under three GEMM policies (tuned: each product's
    // kernel timed while the plans are recorded, before anything is counted): the same counts
    // each way. The last run also sweeps every GEMM kernel over the DAE's products.
    for (precision, gemm, sweep) in [
        ("f32", "auto", "0"),
        ("f16", "tiled", "0"),
        ("f32", "tuned", "1"),
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_oddity"))
            .args([
                "bench",
                "--precision",
                precision,
                "--gemm",
                gemm,
                "--json",
                "--rows",
                "300",
                "--dim",
                "16",
                // The paper's depth (three encoder layers, an independent decoder), small widths.
                "--hidden",
                "8,6,4",
                "--batch",
                "32",
                "--steps",
                "20",
                "--repeats",
                "1",
                "--pretrain-steps",
                "20",
                "--active-steps",
                "5",
                "--k",
                "3",
                "--budget",
                "9",
                "--sweep",
                sweep,
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        let v: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
        assert!(v["adapter"].is_string(), "{v}");
        assert_eq!(v["precision"], precision, "{v}");
        assert_eq!(v["gemm"], gemm, "{v}");
        assert!(v["subgroups"].is_boolean(), "{v}");
        for k in [
            "algorithm1_s",
            "pretrain_steps_per_s",
            "dispatches_per_step",
            "host_waits_per_round",
            "score_all_ms",
        ] {
            assert!(v[k].as_f64().is_some_and(|x| x > 0.0), "{k} in {v}");
        }
        // Algorithm 1: 9 labels at k 3 are three rounds, each one submit of training, one of
        // scoring and top-k, and one host wait (the top-k readback); nothing else waits.
        assert_eq!(v["rounds"], 3, "{v}");
        assert_eq!(v["host_waits_per_round"], 1.0, "{v}");
        // The target for a DAE_uai step of this depth: at most 24 dispatches. It is 22:
        // sampling, 6 forward GEMMs, the row errors with their gradient, the head's backward
        // (which writes its loss too), 11 backward GEMMs, the optimizer, the step counter. The
        // mean's value is deferred: once per run, not per step.
        assert_eq!(v["dispatches_per_step"], 22.0, "{v}");
        // One query: the copy of the head's standardisation from the last step, then (the rows
        // fit one chunk) 6 GEMMs, the row errors, the head's scores and one top-k pass (300
        // rows).
        assert_eq!(v["dispatches_per_query"], 10, "{v}");
        let dae = &v["dae"];
        // The plan-level report: every dispatch of each plan with its workgroups and serial
        // length, the counts agreeing with the runtime's counters above.
        let plans = &v["plans"];
        let dispatches = |plan: &serde_json::Value, once: bool| {
            plan.as_array()
                .unwrap_or_else(|| panic!("no plan in {v}"))
                .iter()
                .filter(|d| d["once_per_run"] == once)
                .count()
        };
        assert_eq!(dispatches(&plans["step"], false), 22, "{plans}");
        assert_eq!(
            dispatches(&plans["query"], false) + dispatches(&plans["query"], true),
            10,
            "{plans}"
        );
        for name in ["step", "base step", "query", "hedged query"] {
            check_plan_report(&plans[name]);
        }
        for name in ["step", "score"] {
            check_plan_report(&dae["plans"][name]);
        }
        // The DAE: no head, the same otherwise.
        assert_eq!(dae["dispatches_per_step"], 21.0, "{v}");
        assert_eq!(dae["submits_per_100_steps"], 1);
        assert_eq!(dae["host_waits_per_100_steps"], 0);
        assert!(dae["steps_per_s"].as_f64().unwrap() > 0.0);
        // The trained DAE scored on an f32 and an f16 copy of the data.
        let f16 = &dae["f16_scoring"];
        assert_eq!(f16["top_rows"], 3, "{v}");
        assert!(
            f16["top_overlap"]
                .as_f64()
                .is_some_and(|x| (0.0..=1.0).contains(&x)),
            "{v}"
        );
        for k in [
            "max_abs_diff",
            "mean_abs_diff",
            "score_std",
            "ap_f32",
            "ap_f16",
        ] {
            assert!(
                f16[k].as_f64().is_some_and(|x| x.is_finite() && x >= 0.0),
                "{k} in {v}"
            );
        }
        let products = dae["gemm_sweep"]["products"].as_array();
        if sweep == "0" {
            assert!(dae["gemm_sweep"].is_null(), "{v}");
        } else {
            // Every GEMM of the step (6 forward, 11 backward) and of the scoring pass (6), each
            // timed under the four kernels.
            let p = products.unwrap_or_else(|| panic!("no sweep in {v}"));
            let count = |plan: &str| p.iter().filter(|x| x["plan"] == plan).count();
            assert_eq!((count("step"), count("score")), (17, 6), "{v}");
            for x in p {
                let us = x["us"].as_array().unwrap();
                assert_eq!(us.len(), 4, "{x}");
                assert!(
                    us.iter()
                        .chain([&x["chosen_us"]])
                        .all(|u| u.as_f64().is_some_and(|u| u > 0.0)),
                    "{x}"
                );
                assert!(
                    x["chosen"].as_str().is_some_and(|k| k.starts_with("gemm")),
                    "{x}"
                );
            }
        }
    }
    let info = std::process::Command::new(env!("CARGO_BIN_EXE_oddity"))
        .args(["info", "--json"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(
        String::from_utf8_lossy(&info.stdout)
            .lines()
            .last()
            .unwrap(),
    )
    .unwrap();
    assert!(
        v["adapters"].as_array().is_some_and(|a| !a.is_empty()) && v["chosen"].is_string(),
        "{v}"
    );
}

#[test]
fn async_readback_and_a_borrowed_device() {
    use oddity::Gpu;
    let own = gpu();
    let buf = own.upload(&[1.5f32, -2.0, 3.25], "x").unwrap();
    let pending = own.read_async(&buf, 1, 2).unwrap();
    let got = pollster::block_on(pending).unwrap();
    assert_eq!(got, vec![-2.0, 3.25]);
    assert!(msg(own.read_async(&buf, 2, 2)).contains("2 words at 2"));

    // An application's own device, borrowed: oddity's kernels run on it.
    let _lock = CREATING_DEVICES.lock().unwrap_or_else(|e| e.into_inner());
    let instance =
        wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
    let adapter = oddity::gpu::adapter::choose(&instance).unwrap();
    let (device, queue) =
        pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor::default())).unwrap();
    let borrowed = Gpu::from_wgpu(&adapter, &device, &queue);
    let (x, out) = (
        borrowed.upload(&[2f32; 5], "x").unwrap(),
        borrowed.upload(&[f32::NAN], "out").unwrap(),
    );
    let mut b = PlanBuilder::new(&borrowed);
    b.dispatch(
        k::reduce::REDUCE_SUM,
        Some(&ReduceParams {
            n: 5,
            x_off: 0,
            out_off: 0,
            scale: 0.5,
        }),
        &[("x", &x), ("out", &out)],
        [1, 1, 1],
    )
    .unwrap();
    b.finish().unwrap().run(1).unwrap();
    assert_eq!(borrowed.read_f32(&out, 0, 1).unwrap(), vec![5.0]);
}

#[test]
fn devices_created_from_many_threads_at_once() {
    // Seen on NVIDIA's Vulkan driver: a dozen threads creating instances and devices together
    // hung; Gpu::new serialises creation.
    let _lock = CREATING_DEVICES.lock().unwrap_or_else(|e| e.into_inner());
    let handles: Vec<_> = (0..12)
        .map(|i| {
            std::thread::spawn(move || {
                let gpu = own_gpu();
                let (x, out) = (
                    gpu.upload(&[i as f32; 3], "x").unwrap(),
                    gpu.upload(&[f32::NAN], "out").unwrap(),
                );
                let mut b = PlanBuilder::new(&gpu);
                b.dispatch(
                    k::reduce::REDUCE_SUM,
                    Some(&ReduceParams {
                        n: 3,
                        x_off: 0,
                        out_off: 0,
                        scale: 1.0,
                    }),
                    &[("x", &x), ("out", &out)],
                    [1, 1, 1],
                )
                .unwrap();
                b.finish().unwrap().run(1).unwrap();
                gpu.read_f32(&out, 0, 1).unwrap()[0]
            })
        })
        .collect();
    for (i, h) in handles.into_iter().enumerate() {
        assert_eq!(h.join().unwrap(), 3.0 * i as f32);
    }
}
