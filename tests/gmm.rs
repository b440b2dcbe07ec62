//! DAGMM's kernels (`gmm.wgsl`, `recon.wgsl`) against their f64 twins on fresh random inputs
//! at awkward shapes and offsets, outputs poisoned with NaN first; and their backward rules
//! against finite differences of an f64 forward (the twins, which are plain loops).

mod common;

use common::grad::check_all;
use common::kernel::*;
use common::*;
use oddity::Gpu;
use oddity::gpu::GpuBuffer;
use oddity::ops::loss::RowError;
use oddity::tape::{Tape, Tensor};
use oddity_kernels::kernels as k;
use oddity_kernels::params::{GmmParams, NONE, ReconParams};
use oddity_kernels::reference as r;
use rand::RngExt;

const TOL: f64 = 1e-5;

/// The kernel's output words from `off` against the reference's, written (`init` None) or
/// added onto `init`.
fn check_out(what: &str, got: &[f32], want: &[f64], init: Option<&[f32]>, off: usize, tol: f64) {
    let e = match init {
        Some(i) => acc_err(&got[off..], &want[off..], &i[off..]),
        None => rel_err(&got[off..], &want[off..]),
    };
    eprintln!("{what}: {e:.2e}");
    assert!(e < tol, "{what}: error {e}");
}

/// A buffer holding `init` (accumulating) or poisoned, and the reference's starting values.
fn start(gpu: &Gpu, init: &[f32], accumulate: bool) -> (GpuBuffer, Vec<f64>) {
    if accumulate {
        (gpu.upload(init, "init").unwrap(), wide(init))
    } else {
        (poisoned(gpu, init.len()), vec![0.0; init.len()])
    }
}

