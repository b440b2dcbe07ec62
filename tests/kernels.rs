//! Every kernel against its f64 twin in `oddity_kernels::reference`, on fresh random inputs at
//! shapes that are not multiples of the tiles, with every output buffer poisoned with NaN first.

mod common;

use common::kernel::*;
use common::*;
use oddity::Gpu;
use oddity::gpu::gemm::{
    GEMM_HUGE_TILE, GEMM_SLICED_MIN_K, GEMM_TILE, GEMM_WIDE_TILE, GemmPolicy, gemm_kernel,
};
use oddity::gpu::{GpuBuffer, KernelId};
use oddity::tape::PlanBuilder;
use oddity_kernels::kernels as k;
use oddity_kernels::params::*;
use oddity_kernels::reference as r;

const TOL: f64 = 1e-5;

/// `v` stored as the kernels' f16 bindings read it (`half`), or as f32; with the values the
/// kernel sees (rounded to f16 or not), for the reference.
fn stored(gpu: &Gpu, v: &[f32], half: bool) -> (GpuBuffer, Vec<f32>) {
    if half {
        let seen = v.iter().map(|&x| half::f16::from_f32(x).to_f32()).collect();
        (gpu.upload_f16(v, "f16 data").unwrap(), seen)
    } else {
        (gpu.upload(v, "data").unwrap(), v.to_vec())
    }
}

/// How the data binding is stored, for messages: an f16 buffer runs the kernel's f16 twin.
fn storage(half: bool) -> &'static str {
    if half { "f16 data" } else { "f32 data" }
}

/// Runs one GEMM on random operands (with leading padding so offsets matter) and compares,
/// with A stored as f32 (`gemm`) and as f16 (`gemm16`, against the reference on the rounded A).
fn check_gemm(
    gpu: &Gpu,
    rng: &mut rand::rngs::StdRng,
    p: GemmParams,
    a_len: usize,
    b_len: usize,
    label: &str,
) {
    let a = randn(rng, a_len, 1.0);
    let a_aux: Vec<f32> = randn(rng, a_len, 1.0)
        .iter()
        .map(|v| v.abs() * 0.9)
        .collect();
    let b = randn(rng, b_len, 1.0);
    let b_aux: Vec<f32> = randn(rng, b_len, 1.0)
        .iter()
        .map(|v| v.abs() * 0.9)
        .collect();
    let c_len = (p.c_off + p.m * p.ldc) as usize;
    let c0 = randn(rng, c_len, 1.0);
    let (gaa, gb, gba) = (
        gpu.upload(&a_aux, "aa").unwrap(),
        gpu.upload(&b, "b").unwrap(),
        gpu.upload(&b_aux, "ba").unwrap(),
    );
    for half in [false, true] {
        let (ga, a_seen) = stored(gpu, &a, half);
        let shader = storage(half);
        let mut want = if p.accumulate != 0 {
            wide(&c0)
        } else {
            vec![0.0; c_len]
        };
        r::gemm(
            &p,
            &wide(&a_seen),
            &wide(&a_aux),
            &wide(&b),
            &wide(&b_aux),
            &mut want,
        );
        // Every entry point against the reference. The three tilings are bit-identical to each
        // other (they add the K terms in the same order, so choosing one by shape never changes
        // a result); sliced K adds them in another order.
        let mut results = Vec::new();
        for (kernel, tile) in [
            (k::gemm::GEMM, GEMM_TILE),
            (k::gemm::GEMM_WIDE, GEMM_WIDE_TILE),
            (k::gemm::GEMM_HUGE, GEMM_HUGE_TILE),
            (k::gemm::GEMM_SLICED, GEMM_TILE),
        ] {
            let entry = kernel.entry;
            let gc = if p.accumulate != 0 {
                gpu.upload(&c0, "c").unwrap()
            } else {
                poisoned(gpu, c_len)
            };
            run(
                gpu,
                kernel,
                Some(&p),
                &[
                    ("a", &ga),
                    ("a_aux", &gaa),
                    ("b", &gb),
                    ("b_aux", &gba),
                    ("c", &gc),
                ],
                [p.n.div_ceil(tile), p.m.div_ceil(tile), 1],
            );
            let got = read(gpu, &gc);
            // Compare the region the kernel owns (rows of C), skipping any prefix before c_off.
            let s = p.c_off as usize;
            let e = rel_err(&got[s..], &want[s..]);
            eprintln!(
                "{entry} on {shader} {label} {}x{}x{}: rel err {e:.2e}",
                p.m, p.n, p.k
            );
            assert!(
                e < TOL,
                "{entry} on {shader} {label} {}x{}x{}: rel err {e}",
                p.m,
                p.n,
                p.k
            );
            results.push(got.iter().map(|v| v.to_bits()).collect::<Vec<u32>>());
        }
        assert!(
            results[0] == results[1] && results[0] == results[2],
            "{shader}: gemm, gemm_wide and gemm_huge differ at {label} {}x{}x{}",
            p.m,
            p.n,
            p.k
        );
    }
}

#[test]
fn gemm_tiling_follows_the_grid_size() {
    use GemmPolicy::{Auto, Tiled};
    // The training step's products keep 32x32 tiles, sliced K from K = 128 (Auto only).
    for (m, n, k) in [
        (256, 784, 256),
        (320, 256, 784),
        (784, 256, 320),
        (257, 9, 128),
    ] {
        assert_eq!(
            gemm_kernel(m, n, k, Auto).0.entry,
            "gemm_sliced",
            "{m}x{n}x{k}"
        );
        assert_eq!(gemm_kernel(m, n, k, Tiled).0.entry, "gemm", "{m}x{n}x{k}");
        assert_eq!(gemm_kernel(m, n, k, Auto).1, gemm_kernel(m, n, k, Tiled).1);
    }
    for (m, n, k) in [(1, 1, 1), (8192, 8, 64), (256, 784, GEMM_SLICED_MIN_K - 1)] {
        for policy in [Auto, Tiled] {
            assert_eq!(gemm_kernel(m, n, k, policy).0.entry, "gemm", "{m}x{n}x{k}");
        }
    }
    // Scoring every row: 128x128 tiles where even they give 512 workgroups (Auto), else 64x64.
    for (m, n, auto) in [
        (60000, 256, "gemm_huge"),
        (60000, 784, "gemm_huge"),
        (60000, 8, "gemm_wide"),
        (60000, 64, "gemm_wide"),
        (8192, 256, "gemm_wide"),
    ] {
        for (policy, want) in [(Auto, auto), (Tiled, "gemm_wide")] {
            let (kernel, grid) = gemm_kernel(m, n, 784, policy);
            let entry = kernel.entry;
            let tile = if entry == "gemm_huge" { 128 } else { 64 };
            assert_eq!(entry, want, "{m}x{n} {policy:?}");
            assert_eq!(grid, [n.div_ceil(tile), m.div_ceil(tile), 1]);
        }
    }
    // The single-kernel policies (for `oddity bench --sweep`) use their kernel at every shape.
    for (m, n, k) in [(1, 1, 1), (256, 784, 256), (60000, 784, 256), (8192, 8, 64)] {
        for (policy, entry, tile) in [
            (GemmPolicy::Gemm, "gemm", GEMM_TILE),
            (GemmPolicy::Wide, "gemm_wide", GEMM_WIDE_TILE),
            (GemmPolicy::Sliced, "gemm_sliced", GEMM_TILE),
            (GemmPolicy::Huge, "gemm_huge", GEMM_HUGE_TILE),
        ] {
            let got = gemm_kernel(m, n, k, policy);
            assert_eq!(got.0.entry, entry, "{m}x{n}x{k} {policy:?}");
            assert_eq!(got.1, [n.div_ceil(tile), m.div_ceil(tile), 1]);
        }
    }
}

const SHAPES: &[(u32, u32, u32)] = &[
    (1, 1, 1),
    (3, 5, 7),
    (65, 17, 130),
    (257, 785, 129),
    (256, 784, 256),
    (37, 45, 801),
];

#[test]
fn gemm_forward_bias_activation() {
    let gpu = gpu();
    let mut rng = rng();
    for (i, &(m, n, k)) in SHAPES.iter().enumerate() {
        let act = [0u32, 1, 2, 3, 4][i % 5];
        // x (m x k) at offset 3, param (k+1 x n) at offset 5 with the bias row last.
        let p = GemmParams {
            a_off: 3,
            a_rs: k,
            a_cs: 1,
            b_off: 5,
            b_rs: n,
            b_cs: 1,
            bias_off: 5 + k * n,
            c_off: 2,
            act,
            alpha: 0.1,
            ..GemmParams::new(m, n, k)
        };
        check_gemm(
            &gpu,
            &mut rng,
            p,
            (3 + m * k) as usize,
            (5 + (k + 1) * n) as usize,
            &format!("fwd act {act}"),
        );
    }
}

