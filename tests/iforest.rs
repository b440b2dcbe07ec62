//! The isolation forest: its scoring kernel against the f64 twin on random forests at awkward
//! shapes with poisoned outputs; the model's forest against Liu et al.'s rules (path-length
//! normaliser, height limit, isolation of a far point), its file, and its active face.

mod common;

use common::*;
use oddity::data::Dataset;
use oddity::models::{Settings, average_path_length, registry};
use oddity::tape::PlanBuilder;
use oddity_kernels::kernels as k;
use oddity_kernels::params::IForestParams;
use oddity_kernels::reference as r;
use rand::RngExt;
use rand::rngs::StdRng;

/// A random tree of at most `npt` nodes in pre-order (the kernel's layout) over `cols`
/// features, splits on thresholds drawn like the data, leaves with random path lengths.
fn random_tree(rng: &mut StdRng, cols: u32, npt: usize, depth: u32, out: &mut Vec<[f32; 4]>) {
    let at = out.len();
    out.push([-1.0, rng.random_range(0.0f32..3.0), 0.0, 0.0]);
    // Room for this split's two leaves at least, and a random depth.
    if depth >= 6 || out.len() + 2 > npt || rng.random_range(0.0..1.0) < 0.25 {
        return;
    }
    let f = rng.random_range(0..cols) as f32;
    let t = rng.random_range(-1.0f32..1.0);
    let left = out.len();
    random_tree(rng, cols, npt - 1, depth + 1, out);
    let right = out.len();
    if right + 1 > npt {
        out.truncate(left);
        return;
    }
    random_tree(rng, cols, npt, depth + 1, out);
    out[at] = [f, t, left as f32, right as f32];
}

#[test]
fn iforest_score_kernel_matches_reference() {
    let gpu = gpu();
    let mut rng = rng();
    // One row, just past one workgroup, many workgroups; one feature, odd widths.
    for &(rows, cols, trees, npt) in &[
        (1u32, 1u32, 1u32, 1u32),
        (257, 7, 3, 31),
        (5001, 13, 17, 63),
    ] {
        let (n, c) = (rows as usize, cols as usize);
        let x = randn(&mut rng, 5 + n * c, 1.2);
        let mut table = vec![f32::NAN; 2 * 4];
        for _ in 0..trees {
            let mut nodes = Vec::new();
            random_tree(&mut rng, cols, npt as usize, 0, &mut nodes);
            assert!(nodes.len() <= npt as usize);
            nodes.resize(npt as usize, [f32::NAN; 4]);
            table.extend(nodes.iter().flatten());
        }
        let (gx, gt) = (
            gpu.upload(&x, "x").unwrap(),
            gpu.upload(&table, "nodes").unwrap(),
        );
        let out = gpu.upload(&vec![f32::NAN; n + 4], "out").unwrap();
        let p = IForestParams {
            rows,
            cols,
            x_off: 5,
            t_off: 8,
            trees,
            npt,
            out_off: 3,
        };
        let mut b = PlanBuilder::new(&gpu);
        b.dispatch(
            k::iforest::IFOREST_SCORE,
            Some(&p),
            &[("x", &gx), ("nodes", &gt), ("out", &out)],
            gpu.grid_1d(rows.div_ceil(256)).unwrap(),
        )
        .unwrap();
        b.finish().unwrap().run(1).unwrap();
        let mut want = vec![0.0; n + 4];
        r::iforest_score(&p, &wide(&x), &wide(&table), &mut want);
        let got = gpu.read_f32(&out, 0, out.words()).unwrap();
        assert!(got[..3].iter().all(|v| v.is_nan()), "wrote before out_off");
        assert!(got[3 + n].is_nan(), "wrote past the rows");
        let e = rel_err(&got[3..3 + n], &want[3..3 + n]);
        assert!(
            e < 1e-5,
            "iforest_score rows={rows} cols={cols} trees={trees}: {e}"
        );
    }
}

#[test]
fn average_path_length_is_liu_et_al_equation_1() {
    assert_eq!(average_path_length(0), 0.0);
    assert_eq!(average_path_length(1), 0.0);
    assert_eq!(average_path_length(2), 1.0);
    // 2 H(255) - 2 * 255 / 256, H(i) = ln(i) + Euler's constant (sklearn's c(256)).
    let want = 2.0 * (255f64.ln() + 0.577_215_664_901_532_9) - 2.0 * 255.0 / 256.0;
    assert!((average_path_length(256) - want).abs() < 1e-12);
    assert!((average_path_length(256) - 10.244_770_920_922_1).abs() < 1e-9);
}

/// `n` rows of a 2-feature Gaussian blob in [0, 1], the last `far` of them moved far off it.
fn blob(n: usize, far: usize, seed: u64) -> Dataset {
    use rand::SeedableRng;
    let mut rng = StdRng::seed_from_u64(seed);
    let mut x = Vec::new();
    let mut anomaly = Vec::new();
    for i in 0..n {
        let outlier = i >= n - far;
        for _ in 0..2 {
            let v: f32 = rng.random_range(0.4..0.6);
            x.push(if outlier { v - 0.38 } else { v });
        }
        anomaly.push(u8::from(outlier));
    }
    dataset("blob", 2, x, Some(anomaly))
}