/// Every `gmm.wgsl` entry point against its twin, chained as the tape chains them: the fit's
/// records feed the energy, the energy's responsibilities its backward rules, a random record
/// gradient the mix, and the mix the rows' rule. Each kernel reads the GPU's own (f32) inputs,
/// so each is measured alone.
#[test]
fn gmm_kernels_match_the_reference() {
    let gpu = gpu();
    let mut rng = rng();
    for (rows, dims, comps, eps) in [
        (1u32, 1u32, 1u32, 1e-3f32),
        (9, 2, 3, 1e-3),
        (300, 5, 3, 1e-4),
        (200, 16, 2, 1e-3),
        (40, 3, 16, 1e-2),
    ] {
        let what = format!("{rows}x{dims} in {comps}");
        let base = GmmParams {
            z_off: 2,
            l_off: 1,
            p_off: 3,
            eps,
            ..GmmParams::new(rows, dims, comps)
        };
        let rec = base.record() as usize;
        let (ru, du, ku) = (rows as usize, dims as usize, comps as usize);
        let z = randn(&mut rng, 2 + ru * du, 1.0);
        let lg = randn(&mut rng, 1 + ru * ku, 1.0);
        let (gz, glg) = (gpu.upload(&z, "z").unwrap(), gpu.upload(&lg, "lg").unwrap());
        let (z64, lg64) = (wide(&z), wide(&lg));

        // gmm_fit
        let out = poisoned(&gpu, 3 + ku * rec);
        run(
            &gpu,
            k::gmm::GMM_FIT,
            Some(&base),
            &[("z", &gz), ("lg", &glg), ("out", &out)],
            [comps, 1, 1],
        );
        let got = read(&gpu, &out);
        let mut want = vec![0.0; 3 + ku * rec];
        r::gmm_fit(&base, &z64, &lg64, &mut want);
        assert!(
            got[..3].iter().all(|v| v.is_nan()),
            "gmm_fit wrote before p_off"
        );
        let parts = [
            ("G phi", 0, 2),
            ("logdet", 2, 1),
            ("mu", 3, du),
            ("S", 3 + du, du * du),
        ];
        for (name, at, len) in parts.into_iter().chain([("C", 3 + du + du * du, du * du)]) {
            let pick = |v: &[f32]| -> Vec<f32> {
                (0..ku)
                    .flat_map(|j| v[3 + j * rec + at..][..len].to_vec())
                    .collect()
            };
            let pick64: Vec<f64> = (0..ku)
                .flat_map(|j| want[3 + j * rec + at..][..len].to_vec())
                .collect();
            // logdet against a unit floor (it may be near 0); S loses the condition number
            // of the scaled C to rounding.
            let e = if name == "logdet" {
                let g = pick(&got);
                g.iter()
                    .zip(&pick64)
                    .map(|(a, b)| (f64::from(*a) - b).abs() / b.abs().max(1.0))
                    .fold(0.0, f64::max)
            } else {
                rel_err(&pick(&got), &pick64)
            };
            let tol = if name == "S" { 1e-4 } else { TOL };
            eprintln!("gmm_fit {what} {name}: {e:.2e}");
            assert!(e < tol, "gmm_fit {what} {name}: {e}");
        }

        // gmm_energy on the GPU's records (out_off 1, r_off 2, pen_off 1)
        let params = got.clone();
        let (gm, gm64) = (gpu.upload(&params, "gm").unwrap(), wide(&params));
        let p = GmmParams {
            out_off: 1,
            r_off: 2,
            pen_off: 1,
            ..base
        };
        let (energy, resp, pen) = (
            poisoned(&gpu, 1 + ru),
            poisoned(&gpu, 2 + ru * ku),
            poisoned(&gpu, 2),
        );
        run(
            &gpu,
            k::gmm::GMM_ENERGY,
            Some(&p),
            &[
                ("z", &gz),
                ("gm", &gm),
                ("out", &energy),
                ("resp", &resp),
                ("pen", &pen),
            ],
            groups(&gpu, rows),
        );
        let (mut we, mut wr, mut wp) = (vec![0.0; 1 + ru], vec![0.0; 2 + ru * ku], vec![0.0; 2]);
        r::gmm_energy(&p, &z64, &gm64, &mut we, &mut wr, &mut wp);
        check_out(
            &format!("gmm_energy {what}"),
            &read(&gpu, &energy),
            &we,
            None,
            1,
            TOL,
        );
        check_out(
            &format!("gmm_energy resp {what}"),
            &read(&gpu, &resp),
            &wr,
            None,
            2,
            TOL,
        );
        check_out(
            &format!("gmm_energy penalty {what}"),
            &read(&gpu, &pen),
            &wp,
            None,
            1,
            TOL,
        );
        let resp_got = read(&gpu, &resp);
        let gresp = gpu.upload(&resp_got, "resp").unwrap();
        let resp64 = wide(&resp_got);

        // The backward rules, with a per-row gradient and with one constant, writing and adding.
        let g = randn(&mut rng, 1 + ru, 1.0);
        let gg = gpu.upload(&g, "g").unwrap();
        for (g_off, g_scale) in [(1u32, 1.0f32), (NONE, -0.37)] {
            for acc in [false, true] {
                let tag = format!("{what} g_off={g_off} acc={acc}");
                let q = GmmParams {
                    g_off,
                    g_scale,
                    accumulate: u32::from(acc),
                    dz_off: 1,
                    gp_off: 2,
                    ..p
                };
                let init = randn(&mut rng, 1 + ru * du, 1.0);
                let (dz, mut wdz) = start(&gpu, &init, acc);
                run(
                    &gpu,
                    k::gmm::GMM_ENERGY_BWD_Z,
                    Some(&q),
                    &[
                        ("z", &gz),
                        ("gm", &gm),
                        ("resp_in", &gresp),
                        ("g", &gg),
                        ("dz", &dz),
                    ],
                    groups(&gpu, rows),
                );
                r::gmm_energy_bwd_z(&q, &z64, &gm64, &resp64, &wide(&g), &mut wdz);
                check_out(
                    &format!("gmm_energy_bwd_z {tag}"),
                    &read(&gpu, &dz),
                    &wdz,
                    acc.then_some(&init[..]),
                    1,
                    TOL,
                );

                let init = randn(&mut rng, 2 + ku * rec, 1.0);
                let (gp, mut wgp) = start(&gpu, &init, acc);
                run(
                    &gpu,
                    k::gmm::GMM_ENERGY_BWD_PARAMS,
                    Some(&q),
                    &[
                        ("z", &gz),
                        ("gm", &gm),
                        ("resp_in", &gresp),
                        ("g", &gg),
                        ("gp", &gp),
                    ],
                    [comps, 1, 1],
                );
                r::gmm_energy_bwd_params(&q, &z64, &gm64, &resp64, &wide(&g), &mut wgp);
                check_out(
                    &format!("gmm_energy_bwd_params {tag}"),
                    &read(&gpu, &gp),
                    &wgp,
                    acc.then_some(&init[..]),
                    2,
                    TOL,
                );

                let (gp, mut wgp) = start(&gpu, &init, acc);
                run(
                    &gpu,
                    k::gmm::GMM_PENALTY_BWD,
                    Some(&q),
                    &[("gm", &gm), ("g", &gg), ("gp", &gp)],
                    groups(&gpu, comps),
                );
                r::gmm_penalty_bwd(&q, &gm64, &wide(&g), &mut wgp);
                check_out(
                    &format!("gmm_penalty_bwd {tag}"),
                    &read(&gpu, &gp),
                    &wgp,
                    acc.then_some(&init[..]),
                    2,
                    TOL,
                );
            }
        }

        // gmm_bwd_mix from a random record gradient (gp_off 2, mix_off 1)
        let gp = randn(&mut rng, 2 + ku * rec, 1.0);
        let ggp = gpu.upload(&gp, "gp").unwrap();
        let q = GmmParams {
            gp_off: 2,
            mix_off: 1,
            ..base
        };
        let width = 1 + du + du * du;
        let mix = poisoned(&gpu, 1 + ku * width);
        run(
            &gpu,
            k::gmm::GMM_BWD_MIX,
            Some(&q),
            &[("gm", &gm), ("gp_in", &ggp), ("mix", &mix)],
            [comps, 1, 1],
        );
        let mut wmix = vec![0.0; 1 + ku * width];
        r::gmm_bwd_mix(&q, &gm64, &wide(&gp), &mut wmix);
        {
            let m = read(&gpu, &mix);
            let bad: Vec<usize> = (0..m.len()).filter(|&i| !m[i].is_finite()).collect();
            eprintln!(
                "DEBUG mix non-finite {} of {}: {:?} {:?}",
                bad.len(),
                m.len(),
                &bad[..bad.len().min(20)],
                bad.iter().take(5).map(|&i| m[i]).collect::<Vec<_>>()
            );
        }
        // c0 subtracts t / G from the other terms: measured against the terms' size.
        check_out(
            &format!("gmm_bwd_mix {what}"),
            &read(&gpu, &mix),
            &wmix,
            None,
            1,
            1e-4,
        );

        // gmm_bwd_rows from the GPU's mix: dz and dlogits each written, added or absent.
        let mix_got = read(&gpu, &mix);
        let gmix = gpu.upload(&mix_got, "mix").unwrap();
        for (dz_on, dl_on, acc) in [
            (true, true, 0u32),
            (true, false, 1),
            (false, true, 2),
            (true, true, 3),
        ] {
            let tag = format!("{what} dz={dz_on} dl={dl_on} acc={acc}");
            let q = GmmParams {
                mix_off: 1,
                dz_off: if dz_on { 3 } else { NONE },
                dl_off: if dl_on { 1 } else { NONE },
                accumulate: acc,
                ..base
            };
            let init_z = randn(&mut rng, 3 + ru * du, 1.0);
            let init_l = randn(&mut rng, 1 + ru * ku, 1.0);
            let (dz, mut wdz) = start(&gpu, &init_z, acc & 1 != 0);
            let (dl, mut wdl) = start(&gpu, &init_l, acc & 2 != 0);
            run(
                &gpu,
                k::gmm::GMM_BWD_ROWS,
                Some(&q),
                &[
                    ("z", &gz),
                    ("lg", &glg),
                    ("gm", &gm),
                    ("mix_in", &gmix),
                    ("dz", &dz),
                    ("dl", &dl),
                ],
                groups(&gpu, rows),
            );
            r::gmm_bwd_rows(&q, &z64, &lg64, &gm64, &wide(&mix_got), &mut wdz, &mut wdl);
            let (gdz, gdl) = (read(&gpu, &dz), read(&gpu, &dl));
            if dz_on {
                check_out(
                    &format!("gmm_bwd_rows dz {tag}"),
                    &gdz,
                    &wdz,
                    (acc & 1 != 0).then_some(&init_z[..]),
                    3,
                    1e-4,
                );
            } else {
                assert!(gdz.iter().all(|v| v.is_nan()), "dz written while absent");
            }
            if dl_on {
                check_out(
                    &format!("gmm_bwd_rows dlogits {tag}"),
                    &gdl,
                    &wdl,
                    (acc & 2 != 0).then_some(&init_l[..]),
                    1,
                    1e-4,
                );
            } else {
                assert!(
                    gdl.iter().all(|v| v.is_nan()),
                    "dlogits written while absent"
                );
            }
        }
    }
}