#[test]
fn gemm_grad_weights_with_bias_row_and_fused_derivative() {
    let gpu = gpu();
    let mut rng = rng();
    for (i, &(rows, n, k)) in SHAPES.iter().enumerate() {
        let act = [1u32, 2, 3, 4, 0][i % 5];
        // [dW; db] = [x 1]^T (dy * f'(y)): M = k + 1, N = n, K = rows.
        let p = GemmParams {
            a_off: 1,
            a_rs: 1,
            a_cs: k,
            a_ones_row: k,
            b_off: 4,
            b_rs: n,
            b_cs: 1,
            b_mode: 1,
            b_aux_off: 4,
            dact: act,
            alpha: 0.2,
            accumulate: u32::from(i % 2 == 1),
            ..GemmParams::new(k + 1, n, rows)
        };
        check_gemm(
            &gpu,
            &mut rng,
            p,
            (1 + rows * k) as usize,
            (4 + rows * n) as usize,
            &format!("dW act {act}"),
        );
    }
}

#[test]
fn gemm_grad_input_transposed_weights() {
    let gpu = gpu();
    let mut rng = rng();
    for (i, &(rows, n, k)) in SHAPES.iter().enumerate() {
        let act = [3u32, 4, 1, 2, 0][i % 5];
        // dx = (dy * f'(y)) W^T: M = rows, N = k, K = n; W is k x n at offset 6.
        let p = GemmParams {
            a_off: 2,
            a_rs: n,
            a_cs: 1,
            a_mode: 1,
            a_aux_off: 2,
            b_off: 6,
            b_rs: 1,
            b_cs: n,
            dact: act,
            alpha: 0.05,
            accumulate: u32::from(i % 2 == 0),
            ..GemmParams::new(rows, k, n)
        };
        check_gemm(
            &gpu,
            &mut rng,
            p,
            (2 + rows * n) as usize,
            (6 + (k + 1) * n) as usize,
            &format!("dX act {act}"),
        );
    }
}

#[test]
fn row_error_forward_and_backward() {
    let mut rng = rng();
    for gpu in reduction_gpus() {
        for &(rows, cols) in &[(1u32, 1u32), (3, 7), (257, 785), (1000, 3)] {
            // The target stored as f32 (`rowerr`) and as f16 (`rowerr16`: a dataset kept in half).
            for (mse, half) in [(0u32, false), (1, false), (0, true), (1, true)] {
                let shader = storage(half);
                let n = (rows * cols) as usize;
                let (pred, tgt, g) = (
                    randn(&mut rng, n + 2, 1.0),
                    randn(&mut rng, n + 5, 1.0),
                    randn(&mut rng, rows as usize + 1, 1.0),
                );
                let (gt, tgt) = stored(&gpu, &tgt, half);
                let (gp, gg) = (
                    gpu.upload(&pred, "p").unwrap(),
                    gpu.upload(&g, "g").unwrap(),
                );
                // Without the gradient, then with it for the first d_rows rows (the rest 0).
                for d_rows in [None, Some(rows.div_ceil(3)), Some(rows)] {
                    let out = poisoned(&gpu, rows as usize + 3);
                    let dpred = poisoned(&gpu, n + 1);
                    let p = RowErrParams {
                        rows,
                        cols,
                        pred_off: 2,
                        target_off: 5,
                        out_off: 3,
                        mse,
                        g_off: NONE,
                        g_scale: d_rows.map_or(1.0, |d| 1.0 / d as f32),
                        accumulate: 0,
                        d_off: d_rows.map_or(NONE, |_| 1),
                        d_rows: d_rows.unwrap_or(0),
                    };
                    run(
                        &gpu,
                        k::rowerr::ROWERR_FWD,
                        Some(&p),
                        &[
                            ("pred", &gp),
                            ("tgt", &gt),
                            ("out", &out),
                            ("dpred", &dpred),
                        ],
                        gpu.grid_1d(rows).unwrap(),
                    );
                    let mut want = vec![0.0; rows as usize + 3];
                    let mut want_d = vec![f64::NAN; n + 1];
                    r::rowerr_fwd(&p, &wide(&pred), &wide(&tgt), &mut want, &mut want_d);
                    let e = rel_err(&read(&gpu, &out)[3..], &want[3..]);
                    assert!(
                        e < TOL,
                        "rowerr_fwd on {shader} {rows}x{cols} mse={mse}: {e}"
                    );
                    let got_d = read(&gpu, &dpred);
                    if let Some(d) = d_rows {
                        let e = rel_err(&got_d[1..], &want_d[1..]);
                        assert!(e < TOL, "rowerr_fwd gradient {rows}x{cols} {d_rows:?}: {e}");
                        assert!(got_d[0].is_nan(), "wrote before the gradient");
                        let rest = &got_d[1 + (d * cols) as usize..];
                        assert!(rest.iter().all(|v| *v == 0.0), "rows past d_rows not 0");
                    } else {
                        assert!(got_d.iter().all(|v| v.is_nan()), "wrote a gradient unasked");
                    }
                }
                let p = RowErrParams {
                    rows,
                    cols,
                    pred_off: 2,
                    target_off: 5,
                    out_off: 3,
                    mse,
                    g_off: NONE,
                    g_scale: 1.0,
                    accumulate: 0,
                    d_off: NONE,
                    d_rows: 0,
                };
                for (g_off, acc) in [(NONE, 0u32), (1, 1)] {
                    let init = randn(&mut rng, n, 1.0);
                    let out = if acc == 1 {
                        gpu.upload(&init, "o").unwrap()
                    } else {
                        poisoned(&gpu, n)
                    };
                    let p = RowErrParams {
                        out_off: 0,
                        g_off,
                        g_scale: 0.7,
                        accumulate: acc,
                        ..p
                    };
                    run(
                        &gpu,
                        k::rowerr::ROWERR_BWD,
                        Some(&p),
                        &[("pred", &gp), ("tgt", &gt), ("g", &gg), ("out", &out)],
                        groups(&gpu, rows * cols),
                    );
                    let mut want = if acc == 1 { wide(&init) } else { vec![0.0; n] };
                    r::rowerr_bwd(&p, &wide(&pred), &wide(&tgt), &wide(&g), &mut want);
                    // Relative to the terms' size: accumulating onto `init` can cancel (at 1x1
                    // a sum near 0 left f32's rounding of the terms looking large).
                    let e = out_err(acc == 1, &read(&gpu, &out), &want, &init);
                    assert!(
                        e < TOL,
                        "rowerr_bwd on {shader} {rows}x{cols} mse={mse} g_off={g_off}: {e}"
                    );
                }
            }
        }
    }
}

#[test]
fn bce_with_logits_masked_forward_and_backward() {
    let mut rng = rng();
    for gpu in reduction_gpus() {
        for &rows in &[1u32, 7, 256, 1001] {
            for masked in [false, true] {
                let n = rows as usize;
                let z: Vec<f32> = randn(&mut rng, n + 1, 30.0);
                let y: Vec<f32> = (0..n + 2)
                    .map(|i| f32::from(u8::from((i * 7919) % 3 == 0)))
                    .collect();
                let mask: Vec<f32> = (0..n).map(|i| f32::from(u8::from(i % 4 != 1))).collect();
                let (gz, gy, gm) = (
                    gpu.upload(&z, "z").unwrap(),
                    gpu.upload(&y, "y").unwrap(),
                    gpu.upload(&mask, "m").unwrap(),
                );
                let gg = gpu.upload(&[0.5f32, 1.5], "g").unwrap();
                let out = poisoned(&gpu, 2);
                let p = BceParams {
                    rows,
                    z_off: 1,
                    y_off: 2,
                    mask_off: if masked { 0 } else { NONE },
                    out_off: 1,
                    g_off: NONE,
                    g_scale: 1.0,
                    accumulate: 0,
                };
                run(
                    &gpu,
                    k::bce::BCE_FWD,
                    Some(&p),
                    &[("z", &gz), ("y", &gy), ("mask", &gm), ("out", &out)],
                    [1, 1, 1],
                );
                let mut want = vec![0.0; 2];
                r::bce_fwd(&p, &wide(&z), &wide(&y), &wide(&mask), &mut want);
                let e = rel_err(&read(&gpu, &out)[1..], &want[1..]);
                assert!(e < TOL, "bce_fwd rows={rows} masked={masked}: {e}");
                let dz = poisoned(&gpu, n);
                let p = BceParams {
                    out_off: 0,
                    g_off: 1,
                    g_scale: 2.0,
                    ..p
                };
                run(
                    &gpu,
                    k::bce::BCE_BWD,
                    Some(&p),
                    &[
                        ("z", &gz),
                        ("y", &gy),
                        ("mask", &gm),
                        ("g", &gg),
                        ("out", &dz),
                    ],
                    [1, 1, 1],
                );
                let mut want = vec![0.0; n];
                r::bce_bwd(
                    &p,
                    &wide(&z),
                    &wide(&y),
                    &wide(&mask),
                    &[0.5, 1.5],
                    &mut want,
                );
                let e = rel_err(&read(&gpu, &dz), &want);
                assert!(e < TOL, "bce_bwd rows={rows} masked={masked}: {e}");
            }
        }
    }
}