#[test]
fn a_fitted_forest_isolates_far_rows_and_scores_as_its_reference() {
    let gpu = gpu();
    let data = blob(700, 7, 3);
    let entry = registry::detector("iforest").unwrap();
    let mut forest = entry.build(&gpu, &data, &Settings::default()).unwrap();
    let before = forest.score(&data).unwrap();
    assert!(
        before.iter().all(|&s| s == 1.0),
        "unfitted: one leaf per tree"
    );
    forest.fit(&data).unwrap();
    let scores = forest.score(&data).unwrap();
    // Every far row ranks above every blob row.
    let worst_far = scores[693..].iter().cloned().fold(f32::INFINITY, f32::min);
    let best_blob = scores[..693].iter().cloned().fold(0.0, f32::max);
    assert!(worst_far > best_blob, "far {worst_far} vs blob {best_blob}");
    assert!(scores.iter().all(|&s| s > 0.0 && s <= 1.0));
    // The GPU's scores are the f64 reference's on the model's own trees (read back).
    let state = forest.core().state().unwrap();
    let nodes: Vec<f64> = wide(&state.params);
    let p = IForestParams {
        rows: data.rows as u32,
        cols: 2,
        x_off: 0,
        t_off: 0,
        trees: 100,
        npt: 511,
        out_off: 0,
    };
    let mut want = vec![0.0; data.rows];
    r::iforest_score(&p, &wide(&data.x), &nodes, &mut want);
    assert!(rel_err(&scores, &want) < 1e-5);
    // Liu et al.'s height limit: ceil(log2 256) = 8, so no leaf is deeper than 8 and the
    // normalised path length of a leaf is at most (8 + c(256)) / c(256).
    let c = average_path_length(256);
    for node in state.params.chunks(4).filter(|n| n[0] < 0.0) {
        assert!(f64::from(node[1]) <= (8.0 + c) / c + 1e-5, "leaf {node:?}");
    }
}

#[test]
fn a_forest_is_seeded_saved_and_loaded() {
    let gpu = gpu();
    let data = blob(300, 3, 9);
    let entry = registry::detector("iforest").unwrap();
    let fit = |seed| {
        let mut m = entry
            .build(
                &gpu,
                &data,
                &Settings {
                    seed,
                    ..Settings::default()
                },
            )
            .unwrap();
        m.fit(&data).unwrap();
        m
    };
    let (a, b, c) = (fit(1), fit(1), fit(2));
    let sa = a.score(&data).unwrap();
    assert_eq!(sa, b.score(&data).unwrap(), "same seed, same forest");
    assert_ne!(sa, c.score(&data).unwrap(), "another seed, another forest");
    let back = reloaded(&gpu, a.as_ref());
    assert_eq!(back.name(), "iforest");
    assert_eq!(back.score(&data).unwrap(), sa);
}

#[test]
fn a_forest_refuses_what_it_cannot_grow_on() {
    let gpu = gpu();
    let one = dataset("one row", 2, vec![0.5, 0.5], None);
    let entry = registry::detector("iforest").unwrap();
    let mut m = entry.build(&gpu, &one, &Settings::default()).unwrap();
    let e = m.fit(&one).unwrap_err().to_string();
    assert!(e.contains("one row") && e.contains("at least 2"), "{e}");
    let wide3 = dataset("three", 3, vec![0.0; 9], None);
    let e = m.fit(&wide3).unwrap_err().to_string();
    assert!(e.contains("3 features"), "{e}");
}

#[test]
fn under_algorithm_1_the_forest_ranks_by_its_score_and_ignores_labels() {
    use oddity::active::{ActiveConfig, ActiveRun, GroundTruth};
    let gpu = gpu();
    let data = blob(400, 6, 5);
    let x = data.upload(&gpu).unwrap();
    let mut m = registry::active("iforest")
        .unwrap()
        .build(&gpu, &data, &Settings::default())
        .unwrap();
    let config = ActiveConfig {
        k: 3,
        budget: 12,
        pretrain_steps: 10,
        active_steps: 10,
    };
    let mut run = ActiveRun::new(&gpu, m.active().unwrap(), &data, &x, config, None).unwrap();
    run.drive(&data, &mut GroundTruth, |_| {}).unwrap();
    assert_eq!(run.found(), 6, "the six far rows come first");
    // The rows asked are the forest's top 12, best first.
    let asked: Vec<u32> = run
        .history()
        .iter()
        .flat_map(|h| h.shown.iter().map(|s| s.0))
        .collect();
    drop(run);
    let scores = m.score(&data).unwrap();
    let mut order: Vec<u32> = (0..data.rows as u32).collect();
    order.sort_by(|&a, &b| {
        scores[b as usize]
            .total_cmp(&scores[a as usize])
            .then(a.cmp(&b))
    });
    assert_eq!(asked, order[..12]);
}