/// `recon.wgsl` against its twin: the features and their backward rule, at awkward widths.
#[test]
fn recon_kernels_match_the_reference() {
    let gpu = gpu();
    let mut rng = rng();
    for (rows, cols) in [(1u32, 1u32), (7, 300), (513, 5)] {
        let (ru, cu) = (rows as usize, cols as usize);
        let x = randn(&mut rng, 1 + ru * cu, 1.0);
        let mut y = randn(&mut rng, 2 + ru * cu, 1.0);
        // Row 0's reconstruction near x (a small distance), as a trained decoder gives.
        for c in 0..cu {
            y[2 + c] = x[1 + c] + 1e-3 * y[2 + c];
        }
        let (gx, gy) = (gpu.upload(&x, "x").unwrap(), gpu.upload(&y, "y").unwrap());
        let base = ReconParams {
            rows,
            cols,
            x_off: 1,
            y_off: 2,
            out_off: 3,
            g_off: NONE,
            g_scale: 1.0,
            dx_off: NONE,
            dy_off: NONE,
            accumulate: 0,
        };
        let out = poisoned(&gpu, 3 + 2 * ru);
        run(
            &gpu,
            k::recon::RECON_FWD,
            Some(&base),
            &[("x", &gx), ("y", &gy), ("out", &out)],
            groups(&gpu, rows),
        );
        let mut want = vec![0.0; 3 + 2 * ru];
        r::recon_fwd(&base, &wide(&x), &wide(&y), &mut want);
        check_out(
            &format!("recon_fwd {rows}x{cols}"),
            &read(&gpu, &out),
            &want,
            None,
            3,
            TOL,
        );
        let g = randn(&mut rng, 1 + 2 * ru, 1.0);
        let gg = gpu.upload(&g, "g").unwrap();
        for (g_off, g_scale) in [(1u32, 1.0f32), (NONE, 0.6)] {
            for (dx_on, dy_on, acc) in [
                (true, true, 0u32),
                (false, true, 2),
                (true, false, 1),
                (true, true, 3),
            ] {
                let tag = format!("{rows}x{cols} g_off={g_off} dx={dx_on} dy={dy_on} acc={acc}");
                let p = ReconParams {
                    g_off,
                    g_scale,
                    dx_off: if dx_on { 2 } else { NONE },
                    dy_off: if dy_on { 1 } else { NONE },
                    accumulate: acc,
                    ..base
                };
                let init_x = randn(&mut rng, 2 + ru * cu, 1.0);
                let init_y = randn(&mut rng, 1 + ru * cu, 1.0);
                let (dx, mut wdx) = start(&gpu, &init_x, acc & 1 != 0);
                let (dy, mut wdy) = start(&gpu, &init_y, acc & 2 != 0);
                run(
                    &gpu,
                    k::recon::RECON_BWD,
                    Some(&p),
                    &[("x", &gx), ("y", &gy), ("g", &gg), ("dx", &dx), ("dy", &dy)],
                    groups(&gpu, rows),
                );
                r::recon_bwd(&p, &wide(&x), &wide(&y), &wide(&g), &mut wdx, &mut wdy);
                let (gdx, gdy) = (read(&gpu, &dx), read(&gpu, &dy));
                if dx_on {
                    check_out(
                        &format!("recon_bwd dx {tag}"),
                        &gdx,
                        &wdx,
                        (acc & 1 != 0).then_some(&init_x[..]),
                        2,
                        1e-4,
                    );
                } else {
                    assert!(gdx.iter().all(|v| v.is_nan()), "dx written while absent");
                }
                if dy_on {
                    check_out(
                        &format!("recon_bwd dy {tag}"),
                        &gdy,
                        &wdy,
                        (acc & 2 != 0).then_some(&init_y[..]),
                        1,
                        1e-4,
                    );
                } else {
                    assert!(gdy.iter().all(|v| v.is_nan()), "dy written while absent");
                }
            }
        }
    }
}