#[test]
fn sum_and_mean() {
    let mut rng = rng();
    for gpu in reduction_gpus() {
        for &n in &[1u32, 255, 257, 70001] {
            for scale in [1.0f32, 1.0 / n as f32] {
                let x = randn(&mut rng, n as usize + 4, 1.0);
                let gx = gpu.upload(&x, "x").unwrap();
                let out = poisoned(&gpu, 3);
                let p = ReduceParams {
                    n,
                    x_off: 4,
                    out_off: 2,
                    scale,
                };
                run(
                    &gpu,
                    k::reduce::REDUCE_SUM,
                    Some(&p),
                    &[("x", &gx), ("out", &out)],
                    [1, 1, 1],
                );
                let mut want = vec![0.0; 3];
                r::reduce_sum(&p, &wide(&x), &mut want);
                let got = read(&gpu, &out)[2];
                // Relative to scale * sum |x|: a sum with cancellation can be far smaller than its
                // terms, and f32 summation is only accurate relative to their magnitude.
                let magnitude: f64 =
                    x[4..].iter().map(|v| f64::from(v.abs())).sum::<f64>() * f64::from(scale);
                let e = (f64::from(got) - want[2]).abs() / magnitude;
                assert!(e < TOL, "reduce n={n}: got {got} want {}", want[2]);
            }
        }
    }
}

#[test]
fn sample_rows_with_noise_matches_reference_rng() {
    let gpu = gpu();
    let mut rng = rng();
    let (n_data, cols, rows) = (37u32, 13u32, 101u32);
    let data = randn(&mut rng, (n_data * cols) as usize + 3, 1.0);
    let classes: Vec<u32> = (0..=n_data).map(|i| (i * 7) % 10).collect();
    let gc = gpu.upload(&classes, "classes").unwrap();
    // The data stored as f32 (`gather`) and as f16 (`gather16`): the rows come out widened.
    for (step, half) in [
        (0u32, false),
        (1, false),
        (12345, false),
        (0, true),
        (12345, true),
    ] {
        let (gd, data) = stored(&gpu, &data, half);
        let shader = storage(half);
        let state = gpu.upload(&[step, 0, 0, 0], "state").unwrap();
        let cls_out = gpu
            .upload(&vec![u32::MAX; rows as usize], "cls out")
            .unwrap();
        let (out, noisy) = (
            poisoned(&gpu, (rows * cols) as usize),
            poisoned(&gpu, (rows * cols) as usize + 1),
        );
        let p = GatherParams {
            rows,
            cols,
            n_data,
            data_off: 3,
            out_off: 0,
            noisy_off: 1,
            idx_off: 0,
            seed: 77 + step,
            noise_std: 0.3,
            cls_off: 1,
            cls_out_off: 0,
            part_len: NONE,
        };
        run(
            &gpu,
            k::gather::SAMPLE_ROWS,
            Some(&p),
            &[
                ("data", &gd),
                ("state", &state),
                ("out", &out),
                ("noisy", &noisy),
                ("cls", &gc),
                ("cls_out", &cls_out),
            ],
            groups(&gpu, rows * cols),
        );
        let (mut wo, mut wn) = (
            vec![0.0; (rows * cols) as usize],
            vec![0.0; (rows * cols) as usize + 1],
        );
        let picked = r::sample_rows(&p, &wide(&data), step, &mut wo, &mut wn);
        assert!(
            picked
                .iter()
                .collect::<std::collections::HashSet<_>>()
                .len()
                > 20,
            "rows are spread over the data"
        );
        assert_eq!(
            rel_err(&read(&gpu, &out), &wo),
            0.0,
            "gathered rows are exact copies"
        );
        let e = rel_err(&read(&gpu, &noisy)[1..], &wn[1..]);
        assert!(e < TOL, "noisy rows on {shader}: {e}");
        let want_cls: Vec<u32> = picked.iter().map(|&r| classes[1 + r as usize]).collect();
        assert_eq!(
            gpu.read_u32(&cls_out, 0, u64::from(rows)).unwrap(),
            want_cls,
            "the drawn rows' classes"
        );
    }
}

#[test]
fn gather_rows_by_index_with_out_of_range_as_nan() {
    let gpu = gpu();
    let mut rng = rng();
    let (n_data, cols) = (50u32, 9u32);
    let data = randn(&mut rng, (n_data * cols) as usize, 1.0);
    let idx: Vec<u32> = vec![99, 3, 49, 0, 17, 17, n_data, 5];
    let gi = gpu.upload(&idx, "i").unwrap();
    for half in [false, true] {
        let (gd, data) = stored(&gpu, &data, half);
        let shader = storage(half);
        let rows = 7;
        let out = poisoned(&gpu, (rows * cols) as usize);
        let p = GatherParams {
            rows,
            cols,
            n_data,
            data_off: 0,
            out_off: 0,
            noisy_off: NONE,
            idx_off: 1,
            seed: 0,
            noise_std: 0.0,
            cls_off: NONE,
            cls_out_off: 0,
            part_len: NONE,
        };
        run(
            &gpu,
            k::gather::GATHER_ROWS,
            Some(&p),
            &[("data", &gd), ("idx", &gi), ("out", &out)],
            groups(&gpu, rows * cols),
        );
        let mut want = vec![0.0; (rows * cols) as usize];
        r::gather_rows(&p, &wide(&data), &idx, &mut want);
        let got = read(&gpu, &out);
        let split = (5 * cols) as usize;
        assert_eq!(rel_err(&got[..split], &want[..split]), 0.0, "{shader}");
        assert!(
            got[split..split + cols as usize].iter().all(|v| v.is_nan()),
            "index past the data gives NaN ({shader})"
        );
        assert_eq!(
            rel_err(
                &got[split + cols as usize..],
                &want[split + cols as usize..]
            ),
            0.0
        );
    }
}

#[test]
fn gauss_noise_matches_reference_and_is_standard_normal() {
    let gpu = gpu();
    let n = 100_003u32;
    let x = vec![0.25f32; n as usize];
    let gx = gpu.upload(&x, "x").unwrap();
    let state = gpu.upload(&[9u32, 0, 0, 0], "state").unwrap();
    let out = poisoned(&gpu, n as usize);
    let p = NoiseParams {
        n,
        x_off: 0,
        out_off: 0,
        seed: 4242,
        tag: 5,
        sigma: 2.0,
    };
    run(
        &gpu,
        k::noise::GAUSS_NOISE,
        Some(&p),
        &[("x", &gx), ("state", &state), ("out", &out)],
        groups(&gpu, n),
    );
    let mut want = vec![0.0; n as usize];
    r::gauss_noise(&p, &wide(&x), 9, &mut want);
    let got = read(&gpu, &out);
    let e = rel_err(&got, &want);
    assert!(e < TOL, "noise vs reference: {e}");
    let z: Vec<f64> = got.iter().map(|&v| (f64::from(v) - 0.25) / 2.0).collect();
    let mean = z.iter().sum::<f64>() / f64::from(n);
    let var = z.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / f64::from(n);
    assert!(
        mean.abs() < 0.02 && (var - 1.0).abs() < 0.03,
        "mean {mean} var {var}"
    );
}

#[test]
fn optimizers_over_an_arena() {
    let gpu = gpu();
    let mut rng = rng();
    let n = 1031u32;
    // The whole arena, and a range of it (one network of a model whose networks train in
    // turn): the words outside the range, parameters and state, must be left exactly.
    for (first, len) in [(0u32, n), (257, 500)] {
        for (kind, b1, b2, eps) in [
            (0u32, 0.0f32, 0.0f32, 0.0f32),
            (1, 0.9, 0.0, 0.0),
            (2, 0.0, 0.99, 1e-8),
            (3, 0.9, 0.999, 1e-8),
        ] {
            let p = OptimParams {
                n: len,
                first,
                total: n,
                kind,
                lr: 0.01,
                beta1: b1,
                beta2: b2,
                eps,
            };
            let params = randn(&mut rng, n as usize, 1.0);
            let opt0 = randn(&mut rng, 2 * n as usize, 1.0)
                .iter()
                .map(|v| v.abs())
                .collect::<Vec<_>>();
            let (gp, go) = (
                gpu.upload(&params, "p").unwrap(),
                gpu.upload(&opt0, "o").unwrap(),
            );
            let (mut wp, mut wo) = (wide(&params), wide(&opt0));
            for step in 0..5u32 {
                let grad = randn(&mut rng, n as usize, 1.0);
                let (gg, state) = (
                    gpu.upload(&grad, "g").unwrap(),
                    gpu.upload(&[step, 0, 0, 0], "s").unwrap(),
                );
                run(
                    &gpu,
                    k::optim::OPTIM_STEP,
                    Some(&p),
                    &[
                        ("grad", &gg),
                        ("state", &state),
                        ("param", &gp),
                        ("opt", &go),
                    ],
                    groups(&gpu, len),
                );
                r::optim_step(&p, &wide(&grad), step, &mut wp, &mut wo);
            }
            let (got_p, got_o) = (read(&gpu, &gp), read(&gpu, &go));
            let e = rel_err(&got_p, &wp);
            assert!(e < TOL, "optimizer kind {kind} over {first}+{len}: {e}");
            let e = rel_err(&got_o, &wo);
            assert!(
                e < TOL,
                "optimizer state kind {kind} over {first}+{len}: {e}"
            );
            let inside = |i: usize| (first as usize..(first + len) as usize).contains(&i);
            for i in (0..n as usize).filter(|&i| !inside(i)) {
                assert_eq!(
                    got_p[i], params[i],
                    "kind {kind}: parameter {i} outside the range"
                );
                assert_eq!(
                    got_o[i], opt0[i],
                    "kind {kind}: state {i} outside the range"
                );
                let j = n as usize + i;
                assert_eq!(
                    got_o[j], opt0[j],
                    "kind {kind}: state {j} outside the range"
                );
            }
        }
    }
}

