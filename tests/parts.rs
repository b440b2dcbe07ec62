//! Data larger than one storage binding: `DataRows` spreads its rows over up to four buffers,
//! the samplers (`gather_parts.wgsl`) read them all in one dispatch, and scoring walks them
//! in chunks. Everything read from data in parts must equal what the same data in one buffer
//! gives, bit for bit; the split itself follows the adapter's binding limit.

mod common;

use common::*;
use oddity::data::{Dataset, Schema};
use oddity::models::{LabelCounts, LabelSet};
use oddity::ops::data::LabelSource;
use oddity::tape::{DataRows, StepState, Tape};
use oddity::{Error, Gpu, Tensor};
use oddity_kernels::params::{GatherParams, NONE};
use oddity_kernels::reference as r;

const COLS: u32 = 13;
/// Rows of every part but the last (38 x 13 is even: f16 parts hold whole words).
const PART: u32 = 38;
const ROWS: u32 = 2 * PART + 29;

/// The same rows in one buffer and in three parts, stored as f32 or f16.
fn both(gpu: &Gpu, data: &[f32], half: bool) -> (DataRows, DataRows) {
    let t = |d: &[f32], rows: u32| match half {
        true => Tensor::from_slice_f16(gpu, d, rows, COLS, "d").unwrap(),
        false => Tensor::from_slice(gpu, d, rows, COLS, "d").unwrap(),
    };
    let w = COLS as usize;
    let parts = (0..ROWS)
        .step_by(PART as usize)
        .map(|r0| {
            let n = PART.min(ROWS - r0);
            t(&data[r0 as usize * w..(r0 + n) as usize * w], n)
        })
        .collect();
    let split = DataRows::from_parts(parts).unwrap();
    assert_eq!((split.parts().len(), split.rows()), (3, ROWS));
    (t(data, ROWS).into(), split)
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// Every sampler over data in parts: the same rows, noise, labels and classes as over one
/// buffer, and (f32) the reference's rows from the concatenated data.
#[test]
fn samplers_read_data_in_parts_as_in_one_buffer() {
    let gpu = gpu();
    let mut rng = rng();
    let data = randn(&mut rng, (ROWS * COLS) as usize, 1.0);
    let classes: Vec<u32> = (0..ROWS).map(|i| (i * 7) % 5).collect();
    let gc = gpu.upload(&classes, "classes").unwrap();
    // Labelled rows in every part, and an index past the data (a NaN row).
    let lab_rows = [3u32, 40, 80, 104, 77];
    let mut lab = vec![lab_rows.len() as u32];
    lab.extend(lab_rows);
    lab.extend([1, 0, 1, 0, 1]);
    let glab = gpu.upload(&lab, "lab").unwrap();
    let idx = gpu
        .upload(&[0u32, 37, 38, 75, 76, 104, ROWS], "idx")
        .unwrap();
    for half in [false, true] {
        let (one, split) = both(&gpu, &data, half);
        let outputs = |d: &DataRows| -> Vec<Vec<u32>> {
            let state = StepState::new(&gpu).unwrap();
            let mut tape = Tape::new(&gpu, &state);
            let s = tape.sample_rows_with(d, Some(&gc), 101, 0.3, 77).unwrap();
            let g = tape.gather_rows(d, &idx, 0, 7).unwrap();
            let src = LabelSource {
                lab: &glab,
                cap: 5,
                classes: Some(&gc),
            };
            let l = tape.sample_labelled(d, src, 50, 9, 0.2, 78).unwrap();
            tape.finish().unwrap().run(1).unwrap();
            let f = |t: &Tensor| bits(&t.read(&gpu).unwrap());
            let u = |b: &oddity::gpu::GpuBuffer, n| gpu.read_u32(b, 0, n).unwrap();
            vec![
                f(&s.clean),
                f(s.noisy.as_ref().unwrap()),
                u(s.class.as_ref().unwrap(), 101),
                f(&g),
                f(&l.clean),
                f(l.noisy.as_ref().unwrap()),
                f(&l.y),
                u(l.class.as_ref().unwrap(), 59),
            ]
        };
        let (a, b) = (outputs(&one), outputs(&split));
        for (i, (x, y)) in a.iter().zip(&b).enumerate() {
            assert_eq!(x, y, "output {i}, f16 {half}");
        }
        // The gathered row past the data is NaN either way; a row of the last part is there.
        let gathered: Vec<f32> = a[3].iter().map(|&w| f32::from_bits(w)).collect();
        assert!(gathered[6 * COLS as usize..].iter().all(|v| v.is_nan()));
        if !half {
            let p = GatherParams {
                rows: 101,
                cols: COLS,
                n_data: ROWS,
                data_off: 0,
                out_off: 0,
                noisy_off: NONE,
                idx_off: 0,
                seed: 77,
                noise_std: 0.0,
                cls_off: NONE,
                cls_out_off: 0,
                part_len: PART * COLS,
            };
            let mut want = vec![0.0; (101 * COLS) as usize];
            let wide: Vec<f64> = data.iter().map(|&v| f64::from(v)).collect();
            let picked = r::sample_rows(&p, &wide, 0, &mut want, &mut []);
            assert!(
                picked.iter().any(|&r| r >= 2 * PART),
                "the last part is drawn from"
            );
            let got: Vec<f64> = a[0].iter().map(|&w| f64::from(f32::from_bits(w))).collect();
            assert_eq!(got, want);
        }
    }
}

fn dataset(rows: u32, seed: u64) -> Dataset {
    let (x, y) = oddity::data::synthetic_mnist(rows as usize, COLS as usize, 0.05, seed);
    Dataset {
        name: "parts".into(),
        rows: rows as usize,
        cols: COLS as usize,
        x,
        anomaly: Some(y),
        class: None,
        schema: Schema::numeric(
            (0..COLS).map(|i| format!("f{i}")),
            &vec![(0.0, 1.0); COLS as usize],
        ),
        origin: None,
    }
}

/// A UAI model prepared on data in parts trains, scores and queries exactly as on one buffer.
#[test]
fn a_model_on_data_in_parts_trains_and_queries_as_on_one_buffer() {
    let gpu = gpu();
    let data = dataset(ROWS, 3);
    let (one, split) = both(&gpu, &data.x, false);
    let entry = oddity::models::registry::active("dae-uai").unwrap();
    let settings = oddity::models::Settings {
        hidden: Some(vec![6, 3]),
        batch: Some(16),
        ..Default::default()
    };
    let run = |x: &DataRows| {
        let mut m = entry.build(&gpu, &data, &settings).unwrap();
        let mut labels = LabelSet::new(&gpu, ROWS).unwrap();
        let a = m.active().unwrap();
        a.prepare(&data, x, &labels, 5).unwrap();
        a.train(30, LabelCounts::default()).unwrap();
        let first = a.query(LabelCounts::default()).unwrap();
        labels
            .add(&gpu, &[(first[0].0, 1), (first[1].0, 0)])
            .unwrap();
        let counts = labels.counts();
        a.train(10, counts).unwrap();
        let second = a.query(counts).unwrap();
        let scores = a.last_scores().unwrap();
        let plain = m.score_tensor(x, None).unwrap();
        (first, second, bits(&scores), bits(&plain))
    };
    assert_eq!(run(&one), run(&split));
}

/// `DataRows::upload` splits where the adapter's binding ends, and refuses, before reading the
/// data, what four bindings cannot hold.
#[test]
fn uploads_split_at_the_binding_limit() {
    let gpu = gpu();
    let binding = gpu
        .limits()
        .max_storage_buffer_binding_size
        .min(gpu.limits().max_buffer_size);
    let cols = 4096u32;
    let per_part = (binding / (4 * u64::from(cols))) as u32;
    // One row past one binding: two parts, the second of one row.
    let rows = per_part + 1;
    let data = vec![0.5f32; rows as usize * cols as usize];
    let d = DataRows::upload(&gpu, &data, rows, cols, "big", false).unwrap();
    assert_eq!(d.parts().len(), 2);
    assert_eq!(
        (d.part_rows(), d.parts()[1].rows(), d.rows()),
        (per_part, 1, rows)
    );
    drop(d);
    drop(data);
    // Five bindings' worth: refused with the sizes, whatever the data.
    let e = DataRows::upload(&gpu, &[], 5 * per_part, cols, "huge", false)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("huge") && e.contains("at most 4 buffers") && e.contains(&binding.to_string()),
        "{e}"
    );
    // Parts that do not fit together.
    let t = |rows: usize, cols: usize| {
        Tensor::from_slice(&gpu, &vec![0.0; rows * cols], rows as u32, cols as u32, "p").unwrap()
    };
    let e = DataRows::from_parts(vec![t(3, 2), t(4, 2)])
        .unwrap_err()
        .to_string();
    assert!(e.contains("only the last may differ"), "{e}");
    let e = DataRows::from_parts(vec![t(3, 2), t(3, 3)])
        .unwrap_err()
        .to_string();
    assert!(e.contains("part 1 is 3 columns"), "{e}");
    let split = DataRows::from_parts(vec![t(3, 2), t(2, 2)]).unwrap();
    let e = split.whole("an op").unwrap_err().to_string();
    assert!(e.contains("spread over 2 buffers"), "{e}");
    assert!(matches!(
        DataRows::from_parts(Vec::new()),
        Err(Error::Invalid { .. })
    ));
}

/// The case: `oddity bench --rows 45000 --dim 784` was refused on the software adapter
/// (141 MB of data, 128 MiB per binding); it now trains and scores the data in two parts.
#[test]
fn bench_past_one_binding_trains_and_scores_in_parts() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_oddity"))
        .args([
            "bench",
            "--rows",
            "45000",
            "--dim",
            "784",
            "--hidden",
            "8,4",
            "--batch",
            "16",
            "--steps",
            "2",
            "--repeats",
            "1",
            "--pretrain-steps",
            "2",
            "--active-steps",
            "1",
            "--budget",
            "5",
            "--k",
            "5",
            "--json",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let text = String::from_utf8_lossy(&out.stdout);
    let v: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(v["rounds"], 1, "{v}");
    assert!(v["score_all_ms"].as_f64().is_some_and(|x| x > 0.0), "{v}");
}