/// The energies and penalty of codes `z` under the mixture fitted to them with memberships
/// softmax(`lg`), in f64 (the twins): (energies, penalty).
fn f64_energy(
    rows: u32,
    dims: u32,
    comps: u32,
    eps: f32,
    z: &[f64],
    lg: &[f64],
) -> (Vec<f64>, f64) {
    let p = GmmParams {
        eps,
        ..GmmParams::new(rows, dims, comps)
    };
    let mut params = vec![0.0; (comps * p.record()) as usize];
    r::gmm_fit(&p, z, lg, &mut params);
    energy_under(&p, z, &params)
}

fn energy_under(p: &GmmParams, z: &[f64], params: &[f64]) -> (Vec<f64>, f64) {
    let q = GmmParams { pen_off: 0, ..*p };
    let (mut e, mut resp, mut pen) = (
        vec![0.0; p.rows as usize],
        vec![0.0; (p.rows * p.comps) as usize],
        vec![0.0],
    );
    r::gmm_energy(&q, z, params, &mut e, &mut resp, &mut pen);
    (e, pen[0])
}

/// The whole mixture, differentiated: codes and logits -> fitted parameters -> energies and
/// penalty, as DAGMM's loss weighs them (a constant upstream gradient; the penalty's rule
/// writes the records' gradient first, the energy's adds), and through a per-row squared error
/// of the energies (a buffer upstream, the energy's rule alone on the records).
#[test]
fn gmm_estimate_and_energy_match_finite_differences() {
    let gpu = gpu();
    let mut rng = rng();
    let (rows, dims, comps, eps) = (11u32, 3u32, 2u32, 1e-2f32);
    let inputs = [
        (randn(&mut rng, (rows * dims) as usize, 1.0), rows, dims),
        (randn(&mut rng, (rows * comps) as usize, 1.0), rows, comps),
    ];
    let (w_e, w_p) = (0.7f32, 0.05f32);
    let build = |tape: &mut Tape, t: &[Tensor]| {
        let params = tape.gmm_estimate(&t[0], &t[1], eps)?;
        let e = tape.gmm_energy(&t[0], &params)?;
        Ok(vec![
            tape.weighted_mean(&e.energy, w_e)?,
            tape.weighted_mean(&e.penalty, w_p)?,
        ])
    };
    let f = |x: &[Vec<f64>]| {
        let (e, pen) = f64_energy(rows, dims, comps, eps, &x[0], &x[1]);
        f64::from(w_e) * e.iter().sum::<f64>() / f64::from(rows) + f64::from(w_p) * pen
    };
    check_all(&gpu, "gmm estimate + energy + penalty", &inputs, &build, &f);

    let target = randn(&mut rng, rows as usize, 2.0);
    let tg = Tensor::from_slice(&gpu, &target, rows, 1, "target").unwrap();
    let build = |tape: &mut Tape, t: &[Tensor]| {
        let params = tape.gmm_estimate(&t[0], &t[1], eps)?;
        let e = tape.gmm_energy(&t[0], &params)?;
        let d = tape.row_error(&e.energy, &tg, RowError::SquaredL2)?;
        Ok(vec![tape.mean(&d)?])
    };
    let f = |x: &[Vec<f64>]| {
        let (e, _) = f64_energy(rows, dims, comps, eps, &x[0], &x[1]);
        e.iter()
            .zip(&target)
            .map(|(a, b)| (a - f64::from(*b)).powi(2))
            .sum::<f64>()
            / f64::from(rows)
    };
    check_all(
        &gpu,
        "gmm estimate + energy, squared error",
        &inputs,
        &build,
        &f,
    );
}