#[test]
fn fill_axpy_and_advance() {
    let gpu = gpu();
    let mut rng = rng();
    let n = 1000u32;
    let (x, init) = (
        randn(&mut rng, n as usize + 2, 1.0),
        randn(&mut rng, n as usize + 1, 1.0),
    );
    let gx = gpu.upload(&x, "x").unwrap();
    for acc in [0u32, 1] {
        let out = if acc == 1 {
            gpu.upload(&init, "o").unwrap()
        } else {
            poisoned(&gpu, n as usize + 1)
        };
        let p = AxpyParams {
            n,
            x_off: 2,
            out_off: 1,
            a: -1.5,
            accumulate: acc,
        };
        run(
            &gpu,
            k::step::AXPY,
            Some(&p),
            &[("x", &gx), ("out", &out)],
            groups(&gpu, n),
        );
        let mut want = if acc == 1 {
            wide(&init)
        } else {
            vec![0.0; n as usize + 1]
        };
        r::axpy(&p, &wide(&x), &mut want);
        assert!(
            rel_err(&read(&gpu, &out)[1..], &want[1..]) < TOL,
            "axpy acc={acc}"
        );
        let out2 = if acc == 1 {
            gpu.upload(&init, "o").unwrap()
        } else {
            poisoned(&gpu, n as usize + 1)
        };
        let p = FillParams {
            n,
            out_off: 1,
            value: 0.375,
            accumulate: acc,
        };
        run(
            &gpu,
            k::step::FILL,
            Some(&p),
            &[("out", &out2)],
            groups(&gpu, n),
        );
        let mut want = if acc == 1 {
            wide(&init)
        } else {
            vec![0.0; n as usize + 1]
        };
        r::fill(&p, &mut want);
        assert!(
            rel_err(&read(&gpu, &out2)[1..], &want[1..]) < TOL,
            "fill acc={acc}"
        );
    }
    let state = gpu.upload(&[41u32, 7, 7, 7], "s").unwrap();
    let mut b = PlanBuilder::new(&gpu);
    b.dispatch(k::step::ADVANCE, None, &[("state", &state)], [1, 1, 1])
        .unwrap();
    b.finish().unwrap().run(3).unwrap();
    assert_eq!(gpu.read_u32(&state, 0, 4).unwrap(), vec![44, 7, 7, 7]);
}

#[test]
fn bce_stays_accurate_for_confident_predictions() {
    for gpu in reduction_gpus() {
        for z in [-80.0f32, -30.0, -9.0, -1e-3, 0.0, 2.5, 30.0, 80.0] {
            for y in [0.0f32, 1.0] {
                let (gz, gy) = (
                    gpu.upload(&[z], "z").unwrap(),
                    gpu.upload(&[y], "y").unwrap(),
                );
                let (out, dz) = (poisoned(&gpu, 1), poisoned(&gpu, 1));
                let unused = gpu.upload(&[0f32], "unused").unwrap();
                let p = BceParams {
                    rows: 1,
                    z_off: 0,
                    y_off: 0,
                    mask_off: NONE,
                    out_off: 0,
                    g_off: NONE,
                    g_scale: 1.0,
                    accumulate: 0,
                };
                run(
                    &gpu,
                    k::bce::BCE_FWD,
                    Some(&p),
                    &[("z", &gz), ("y", &gy), ("mask", &unused), ("out", &out)],
                    [1, 1, 1],
                );
                run(
                    &gpu,
                    k::bce::BCE_BWD,
                    Some(&p),
                    &[
                        ("z", &gz),
                        ("y", &gy),
                        ("mask", &unused),
                        ("g", &unused),
                        ("out", &dz),
                    ],
                    [1, 1, 1],
                );
                let (mut wl, mut wd) = (vec![0.0], vec![0.0]);
                r::bce_fwd(&p, &[f64::from(z)], &[f64::from(y)], &[], &mut wl);
                r::bce_bwd(&p, &[f64::from(z)], &[f64::from(y)], &[], &[], &mut wd);
                let (el, ed) = (
                    rel_err(&read(&gpu, &out), &wl),
                    rel_err(&read(&gpu, &dz), &wd),
                );
                // Values below 1e-6 come from exp() of a large negative argument, which WGSL bounds
                // only to 3 + 2|x| ULP (lavapipe measured ~1e-3 relative at x = -30); 1e-2 still
                // rules out cancellation, which would give a relative error of 1.
                let tol = |want: f64| if want.abs() < 1e-6 { 1e-2 } else { 1e-5 };
                assert!(
                    el < tol(wl[0]) && ed < tol(wd[0]),
                    "z={z} y={y}: loss rel err {el} (want {}), grad rel err {ed} (want {})",
                    wl[0],
                    wd[0]
                );
            }
        }
    }
}

#[test]
fn sample_labelled_matches_reference() {
    let gpu = gpu();
    let mut rng = rng();
    let (n, cols, cap) = (29u32, 7u32, 29u32);
    let data32 = randn(&mut rng, (n * cols) as usize + 2, 1.0);
    let classes: Vec<u32> = (0..n).map(|i| i % 3).collect();
    let gc = gpu.upload(&classes, "classes").unwrap();
    // (random rows first, labelled rows, labels so far); a count past the capacity is clamped.
    // Each with the data stored as f32 (`gather`) and as f16 (`gather16`).
    let cases = [
        (0u32, 45u32, 0u32),
        (0, 45, 5),
        (11, 45, 1),
        (37, 3, 5),
        (5, 9, 40),
    ];
    for ((batch, rows, count), half) in cases.iter().flat_map(|&c| [(c, false), (c, true)]) {
        let (gd, data) = stored(&gpu, &data32, half);
        let shader = storage(half);
        let mut lab = vec![0u32; 1 + 2 * cap as usize];
        lab[0] = count;
        for r in 0..count.min(cap) as usize {
            lab[1 + r] = (r as u32 * 7 + 3) % n;
            lab[1 + cap as usize + r] = (r % 2) as u32;
        }
        let (gl, state) = (
            gpu.upload(&lab, "lab").unwrap(),
            gpu.upload(&[6u32, 0, 0, 0], "s").unwrap(),
        );
        let total = batch + rows;
        let len = (total * cols) as usize;
        let ym_len = 2 * rows as usize + 2;
        let (out, noisy, ym) = (
            poisoned(&gpu, len),
            poisoned(&gpu, len),
            poisoned(&gpu, ym_len),
        );
        let p = LabelledParams {
            batch,
            n_data: n,
            rows,
            cols,
            cap,
            data_off: 2,
            out_off: 0,
            noisy_off: 0,
            y_off: 0,
            m_off: rows,
            c_off: 2 * rows + 1,
            seed: 5,
            noise_std: 0.2,
            cls_off: 0,
            cls_out_off: 0,
            part_len: NONE,
        };
        let cls_out = gpu
            .upload(&vec![u32::MAX; total as usize], "cls out")
            .unwrap();
        run(
            &gpu,
            k::gather::SAMPLE_LABELLED,
            Some(&p),
            &[
                ("data", &gd),
                ("state", &state),
                ("out", &out),
                ("noisy", &noisy),
                ("lab", &gl),
                ("ym", &ym),
                ("cls", &gc),
                ("cls_out", &cls_out),
            ],
            groups(&gpu, total * cols),
        );
        let what = format!("{shader}: batch {batch}, rows {rows}, count {count}");
        let (mut wo, mut wn, mut wy) = (vec![0.0; len], vec![0.0; len], vec![f64::NAN; ym_len]);
        let picks = r::sample_labelled(&p, &wide(&data), &lab, 6, &mut wo, &mut wn, &mut wy);
        let want_cls: Vec<u32> = picks.iter().map(|&r| classes[r as usize]).collect();
        assert_eq!(
            gpu.read_u32(&cls_out, 0, u64::from(total)).unwrap(),
            want_cls,
            "{what}: classes"
        );
        assert_eq!(rel_err(&read(&gpu, &out), &wo), 0.0, "{what}: rows");
        assert!(rel_err(&read(&gpu, &noisy), &wn) < TOL, "{what}: noise");
        let got_ym = read(&gpu, &ym);
        assert!(
            got_ym[2 * rows as usize].is_nan(),
            "{what}: wrote past the mask"
        );
        let keep: Vec<usize> = (0..ym_len).filter(|&i| i != 2 * rows as usize).collect();
        let pick = |v: &[f32]| keep.iter().map(|&i| v[i]).collect::<Vec<f32>>();
        let want_ym: Vec<f64> = keep.iter().map(|&i| wy[i]).collect();
        assert_eq!(
            rel_err(&pick(&got_ym), &want_ym),
            0.0,
            "{what}: labels, mask and count"
        );
        // The first `batch` rows are exactly sample_rows' rows and noise.
        if batch > 0 {
            let g = GatherParams {
                rows: batch,
                cols,
                n_data: n,
                data_off: 2,
                out_off: 0,
                noisy_off: 0,
                idx_off: 0,
                seed: 5,
                noise_std: 0.2,
                cls_off: NONE,
                cls_out_off: 0,
                part_len: NONE,
            };
            let b = (batch * cols) as usize;
            let (mut ro, mut rn) = (vec![0.0; b], vec![0.0; b]);
            r::sample_rows(&g, &wide(&data), 6, &mut ro, &mut rn);
            assert_eq!(wo[..b], ro[..], "{what}: the random rows");
            assert_eq!(wn[..b], rn[..], "{what}: their noise");
        }
    }
}