/// The energy under parameters given directly (as scoring uses the training set's): the
/// gradient reaches every word of the records, S's entries one by one (a non-symmetric
/// perturbation included), and the penalty's reaches C's diagonal.
#[test]
fn gmm_energy_reaches_every_parameter() {
    let gpu = gpu();
    let mut rng = rng();
    let (rows, dims, comps) = (6u32, 2u32, 3u32);
    let p = GmmParams::new(rows, dims, comps);
    let (rec, du) = (p.record() as usize, dims as usize);
    let mut params = Vec::new();
    for _ in 0..comps {
        let mut r = vec![
            3.0,
            rng.random_range(0.2f32..0.5),
            rng.random_range(-1.0f32..1.0),
        ];
        r.extend(randn(&mut rng, du, 1.0));
        // S: a positive definite matrix (diagonal heavy), slightly non-symmetric.
        let a = randn(&mut rng, du * du, 0.2);
        r.extend((0..du * du).map(|e| a[e] + if e / du == e % du { 1.0 } else { 0.0 }));
        r.extend((0..du * du).map(|e| {
            if e / du == e % du {
                rng.random_range(0.5f32..2.0)
            } else {
                0.1
            }
        }));
        assert_eq!(r.len(), rec);
        params.extend(r);
    }
    let inputs = [
        (randn(&mut rng, rows as usize * du, 1.0), rows, dims),
        (params, comps, rec as u32),
    ];
    let build = |tape: &mut Tape, t: &[Tensor]| {
        let e = tape.gmm_energy(&t[0], &t[1])?;
        Ok(vec![
            tape.weighted_mean(&e.energy, 1.3)?,
            tape.weighted_mean(&e.penalty, 0.2)?,
        ])
    };
    let f = |x: &[Vec<f64>]| {
        let (e, pen) = energy_under(&p, &x[0], &x[1]);
        1.3 * e.iter().sum::<f64>() / f64::from(rows) + 0.2 * pen
    };
    check_all(
        &gpu,
        "gmm energy + penalty on given parameters",
        &inputs,
        &build,
        &f,
    );
}