#[test]
fn copy_cols_matches_reference() {
    let gpu = gpu();
    let mut rng = rng();
    for acc in [0u32, 1] {
        let (rows, width, x_ld, o_ld) = (37u32, 3u32, 5u32, 9u32);
        let x = randn(&mut rng, (rows * x_ld) as usize + 1, 1.0);
        let init = randn(&mut rng, (rows * o_ld) as usize, 1.0);
        let gx = gpu.upload(&x, "x").unwrap();
        let out = gpu.upload(&init, "o").unwrap();
        let p = CopyColsParams {
            rows,
            width,
            x_off: 1,
            x_ld,
            o_off: 4,
            o_ld,
            accumulate: acc,
        };
        run(
            &gpu,
            k::step::COPY_COLS,
            Some(&p),
            &[("x", &gx), ("out", &out)],
            groups(&gpu, rows * width),
        );
        let mut want = wide(&init);
        r::copy_cols(&p, &wide(&x), &mut want);
        assert!(rel_err(&read(&gpu, &out), &want) < TOL, "accumulate {acc}");
    }
}

#[test]
fn softmax_cross_entropy_forward_and_backward() {
    let gpu = gpu();
    let mut rng = rng();
    for &(rows, cols) in &[(1u32, 2u32), (7, 3), (300, 10), (1001, 17)] {
        let z = randn(&mut rng, (rows * cols) as usize + 2, 8.0);
        let cls: Vec<u32> = (0..rows + 1).map(|i| (i * 13 + 5) % cols).collect();
        let g = randn(&mut rng, rows as usize + 1, 1.0);
        let (gz, gcls, gg) = (
            gpu.upload(&z, "z").unwrap(),
            gpu.upload(&cls, "c").unwrap(),
            gpu.upload(&g, "g").unwrap(),
        );
        // Without the gradient, then with it for the first d_rows rows (the rest 0).
        let n = (rows * cols) as usize;
        for d_rows in [None, Some(rows.div_ceil(2)), Some(rows)] {
            let out = poisoned(&gpu, rows as usize);
            let dz = poisoned(&gpu, n + 3);
            let p = CeParams {
                rows,
                cols,
                z_off: 2,
                cls_off: 1,
                out_off: 0,
                g_off: NONE,
                g_scale: d_rows.map_or(1.0, |d| 1.0 / d as f32),
                accumulate: 0,
                d_off: d_rows.map_or(NONE, |_| 3),
                d_rows: d_rows.unwrap_or(0),
            };
            run(
                &gpu,
                k::softmax_ce::CE_FWD,
                Some(&p),
                &[("z", &gz), ("cls", &gcls), ("out", &out), ("dz", &dz)],
                groups(&gpu, rows),
            );
            let mut want = vec![0.0; rows as usize];
            let mut want_d = vec![f64::NAN; n + 3];
            r::ce_fwd(&p, &wide(&z), &cls, &mut want, &mut want_d);
            let e = rel_err(&read(&gpu, &out), &want);
            assert!(e < TOL, "ce_fwd {rows}x{cols}: {e}");
            let got_d = read(&gpu, &dz);
            if let Some(d) = d_rows {
                let e = rel_err(&got_d[3..], &want_d[3..]);
                assert!(e < TOL, "ce_fwd gradient {rows}x{cols} {d_rows:?}: {e}");
                assert!(got_d[..3].iter().all(|v| v.is_nan()), "wrote before it");
                let rest = &got_d[3 + (d * cols) as usize..];
                assert!(rest.iter().all(|v| *v == 0.0), "rows past d_rows not 0");
            } else {
                assert!(got_d.iter().all(|v| v.is_nan()), "wrote a gradient unasked");
            }
        }
        let p = CeParams {
            rows,
            cols,
            z_off: 2,
            cls_off: 1,
            out_off: 0,
            g_off: NONE,
            g_scale: 1.0,
            accumulate: 0,
            d_off: NONE,
            d_rows: 0,
        };
        for (g_off, acc) in [(NONE, 0u32), (1, 1)] {
            let init = randn(&mut rng, (rows * cols) as usize, 1.0);
            let dz = if acc == 1 {
                gpu.upload(&init, "dz").unwrap()
            } else {
                poisoned(&gpu, (rows * cols) as usize)
            };
            let p = CeParams {
                g_off,
                g_scale: 0.5,
                accumulate: acc,
                ..p
            };
            run(
                &gpu,
                k::softmax_ce::CE_BWD,
                Some(&p),
                &[("z", &gz), ("cls", &gcls), ("g", &gg), ("out", &dz)],
                groups(&gpu, rows),
            );
            let mut want = if acc == 1 {
                wide(&init)
            } else {
                vec![0.0; (rows * cols) as usize]
            };
            r::ce_bwd(&p, &wide(&z), &cls, &wide(&g), &mut want);
            let e = out_err(acc == 1, &read(&gpu, &dz), &want, &init);
            assert!(e < TOL, "ce_bwd {rows}x{cols} g_off={g_off}: {e}");
        }
    }
}

#[test]
fn cross_entropy_stays_accurate_for_confident_predictions() {
    let gpu = gpu();
    for gap in [0.5f32, 9.0, 30.0] {
        for c in [0u32, 1, 2] {
            let z = [gap, 0.0, -gap];
            let (gz, gc) = (gpu.upload(&z, "z").unwrap(), gpu.upload(&[c], "c").unwrap());
            let (out, dz, unused) = (
                poisoned(&gpu, 1),
                poisoned(&gpu, 3),
                gpu.upload(&[0f32], "u").unwrap(),
            );
            let p = CeParams {
                rows: 1,
                cols: 3,
                z_off: 0,
                cls_off: 0,
                out_off: 0,
                g_off: NONE,
                g_scale: 1.0,
                accumulate: 0,
                d_off: NONE,
                d_rows: 0,
            };
            run(
                &gpu,
                k::softmax_ce::CE_FWD,
                Some(&p),
                &[("z", &gz), ("cls", &gc), ("out", &out), ("dz", &unused)],
                [1, 1, 1],
            );
            run(
                &gpu,
                k::softmax_ce::CE_BWD,
                Some(&p),
                &[("z", &gz), ("cls", &gc), ("g", &unused), ("out", &dz)],
                [1, 1, 1],
            );
            let (mut wl, mut wd) = (vec![0.0], vec![0.0; 3]);
            r::ce_fwd(&p, &wide(&z), &[c], &mut wl, &mut []);
            r::ce_bwd(&p, &wide(&z), &[c], &[], &mut wd);
            // Entries below 1e-6 come from exp() of a large negative argument, which WGSL
            // bounds only loosely (lavapipe: 1.3% off at exp(-30)); cancellation would give an
            // error of 1.
            let got_l = read(&gpu, &out);
            let got_d = read(&gpu, &dz);
            let tol = |want: f64| if want.abs() < 1e-6 { 5e-2 } else { 1e-5 };
            assert!(
                rel_err(&got_l, &wl) < tol(wl[0]),
                "gap {gap} class {c}: loss {got_l:?} want {wl:?}"
            );
            for j in 0..3 {
                assert!(
                    rel_err(&got_d[j..j + 1], &wd[j..j + 1]) < tol(wd[j]),
                    "gap {gap} class {c}: grad {got_d:?} want {wd:?}"
                );
            }
        }
    }
}

#[test]
fn binary_losses_forward_and_backward() {
    let gpu = gpu();
    let mut rng = rng();
    use rand::RngExt;
    let rows = 517u32;
    let (v_off, y_off, out_off, g_off) = (3u32, 5u32, 2u32, 7u32);
    for kind in [0u32, 1, 2] {
        // ABC's argument is an error >= 0: log-uniform over 1e-9 .. 1e2, plus exact zeros;
        // the others any sign.
        let v: Vec<f32> = (0..v_off + rows)
            .map(|i| match (kind, i % 50) {
                (0, 0) => 0.0,
                (0, _) => 10f32.powf(rng.random_range(-9.0..2.0)),
                _ => rng.random_range(-30.0..30.0),
            })
            .collect();
        let mut y: Vec<u32> = (0..y_off + rows).map(|_| rng.random_range(0..2)).collect();
        y[(y_off + 100) as usize] = 2; // a bad label: NaN
        let g = randn(&mut rng, (g_off + rows) as usize, 1.0);
        let (gv, gy, gg) = (
            gpu.upload(&v, "v").unwrap(),
            gpu.upload(&y, "y").unwrap(),
            gpu.upload(&g, "g").unwrap(),
        );
        let n = (out_off + rows) as usize;
        let bad = (out_off + 100) as usize;
        let out = poisoned(&gpu, n);
        let p = BinLossParams {
            rows,
            kind,
            v_off,
            y_off,
            out_off,
            g_off: NONE,
            g_scale: 1.0,
            accumulate: 0,
        };
        run(
            &gpu,
            k::binloss::BINLOSS_FWD,
            Some(&p),
            &[("v", &gv), ("y", &gy), ("out", &out)],
            groups(&gpu, rows),
        );
        let mut want = vec![0.0; n];
        r::binloss_fwd(&p, &wide(&v), &y, &mut want);
        let mut got = read(&gpu, &out);
        assert!(got[bad].is_nan(), "kind {kind}: a bad label gives NaN");
        assert!(want[bad].is_nan());
        (got[bad], want[bad]) = (0.0, 0.0);
        assert!(
            got[out_off as usize..].iter().all(|v| v.is_finite()),
            "kind {kind}"
        );
        assert!(
            rel_err(&got[out_off as usize..], &want[out_off as usize..]) < TOL,
            "binloss_fwd kind {kind}"
        );
        for acc in [0u32, 1] {
            let init = randn(&mut rng, n, 1.0);
            let dv = if acc == 1 {
                gpu.upload(&init, "dv").unwrap()
            } else {
                poisoned(&gpu, n)
            };
            let p = BinLossParams {
                g_off,
                g_scale: 0.75,
                accumulate: acc,
                ..p
            };
            run(
                &gpu,
                k::binloss::BINLOSS_BWD,
                Some(&p),
                &[("v", &gv), ("y", &gy), ("g", &gg), ("out", &dv)],
                groups(&gpu, rows),
            );
            let mut want = if acc == 1 { wide(&init) } else { vec![0.0; n] };
            r::binloss_bwd(&p, &wide(&v), &y, &wide(&g), &mut want);
            let mut got = read(&gpu, &dv);
            assert!(got[bad].is_nan() && want[bad].is_nan(), "kind {kind}");
            (got[bad], want[bad]) = (0.0, 0.0);
            assert!(
                got[out_off as usize..].iter().all(|v| v.is_finite()),
                "kind {kind}"
            );
            // Relative per element (ABC's slope spans 1e12 at the clamp to 1e-43), to the
            // larger of the result and what was accumulated into.
            for i in out_off as usize..n {
                let (a, b) = (f64::from(got[i]), want[i]);
                let held = if acc == 1 {
                    f64::from(init[i]).abs()
                } else {
                    0.0
                };
                assert!(
                    (a - b).abs() <= 1e-5 * b.abs().max(held) + 1e-30,
                    "binloss_bwd kind {kind} acc {acc} row {i}: {a} vs {b} (v {})",
                    v[i - out_off as usize + v_off as usize]
                );
            }
        }
    }
}

#[test]
fn uai_head_forward_and_backward() {
    let mut rng = rng();
    for gpu in reduction_gpus() {
        // (labelled rows, latent width, rows before them, rows after them)
        for &(rows, h, r0, after) in &[
            (1u32, 1u32, 0u32, 0u32),
            (7, 8, 3, 2),
            (64, 33, 0, 5),
            (300, 5, 257, 1),
            (1024, 2, 1, 0),
        ] {
            let l_rows = r0 + rows + after;
            let (n, hn) = (l_rows as usize, h as usize);
            let l: Vec<f32> = randn(&mut rng, 3 + n * hn, 1.5);
            let s: Vec<f32> = randn(&mut rng, 2 + n, 2.0);
            let w: Vec<f32> = randn(&mut rng, 4 + hn + 2, 1.0);
            // y at 1, the mask after it; a row in four is masked out.
            let mut ym = vec![f32::NAN];
            ym.extend((0..rows).map(|i| f32::from(u8::from((i * 7919) % 3 == 0))));
            ym.extend((0..rows).map(|i| f32::from(u8::from(i % 4 != 1))));
            ym.push(f32::NAN); // the label count, set per case
            let (gl, gs, gw, gym) = (
                gpu.upload(&l, "l").unwrap(),
                gpu.upload(&s, "s").unwrap(),
                gpu.upload(&w, "w").unwrap(),
                gpu.upload(&ym, "ym").unwrap(),
            );
            // No prior; the prior with 13 labels; the prior before any label (it must not act).
            // Each with a running state of the score's statistics (mean, deviation, count) and
            // its decay: the start, this minibatch alone; a short average (the plain mean of
            // four); a long one (decay 1/4).
            for (inv_var, count, decay, state) in [
                (0.0f32, 5.0f32, 1.0f32, [0.0f32, 1.0, 0.0]),
                (2.5, 13.0, 0.01, [0.7, 2.5, 3.0]),
                (2.5, 0.0, 0.25, [-0.4, 0.9, 500.0]),
            ] {
                let state_in = [f32::NAN, state[0], state[1], state[2], f32::NAN];
                let gst = gpu.upload(&state_in, "state").unwrap();
                gpu.write(&gym, 1 + 2 * u64::from(rows), &[count]).unwrap();
                let mut ym = ym.clone();
                ym[1 + 2 * rows as usize] = count;
                let p = HeadParams {
                    rows,
                    h,
                    l_off: 3,
                    l_rows,
                    r0,
                    s_off: 2,
                    w_off: 4,
                    y_off: 1,
                    m_off: 1 + rows,
                    out_off: 1,
                    g_off: NONE,
                    g_scale: 1.0,
                    dw_acc: 0,
                    dl_off: NONE,
                    dl_acc: 0,
                    inv_var,
                    c_off: 1 + 2 * rows,
                    loss_off: NONE,
                    st_off: 1,
                    decay,
                };
                let out = poisoned(&gpu, 2);
                run(
                    &gpu,
                    k::head::HEAD_FWD,
                    Some(&p),
                    &[
                        ("l", &gl),
                        ("s", &gs),
                        ("w", &gw),
                        ("ym", &gym),
                        ("out", &out),
                        ("stats_in", &gst),
                    ],
                    [1, 1, 1],
                );
                let (lw, sw, ww, yw) = (wide(&l), wide(&s), wide(&w), wide(&ym));
                let mut want = vec![0.0; 2];
                r::head_fwd(&p, &lw, &sw, &ww, &yw, &wide(&state_in), &mut want);
                assert!(
                    read(&gpu, &gst)[1..4] == state_in[1..4],
                    "head_fwd wrote the state"
                );
                let e = rel_err(&read(&gpu, &out)[1..], &want[1..]);
                assert!(
                    e < TOL,
                    "head_fwd rows={rows} h={h} r0={r0} prior {inv_var}/{count}: {e}"
                );
                // Backward: the upstream gradient read from g, dw and dl written and then
                // accumulated; the loss left alone, then written as head_fwd writes it.
                let gg = gpu.upload(&[0.5f32, 1.5], "g").unwrap();
                for acc in [0u32, 1] {
                    let dw0: Vec<f32> = randn(&mut rng, 1 + hn + 2, 1.0);
                    let dl0: Vec<f32> = randn(&mut rng, 2 + n * hn, 1.0);
                    let (dw, dl) = if acc == 1 {
                        (
                            gpu.upload(&dw0, "dw").unwrap(),
                            gpu.upload(&dl0, "dl").unwrap(),
                        )
                    } else {
                        (poisoned(&gpu, dw0.len()), poisoned(&gpu, dl0.len()))
                    };
                    let p = HeadParams {
                        out_off: 1,
                        g_off: 1,
                        g_scale: 2.0,
                        dw_acc: acc,
                        dl_off: 2,
                        dl_acc: acc,
                        loss_off: if acc == 1 { 1 } else { NONE },
                        // Without a state, the start's.
                        st_off: if acc == 1 { 1 } else { NONE },
                        ..p
                    };
                    let loss = poisoned(&gpu, 2);
                    let stats = if acc == 1 {
                        gpu.upload(&state_in, "state").unwrap()
                    } else {
                        poisoned(&gpu, 5)
                    };
                    run(
                        &gpu,
                        k::head::HEAD_BWD,
                        Some(&p),
                        &[
                            ("l", &gl),
                            ("s", &gs),
                            ("w", &gw),
                            ("ym", &gym),
                            ("g", &gg),
                            ("out", &dw),
                            ("dl", &dl),
                            ("loss", &loss),
                            ("stats", &stats),
                        ],
                        [1, 1, 1],
                    );
                    let (mut want_w, mut want_l) = (wide(&dw0), wide(&dl0));
                    let mut want_loss = vec![f64::NAN; 2];
                    let mut want_stats = wide(&state_in);
                    r::head_bwd(
                        &p,
                        &lw,
                        &sw,
                        &ww,
                        &yw,
                        &[0.5, 1.5],
                        &mut want_w,
                        &mut want_l,
                        &mut want_loss,
                        &mut want_stats,
                    );
                    // The running state: updated when there, left alone otherwise.
                    let got_stats = read(&gpu, &stats);
                    assert!(got_stats[0].is_nan() && got_stats[4].is_nan());
                    if acc == 1 {
                        let e = rel_err(&got_stats[1..4], &want_stats[1..4]);
                        assert!(e < TOL, "head_bwd state rows={rows} r0={r0} {state:?}: {e}");
                    } else {
                        assert!(got_stats[1].is_nan(), "head_bwd wrote a state unasked");
                    }
                    let got_loss = read(&gpu, &loss);
                    assert!(got_loss[0].is_nan(), "head_bwd wrote before its loss");
                    if acc == 1 {
                        // The forward read the state the backward starts from.
                        assert_eq!(want_loss[1], want[1], "the reference's two losses");
                        let e = rel_err(&got_loss[1..], &want_loss[1..]);
                        assert!(e < TOL, "head_bwd loss rows={rows} h={h}: {e}");
                    } else {
                        assert!(got_loss[1].is_nan(), "head_bwd wrote a loss unasked");
                    }
                    // Accumulated onto dw0/dl0: relative to the terms (a 1x1 sum can cancel).
                    let err = |got: &[f32], want: &[f64], init: &[f32]| {
                        out_err(acc == 1, got, want, init)
                    };
                    let e = err(&read(&gpu, &dw)[1..], &want_w[1..], &dw0[1..]);
                    assert!(
                        e < TOL,
                        "head_bwd dw rows={rows} h={h} acc={acc} prior {inv_var}/{count}: {e}"
                    );
                    let e = err(&read(&gpu, &dl)[2..], &want_l[2..], &dl0[2..]);
                    assert!(
                        e < TOL,
                        "head_bwd dl rows={rows} h={h} acc={acc} prior {inv_var}/{count}: {e}"
                    );
                }
            }
        }
    }
}