/// The reconstruction features' rule: to the rows and to their reconstructions, through a
/// per-feature squared error (a buffer upstream).
#[test]
fn recon_features_match_finite_differences() {
    let gpu = gpu();
    let mut rng = rng();
    let (rows, cols) = (5u32, 7u32);
    let target = randn(&mut rng, 2 * rows as usize, 1.0);
    let tg = Tensor::from_slice(&gpu, &target, rows, 2, "target").unwrap();
    let inputs = [
        (randn(&mut rng, (rows * cols) as usize, 1.0), rows, cols),
        (randn(&mut rng, (rows * cols) as usize, 1.0), rows, cols),
    ];
    let build = |tape: &mut Tape, t: &[Tensor]| {
        let feats = tape.recon_features(&t[0], &t[1])?;
        let d = tape.row_error(&feats, &tg, RowError::SquaredL2)?;
        Ok(vec![tape.mean(&d)?])
    };
    let f = |x: &[Vec<f64>]| {
        let p = ReconParams {
            rows,
            cols,
            x_off: 0,
            y_off: 0,
            out_off: 0,
            g_off: NONE,
            g_scale: 1.0,
            dx_off: NONE,
            dy_off: NONE,
            accumulate: 0,
        };
        let mut out = vec![0.0; 2 * rows as usize];
        r::recon_fwd(&p, &x[0], &x[1], &mut out);
        out.iter()
            .zip(&target)
            .map(|(a, b)| (a - f64::from(*b)).powi(2))
            .sum::<f64>()
            / f64::from(rows)
    };
    check_all(&gpu, "recon features + squared error", &inputs, &build, &f);
}