#[test]
fn uai_head_scores_every_row() {
    let gpu = gpu();
    let mut rng = rng();
    // One row, just under and past one workgroup, and many workgroups.
    for &(rows, h) in &[(1u32, 1u32), (255, 8), (257, 3), (70001, 2)] {
        let (n, hn) = (rows as usize, h as usize);
        let l: Vec<f32> = randn(&mut rng, 3 + n * hn, 1.5);
        let s: Vec<f32> = randn(&mut rng, 2 + n, 2.0);
        let w: Vec<f32> = randn(&mut rng, 4 + hn + 2, 1.0);
        let (gl, gs, gw) = (
            gpu.upload(&l, "l").unwrap(),
            gpu.upload(&s, "s").unwrap(),
            gpu.upload(&w, "w").unwrap(),
        );
        let out = poisoned(&gpu, n + 6);
        let p = HeadParams {
            rows,
            h,
            l_off: 3,
            l_rows: rows,
            r0: 0,
            s_off: 2,
            w_off: 4,
            y_off: 0,
            m_off: 0,
            out_off: 5,
            g_off: NONE,
            g_scale: 1.0,
            dw_acc: 0,
            dl_off: NONE,
            dl_acc: 0,
            inv_var: 0.0,
            c_off: 0,
            loss_off: NONE,
            st_off: 2,
            decay: 1.0,
        };
        // The standardisation (mean, sd) at 2 of a buffer holding other values around it; for
        // one shape a deviation too small to divide by (taken as 1).
        let sd = if rows == 255 { 1e-9 } else { 1.7 };
        let stats = [f32::NAN, 7.0, 0.3, sd, f32::NAN];
        let gst = gpu.upload(&stats, "stats").unwrap();
        run(
            &gpu,
            k::head::HEAD_SCORE,
            Some(&p),
            &[
                ("l", &gl),
                ("s", &gs),
                ("w", &gw),
                ("out", &out),
                ("stats_in", &gst),
            ],
            groups(&gpu, rows),
        );
        let mut want = vec![0.0; n + 6];
        r::head_score(
            &p,
            &wide(&l),
            &wide(&s),
            &wide(&w),
            &wide(&stats),
            &mut want,
        );
        let got = read(&gpu, &out);
        assert!(got[..5].iter().all(|v| v.is_nan()), "wrote before out_off");
        assert!(got[5 + n].is_nan(), "wrote past the rows");
        let e = rel_err(&got[5..5 + n], &want[5..5 + n]);
        assert!(e < TOL, "head_score rows={rows} h={h}: {e}");
    }
}

#[test]
fn subgroup_variants_run_where_the_adapter_has_them() {
    let twinned: Vec<&str> = oddity_kernels::SHADERS
        .iter()
        .filter(|s| s.needs.contains(&"SUBGROUP"))
        .map(|s| {
            s.name
                .strip_suffix("_sg")
                .expect("a subgroup variant ends in _sg")
        })
        .collect();
    for base in ["reduce", "rowerr", "rowerr16", "bce", "head"] {
        assert!(twinned.contains(&base), "{base} has no subgroup variant");
    }
    let [with, trees] = <[Gpu; 2]>::try_from(reduction_gpus()).unwrap();
    let has = with.summary().subgroup_sizes.is_some();
    assert_eq!(
        with.subgroups(),
        has,
        "subgroups where the adapter has them"
    );
    eprintln!("subgroup sizes: {:?}", with.summary().subgroup_sizes);
    for shader in oddity_kernels::SHADERS
        .iter()
        .filter(|s| twinned.contains(&s.name))
    {
        for ep in shader.entry_points {
            let id = KernelId {
                shader: shader.name,
                entry: ep.name,
                f16: None,
            };
            let k = with.kernel(id).unwrap();
            let want = if has {
                format!("{}_sg", shader.name)
            } else {
                shader.name.to_string()
            };
            assert_eq!(k.shader, want, "{}::{}", shader.name, ep.name);
            assert_eq!(trees.kernel(id).unwrap().shader, shader.name);
        }
    }
    // A subgroup variant asked for by name on a device without subgroups: a clear error.
    let sg = KernelId {
        shader: "reduce_sg",
        entry: "reduce_sum",
        f16: None,
    };
    let e = match trees.kernel(sg) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("built a subgroup kernel on a device without subgroups"),
    };
    assert!(
        e.contains("reduce_sg::reduce_sum") && e.contains("SUBGROUP"),
        "{e}"
    );

    // Either way the sum is the same bits run after run (the journal's resume relies on it),
    // and both ways agree to rounding.
    let mut rng = rng();
    let n = 70001u32;
    let x = randn(&mut rng, n as usize, 1.0);
    let p = ReduceParams {
        n,
        x_off: 0,
        out_off: 0,
        scale: 1.0,
    };
    let mut sums = Vec::new();
    for gpu in [&with, &trees] {
        let gx = gpu.upload(&x, "x").unwrap();
        let runs: Vec<u32> = (0..3)
            .map(|_| {
                let out = poisoned(gpu, 1);
                run(
                    gpu,
                    k::reduce::REDUCE_SUM,
                    Some(&p),
                    &[("x", &gx), ("out", &out)],
                    [1, 1, 1],
                );
                read(gpu, &out)[0].to_bits()
            })
            .collect();
        assert!(runs.iter().all(|&b| b == runs[0]), "{runs:?}");
        sums.push(f32::from_bits(runs[0]));
    }
    let magnitude: f32 = x.iter().map(|v| v.abs()).sum();
    assert!((sums[0] - sums[1]).abs() < 1e-5 * magnitude, "{sums:?}");
}

#[test]
fn vae_latent_forward_and_backward() {
    let gpu = gpu();
    let mut rng = rng();
    use rand::RngExt;
    let (h_off, z_off, kl_off, dz_off, g_off, dh_off) = (3u32, 2u32, 5u32, 4u32, 6u32, 1u32);
    for (rows, latent) in [(1u32, 1u32), (7, 3), (257, 17)] {
        let n = rows * latent;
        let step: u32 = rng.random_range(0..1000);
        let state = gpu.upload(&[step, 0, 0, 0], "state").unwrap();
        // Means and log-variances in [-1.5, 1.5], a few log-variances near 0 (expm1's range).
        let mut h = randn(&mut rng, (h_off + 2 * n) as usize, 1.5);
        for i in 0..rows {
            h[(h_off + i * 2 * latent + latent) as usize] *= 1e-4;
        }
        let dz = randn(&mut rng, (dz_off + n) as usize, 1.0);
        let g = randn(&mut rng, (g_off + rows) as usize, 1.0);
        let (gh, gdz, gg) = (
            gpu.upload(&h, "h").unwrap(),
            gpu.upload(&dz, "dz").unwrap(),
            gpu.upload(&g, "g").unwrap(),
        );
        let dh0 = randn(&mut rng, (dh_off + 2 * n) as usize, 1.0);
        for sample in [0u32, 1] {
            let p = VaeParams {
                rows,
                latent,
                h_off,
                z_off,
                kl_off,
                dz_off,
                g_off,
                dh_off,
                seed: rng.random_range(0..u32::MAX),
                tag: r::TAG_VAE,
                sample,
                beta: 0.7,
                g_scale: 1.0,
                accumulate: 0,
            };
            let what = format!("{rows}x{latent} sample={sample}");
            let (z, kl) = (
                poisoned(&gpu, (z_off + n) as usize),
                poisoned(&gpu, (kl_off + rows) as usize),
            );
            run(
                &gpu,
                k::vae::VAE_FWD,
                Some(&p),
                &[("h", &gh), ("state", &state), ("z", &z), ("kl", &kl)],
                groups(&gpu, rows),
            );
            let mut wz = vec![0.0; (z_off + n) as usize];
            let mut wkl = vec![0.0; (kl_off + rows) as usize];
            r::vae_fwd(&p, &wide(&h), step, &mut wz, &mut wkl);
            // z = mu + sigma eps, measured against the size of its two terms rather than of
            // z: where they nearly cancel (a 1x1 case can), f32's rounding of sigma eps is
            // large against z itself.
            let gz = &read(&gpu, &z)[z_off as usize..];
            let (mut num, mut den) = (0.0, 0.0);
            for (e, (&g, &w)) in gz.iter().zip(&wz[z_off as usize..]).enumerate() {
                let e = e as u32;
                let mu = f64::from(h[(h_off + (e / latent) * 2 * latent + e % latent) as usize]);
                num += (f64::from(g) - w).powi(2);
                den += (mu.abs() + (w - mu).abs()).powi(2);
            }
            let err = (num / den).sqrt();
            assert!(err < TOL, "vae_fwd z {what}: {err}");
            let e = rel_err(&read(&gpu, &kl)[kl_off as usize..], &wkl[kl_off as usize..]);
            assert!(e < TOL, "vae_fwd kl {what}: {e}");
            if sample == 0 {
                // z = mu exactly.
                for i in 0..n {
                    let mu = h[(h_off + (i / latent) * 2 * latent + i % latent) as usize];
                    assert_eq!(read(&gpu, &z)[(z_off + i) as usize], mu);
                }
            }
            for accumulate in [0u32, 1] {
                let q = VaeParams { accumulate, ..p };
                let start = |gpu: &Gpu| {
                    if accumulate == 1 {
                        gpu.upload(&dh0, "dh").unwrap()
                    } else {
                        poisoned(gpu, dh0.len())
                    }
                };
                let init = if accumulate == 1 {
                    wide(&dh0)
                } else {
                    vec![0.0; dh0.len()]
                };
                let dh = start(&gpu);
                run(
                    &gpu,
                    k::vae::VAE_BWD_Z,
                    Some(&q),
                    &[("h", &gh), ("state", &state), ("dz", &gdz), ("dh", &dh)],
                    groups(&gpu, n),
                );
                let mut want = init.clone();
                r::vae_bwd_z(&q, &wide(&h), step, &wide(&dz), &mut want);
                let e = rel_err(
                    &read(&gpu, &dh)[dh_off as usize..],
                    &want[dh_off as usize..],
                );
                assert!(e < TOL, "vae_bwd_z {what} acc={accumulate}: {e}");
                // The KL rule with a per-row gradient and with one constant for every row.
                for (g_off, g_scale) in [(g_off, 1.0f32), (NONE, 0.37)] {
                    let q = VaeParams {
                        g_off,
                        g_scale,
                        ..q
                    };
                    let dh = start(&gpu);
                    run(
                        &gpu,
                        k::vae::VAE_BWD_KL,
                        Some(&q),
                        &[("h", &gh), ("g", &gg), ("dh", &dh)],
                        groups(&gpu, n),
                    );
                    let mut want = init.clone();
                    r::vae_bwd_kl(&q, &wide(&h), &wide(&g), &mut want);
                    let got = read(&gpu, &dh);
                    let e = rel_err(&got[dh_off as usize..], &want[dh_off as usize..]);
                    assert!(
                        e < TOL,
                        "vae_bwd_kl {what} acc={accumulate} g_off={g_off}: {e}"
                    );
                }
            }
        }
    }
}

#[test]
fn gaussian_nll_forward_and_backward() {
    let gpu = gpu();
    let mut rng = rng();
    use rand::RngExt;
    let (e_off, s_off, out_off, g_off, d_off) = (2u32, 3u32, 1u32, 4u32, 5u32);
    for rows in [1u32, 7, 300] {
        let dims: u32 = rng.random_range(1..900);
        // Squared errors >= 0, and a log-variance in [-4, 2].
        let e: Vec<f32> = (0..e_off + rows)
            .map(|_| rng.random_range(0.0f32..3.0).powi(2))
            .collect();
        let mut sp = randn(&mut rng, (s_off + 1) as usize, 1.0);
        sp[s_off as usize] = rng.random_range(-4.0..2.0);
        let g = randn(&mut rng, (g_off + rows) as usize, 1.0);
        let (ge, gs, gg) = (
            gpu.upload(&e, "e").unwrap(),
            gpu.upload(&sp, "s").unwrap(),
            gpu.upload(&g, "g").unwrap(),
        );
        let p = GaussNllParams {
            rows,
            dims,
            e_off,
            s_off,
            out_off,
            g_off: NONE,
            g_scale: 1.0,
            d_off,
            accumulate: 0,
        };
        let what = format!("{rows} rows of {dims}");
        let out = poisoned(&gpu, (out_off + rows) as usize);
        run(
            &gpu,
            k::gaussnll::NLL_FWD,
            Some(&p),
            &[("e", &ge), ("sp", &gs), ("out", &out)],
            groups(&gpu, rows),
        );
        let mut want = vec![0.0; (out_off + rows) as usize];
        r::nll_fwd(&p, &wide(&e), &wide(&sp), &mut want);
        let err = rel_err(
            &read(&gpu, &out)[out_off as usize..],
            &want[out_off as usize..],
        );
        assert!(err < TOL, "nll_fwd {what}: {err}");
        let d0 = randn(&mut rng, (d_off + rows) as usize, 1.0);
        for (g_off, g_scale) in [(g_off, 1.0f32), (NONE, -0.6)] {
            for accumulate in [0u32, 1] {
                let q = GaussNllParams {
                    g_off,
                    g_scale,
                    accumulate,
                    ..p
                };
                let init = if accumulate == 1 {
                    wide(&d0)
                } else {
                    vec![0.0; d0.len()]
                };
                let fresh = || {
                    if accumulate == 1 {
                        gpu.upload(&d0, "d").unwrap()
                    } else {
                        poisoned(&gpu, d0.len())
                    }
                };
                let de = fresh();
                run(
                    &gpu,
                    k::gaussnll::NLL_BWD_E,
                    Some(&q),
                    &[("sp", &gs), ("g", &gg), ("de", &de)],
                    groups(&gpu, rows),
                );
                let mut want = init.clone();
                r::nll_bwd_e(&q, &wide(&sp), &wide(&g), &mut want);
                let got = read(&gpu, &de);
                let err = rel_err(&got[d_off as usize..], &want[d_off as usize..]);
                assert!(
                    err < TOL,
                    "nll_bwd_e {what} g_off={g_off} acc={accumulate}: {err}"
                );
                let ds = fresh();
                run(
                    &gpu,
                    k::gaussnll::NLL_BWD_S,
                    Some(&q),
                    &[("e", &ge), ("sp", &gs), ("g", &gg), ("ds", &ds)],
                    [1, 1, 1],
                );
                let mut want = init.clone();
                r::nll_bwd_s(&q, &wide(&e), &wide(&sp), &wide(&g), &mut want);
                let got = read(&gpu, &ds);
                let at = d_off as usize;
                // One sum of terms of either sign: its f32 rounding is bounded by the terms'
                // magnitudes, not by the (possibly cancelled) result.
                let w = (-f64::from(sp[s_off as usize])).exp();
                let upstream = |i: u32| {
                    f64::from(g_scale)
                        * if g_off == NONE {
                            1.0
                        } else {
                            f64::from(g[(g_off + i) as usize])
                        }
                };
                let scale = init[at].abs()
                    + (0..rows)
                        .map(|i| {
                            let ei = f64::from(e[(e_off + i) as usize]);
                            (upstream(i) * 0.5 * (f64::from(dims) - ei * w)).abs()
                        })
                        .sum::<f64>();
                let err = (f64::from(got[at]) - want[at]).abs() / scale;
                assert!(
                    err < TOL,
                    "nll_bwd_s {what} g_off={g_off} acc={accumulate}: {err}"
                );
                assert!(
                    got[at + 1..].iter().zip(&init[at + 1..]).all(|(a, b)| {
                        if accumulate == 1 {
                            f64::from(*a) == *b
                        } else {
                            a.is_nan()
                        }
                    }),
                    "nll_bwd_s writes one value"
                );
            }
        }
    }
}
