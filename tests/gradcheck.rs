//! Finite-difference checks of every backward rule: the GPU's gradients (from the tape's
//! backward pass) against central differences of an f64 forward written with plain loops.
//! Gradient buffers are poisoned with NaN first, so an unwritten gradient fails, and each plan
//! is replayed twice, so a scratch buffer that relies on being new fails too.

mod common;

use common::grad::*;
use common::*;
use oddity::ops::Act;
use oddity::ops::dense::DenseParams;
use oddity::ops::loss::RowError;
use oddity::tape::{StepState, Tape, Tensor};
use oddity_kernels::reference::{act_apply, primal_loss, rng_gauss};

const ACTS: [Act; 5] = [
    Act::Identity,
    Act::Relu,
    Act::LeakyRelu(0.1),
    Act::Tanh,
    Act::Sigmoid,
];

fn row_err(y: &[f64], t: &[f64], cols: usize, mse: bool) -> Vec<f64> {
    y.chunks(cols)
        .zip(t.chunks(cols))
        .map(|(a, b)| {
            a.iter().zip(b).map(|(p, q)| (p - q).powi(2)).sum::<f64>()
                / if mse { cols as f64 } else { 1.0 }
        })
        .collect()
}

#[test]
fn dense_then_squared_error_mean_every_activation() {
    let gpu = gpu();
    let mut rng = rng();
    let (rows, k, n) = (5u32, 4u32, 3u32);
    for act in ACTS {
        let target = randn(&mut rng, (rows * n) as usize, 1.0);
        let tg = Tensor::from_slice(&gpu, &target, rows, n, "target").unwrap();
        let tw = wide(&target);
        let build = move |tape: &mut Tape, t: &[Tensor]| {
            let y = tape.dense(&t[0], &DenseParams::new(t[1].clone())?, act)?;
            let e = tape.row_error(&y, &tg, RowError::SquaredL2)?;
            tape.mean(&e)
        };
        let f = move |x: &[Vec<f64>]| {
            let y = dense_fwd(
                Layer::new(k as usize, n as usize, act.code(), f64::from(act.alpha())),
                &x[0],
                rows as usize,
                &x[1],
            );
            let e = row_err(&y, &tw, n as usize, false);
            e.iter().sum::<f64>() / f64::from(rows)
        };
        let inputs = [
            (randn(&mut rng, (rows * k) as usize, 1.0), rows, k),
            (randn(&mut rng, ((k + 1) * n) as usize, 1.0), k + 1, n),
        ];
        check(
            &gpu,
            &format!("dense {act:?} + sqL2 + mean"),
            &inputs,
            &build,
            &f,
        );
    }
}

#[test]
fn dense_then_mse_sum() {
    let gpu = gpu();
    let mut rng = rng();
    let (rows, k, n) = (6u32, 3u32, 5u32);
    let target = randn(&mut rng, (rows * n) as usize, 1.0);
    let tg = Tensor::from_slice(&gpu, &target, rows, n, "target").unwrap();
    let tw = wide(&target);
    let build = move |tape: &mut Tape, t: &[Tensor]| {
        let y = tape.dense(&t[0], &DenseParams::new(t[1].clone())?, Act::Tanh)?;
        let e = tape.row_error(&y, &tg, RowError::Mse)?;
        tape.sum(&e)
    };
    let f = move |x: &[Vec<f64>]| {
        let y = dense_fwd(
            Layer::new(k as usize, n as usize, 3, 0.0),
            &x[0],
            rows as usize,
            &x[1],
        );
        row_err(&y, &tw, n as usize, true).iter().sum::<f64>()
    };
    let inputs = [
        (randn(&mut rng, (rows * k) as usize, 1.0), rows, k),
        (randn(&mut rng, ((k + 1) * n) as usize, 1.0), k + 1, n),
    ];
    check(&gpu, "dense tanh + mse + sum", &inputs, &build, &f);
}

#[test]
fn masked_bce_with_logits() {
    let gpu = gpu();
    let mut rng = rng();
    let (rows, k) = (9u32, 4u32);
    let y: Vec<f32> = (0..rows).map(|i| f32::from(u8::from(i % 3 == 0))).collect();
    let mask: Vec<f32> = (0..rows).map(|i| f32::from(u8::from(i % 4 != 2))).collect();
    let (yt, mt) = (
        Tensor::from_slice(&gpu, &y, rows, 1, "y").unwrap(),
        Tensor::from_slice(&gpu, &mask, rows, 1, "m").unwrap(),
    );
    let (yw, mw) = (wide(&y), wide(&mask));
    let build = move |tape: &mut Tape, t: &[Tensor]| {
        let z = tape.dense(&t[0], &DenseParams::new(t[1].clone())?, Act::Identity)?;
        tape.bce_with_logits(&z, &yt, Some(&mt))
    };
    let f = move |x: &[Vec<f64>]| {
        let z = dense_fwd(
            Layer::new(k as usize, 1, 0, 0.0),
            &x[0],
            rows as usize,
            &x[1],
        );
        let count: f64 = mw.iter().sum();
        z.iter()
            .zip(&yw)
            .zip(&mw)
            .map(|((z, y), m)| m * (z.max(0.0) - z * y + (-z.abs()).exp().ln_1p()))
            .sum::<f64>()
            / count
    };
    let inputs = [
        (randn(&mut rng, (rows * k) as usize, 2.0), rows, k),
        (randn(&mut rng, (k + 1) as usize, 2.0), k + 1, 1),
    ];
    check(&gpu, "dense + masked bce", &inputs, &build, &f);
}

#[test]
fn noise_passes_gradient_through() {
    let gpu = gpu();
    let mut rng = rng();
    let (rows, k, n, seed, tag, sigma) = (4u32, 3u32, 2u32, 99u32, 7u32, 0.5f32);
    let target = randn(&mut rng, (rows * n) as usize, 1.0);
    let tg = Tensor::from_slice(&gpu, &target, rows, n, "target").unwrap();
    let tw = wide(&target);
    let build = move |tape: &mut Tape, t: &[Tensor]| {
        let xn = tape.gauss_noise(&t[0], sigma, seed, tag)?;
        let y = tape.dense(&xn, &DenseParams::new(t[1].clone())?, Act::Sigmoid)?;
        let e = tape.row_error(&y, &tg, RowError::SquaredL2)?;
        tape.mean(&e)
    };
    let f = move |x: &[Vec<f64>]| {
        let xn: Vec<f64> = x[0]
            .iter()
            .enumerate()
            .map(|(i, v)| v + f64::from(sigma) * rng_gauss(seed, 0, tag, i as u32))
            .collect();
        let y = dense_fwd(
            Layer::new(k as usize, n as usize, 4, 0.0),
            &xn,
            rows as usize,
            &x[1],
        );
        row_err(&y, &tw, n as usize, false).iter().sum::<f64>() / f64::from(rows)
    };
    let inputs = [
        (randn(&mut rng, (rows * k) as usize, 1.0), rows, k),
        (randn(&mut rng, ((k + 1) * n) as usize, 1.0), k + 1, n),
    ];
    check(&gpu, "noise + dense + sqL2", &inputs, &build, &f);
}

#[test]
fn shared_weights_accumulate_and_constant_gradient_materialises() {
    let gpu = gpu();
    let mut rng = rng();
    let (rows, k) = (5u32, 4u32);
    // The same layer twice: its gradient is the sum of two dW products (accumulate path); the
    // loss is a mean of the dense output itself, so the dense rule gets a constant gradient.
    let build = move |tape: &mut Tape, t: &[Tensor]| {
        let w = DenseParams::new(t[1].clone())?;
        let h = tape.dense(&t[0], &w, Act::Tanh)?;
        let y = tape.dense(&h, &w, Act::Sigmoid)?;
        tape.mean(&y)
    };
    let f = move |x: &[Vec<f64>]| {
        let h = dense_fwd(
            Layer::new(k as usize, k as usize, 3, 0.0),
            &x[0],
            rows as usize,
            &x[1],
        );
        let y = dense_fwd(
            Layer::new(k as usize, k as usize, 4, 0.0),
            &h,
            rows as usize,
            &x[1],
        );
        y.iter().sum::<f64>() / y.len() as f64
    };
    let inputs = [
        (randn(&mut rng, (rows * k) as usize, 1.0), rows, k),
        (randn(&mut rng, ((k + 1) * k) as usize, 1.0), k + 1, k),
    ];
    check(&gpu, "shared weights + mean of dense", &inputs, &build, &f);
}

#[test]
fn reference_dense_backward_matches_finite_differences() {
    // The f64 loops that the end-to-end training check trusts.
    let mut rng = rng();
    let (rows, k, n) = (3usize, 4usize, 2usize);
    for act in ACTS {
        let (code, alpha) = (act.code(), f64::from(act.alpha()));
        let x = wide(&randn(&mut rng, rows * k, 1.0));
        let p = wide(&randn(&mut rng, (k + 1) * n, 1.0));
        let dy = wide(&randn(&mut rng, rows * n, 1.0));
        let y = dense_fwd(Layer::new(k, n, code, alpha), &x, rows, &p);
        let (dp, dx) = dense_bwd(Layer::new(k, n, code, alpha), &x, rows, &p, &y, &dy);
        let loss = |x: &[f64], p: &[f64]| {
            dense_fwd(Layer::new(k, n, code, alpha), x, rows, p)
                .iter()
                .zip(&dy)
                .map(|(a, b)| a * b)
                .sum::<f64>()
        };
        let h = 1e-6;
        let fd_p: Vec<f64> = (0..p.len())
            .map(|j| {
                let (mut a, mut b) = (p.clone(), p.clone());
                a[j] += h;
                b[j] -= h;
                (loss(&x, &a) - loss(&x, &b)) / (2.0 * h)
            })
            .collect();
        let fd_x: Vec<f64> = (0..x.len())
            .map(|j| {
                let (mut a, mut b) = (x.clone(), x.clone());
                a[j] += h;
                b[j] -= h;
                (loss(&a, &p) - loss(&b, &p)) / (2.0 * h)
            })
            .collect();
        assert!(
            rel_err64(&dp, &fd_p) < 1e-6 && rel_err64(&dx, &fd_x) < 1e-6,
            "{act:?}"
        );
        assert!(act_apply(code, alpha, 0.5).is_finite());
    }
}

#[test]
fn concat_passes_gradient_to_flowing_parts_only() {
    let gpu = gpu();
    let mut rng = rng();
    let (rows, k1, k2, n) = (5u32, 3u32, 2u32, 2u32);
    let detached = randn(&mut rng, (rows * k2) as usize, 1.0);
    let dt = Tensor::from_slice(&gpu, &detached, rows, k2, "detached").unwrap();
    let dw = wide(&detached);
    let target = randn(&mut rng, (rows * n) as usize, 1.0);
    let tg = Tensor::from_slice(&gpu, &target, rows, n, "target").unwrap();
    let tw = wide(&target);
    let build = move |tape: &mut Tape, t: &[Tensor]| {
        let h = tape.concat_cols(&[(&t[0], true), (&dt, false)])?;
        let y = tape.dense(&h, &DenseParams::new(t[1].clone())?, Act::Tanh)?;
        let e = tape.row_error(&y, &tg, RowError::SquaredL2)?;
        tape.mean(&e)
    };
    let f = move |x: &[Vec<f64>]| {
        let (k1, k2) = (k1 as usize, k2 as usize);
        let h: Vec<f64> = (0..rows as usize)
            .flat_map(|r| {
                x[0][r * k1..(r + 1) * k1]
                    .iter()
                    .chain(&dw[r * k2..(r + 1) * k2])
                    .copied()
                    .collect::<Vec<_>>()
            })
            .collect();
        let y = dense_fwd(
            Layer::new(k1 + k2, n as usize, 3, 0.0),
            &h,
            rows as usize,
            &x[1],
        );
        row_err(&y, &tw, n as usize, false).iter().sum::<f64>() / f64::from(rows)
    };
    let inputs = [
        (randn(&mut rng, (rows * k1) as usize, 1.0), rows, k1),
        (
            randn(&mut rng, ((k1 + k2 + 1) * n) as usize, 1.0),
            k1 + k2 + 1,
            n,
        ),
    ];
    check(&gpu, "concat + dense", &inputs, &build, &f);
}

#[test]
fn dense_then_softmax_cross_entropy() {
    let gpu = gpu();
    let mut rng = rng();
    let (rows, k, c) = (6u32, 4u32, 3u32);
    let cls: Vec<u32> = (0..rows).map(|i| i % c).collect();
    let gc = gpu.upload(&cls, "classes").unwrap();
    let build = move |tape: &mut Tape, t: &[Tensor]| {
        let z = tape.dense(&t[0], &DenseParams::new(t[1].clone())?, Act::Identity)?;
        let ce = tape.softmax_ce(&z, &gc, 0)?;
        tape.mean(&ce)
    };
    let f = move |x: &[Vec<f64>]| {
        let z = dense_fwd(
            Layer::new(k as usize, c as usize, 0, 0.0),
            &x[0],
            rows as usize,
            &x[1],
        );
        z.chunks(c as usize)
            .zip(&cls)
            .map(|(row, &ci)| {
                let m = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                m + row.iter().map(|v| (v - m).exp()).sum::<f64>().ln() - row[ci as usize]
            })
            .sum::<f64>()
            / f64::from(rows)
    };
    let inputs = [
        (randn(&mut rng, (rows * k) as usize, 2.0), rows, k),
        (randn(&mut rng, ((k + 1) * c) as usize, 2.0), k + 1, c),
    ];
    check(&gpu, "dense + softmax CE", &inputs, &build, &f);
}

#[test]
fn abc_loss_and_gradient_at_small_and_large_errors() {
    use oddity::ops::loss::BinaryLoss;
    use oddity_kernels::reference::binloss_row;
    let gpu = gpu();
    let points = [1e-6f64, 1e-2, 1.0, 30.0, 80.0];
    // Every point with y = 1 (normal) and y = 0 (known anomaly).
    let l: Vec<f32> = points.iter().chain(&points).map(|&v| v as f32).collect();
    let y: Vec<u32> = [1u32; 5].into_iter().chain([0; 5]).collect();
    let rows = l.len() as u32;
    for kind in [BinaryLoss::Abc, BinaryLoss::Lrc] {
        let code = if kind == BinaryLoss::Abc { 0 } else { 1 };
        let state = StepState::new(&gpu).unwrap();
        let mut tape = Tape::new(&gpu, &state);
        let t = Tensor::from_slice(&gpu, &l, rows, 1, "L").unwrap();
        let g = Tensor::from_slice(&gpu, &vec![f32::NAN; l.len()], rows, 1, "dL").unwrap();
        tape.param(&t, &g).unwrap();
        let yb = gpu.upload(&y, "y").unwrap();
        let per_row = tape.binary_loss(&t, &yb, 0, kind).unwrap();
        let loss = tape.sum(&per_row).unwrap();
        tape.backward(&loss).unwrap();
        tape.finish().unwrap().run(1).unwrap();
        let (got_l, got_g) = (per_row.read(&gpu).unwrap(), g.read(&gpu).unwrap());
        for i in 0..l.len() {
            let v = f64::from(l[i]);
            let (want, rule) = binloss_row(code, v, y[i]);
            let h = 1e-5 * v;
            let fd =
                (binloss_row(code, v + h, y[i]).0 - binloss_row(code, v - h, y[i]).0) / (2.0 * h);
            let what = format!("{kind:?} L={v:e} y={}", y[i]);
            assert!(
                got_l[i].is_finite() && got_g[i].is_finite(),
                "{what}: not finite"
            );
            assert!(
                (rule - fd).abs() <= 1e-6 * fd.abs() + 1e-300,
                "{what}: rule {rule} vs fd {fd}"
            );
            let (gl, gg) = (f64::from(got_l[i]), f64::from(got_g[i]));
            assert!(
                (gl - want).abs() <= 1e-5 * want.abs(),
                "{what}: loss {gl} vs {want}"
            );
            assert!(
                (gg - fd).abs() <= 1e-5 * fd.abs(),
                "{what}: gradient {gg} vs fd {fd}"
            );
        }
    }
}

#[test]
fn uai_head_matches_finite_differences_and_leaves_the_score_alone() {
    use oddity::ops::head::HeadInput;
    let gpu = gpu();
    let mut rng = rng();
    // Latent rows 0..2 and 9.. are outside the head's rows: their gradient must be zero.
    let (l_rows, h, r0, rows) = (11u32, 3u32, 2u32, 7u32);
    let s: Vec<f32> = randn(&mut rng, l_rows as usize, 2.0);
    // Without the prior, then with it (inverse variance 2.5, 6 labels so far).
    for prior in [None, Some((2.5f32, 6.0f32))] {
        let mut ym: Vec<f32> = (0..rows).map(|i| f32::from(u8::from(i % 3 == 0))).collect();
        ym.extend((0..rows).map(|i| f32::from(u8::from(i != 4))));
        ym.push(prior.map_or(0.0, |(_, n)| n));
        let ym_buf = gpu.upload(&ym, "ym").unwrap();
        let st = Tensor::from_slice(&gpu, &s, l_rows, 1, "score").unwrap();
        let y = Tensor::view(&ym_buf, 0, rows, 1).unwrap();
        let mask = Tensor::view(&ym_buf, rows, rows, 1).unwrap();
        let count = Tensor::view(&ym_buf, 2 * rows, 1, 1).unwrap();
        // A running state the backward updates at every evaluation: at decay 1 the head
        // standardises by the minibatch alone, whatever the state held.
        let stats = Tensor::from_slice(&gpu, &[3.0, 0.5, 7.0], 3, 1, "stats").unwrap();
        let build = move |tape: &mut Tape, t: &[Tensor]| {
            let input = HeadInput {
                latent: &t[0],
                r0,
                score: &st,
                y: &y,
                mask: &mask,
                prior: prior.map(|(v, _)| (v, &count)),
                stats: &stats,
                stats_decay: 1.0,
            };
            tape.uai_head(input, &DenseParams::new(t[1].clone())?)
        };
        let (sw, yw) = (wide(&s), wide(&ym));
        let f = move |x: &[Vec<f64>]| {
            let (l, w) = (&x[0], &x[1]);
            let (h, n) = (h as usize, rows as usize);
            // The score standardised by the rows before the head's (the minibatch).
            let before = &sw[..r0 as usize];
            let mu = before.iter().sum::<f64>() / before.len() as f64;
            let sd =
                (before.iter().map(|v| (v - mu).powi(2)).sum::<f64>() / before.len() as f64).sqrt();
            let mut total = 0.0;
            let mut count = 0.0;
            for i in 0..n {
                let r = r0 as usize + i;
                let z: f64 = (0..h).map(|j| w[j] * l[r * h + j]).sum::<f64>()
                    + w[h].exp() * (sw[r] - mu) / sd
                    + w[h + 1];
                let (yi, mi) = (yw[i], yw[n + i]);
                total += mi * (z.max(0.0) - z * yi + (-z.abs()).exp().ln_1p());
                count += mi;
            }
            // The prior: |w|^2 inv_var / (2 labels) over every weight but the bias.
            let pull = prior.map_or(0.0, |(inv_var, labels)| {
                let sq: f64 = (0..=h).map(|k| w[k].powi(2)).sum();
                0.5 * f64::from(inv_var) * sq / f64::from(labels)
            });
            total / count + pull
        };
        let inputs = [
            (randn(&mut rng, (l_rows * h) as usize, 1.5), l_rows, h),
            (randn(&mut rng, (h + 2) as usize, 1.0), h + 2, 1),
        ];
        check(
            &gpu,
            &format!("uai head, prior {prior:?}"),
            &inputs,
            &build,
            &f,
        );
    }
}

/// The losses whose gradient is written in their forward pass (`row_error_mean`,
/// `softmax_ce_mean`): the mean over the first rows only, after a dense layer, as the only
/// loss (the gradient buffer is adopted), counted twice (scaled in) and beside another loss
/// on the same tensor (added to its gradient).
#[test]
fn mean_of_first_rows_losses_match_finite_differences() {
    let gpu = gpu();
    let mut rng = rng();
    let (rows, loss_rows, k, n) = (7u32, 4u32, 3u32, 5u32);
    let target = randn(&mut rng, (rows * n) as usize, 1.0);
    let tg = Tensor::from_slice(&gpu, &target, rows, n, "target").unwrap();
    let tw = wide(&target);
    let cls: Vec<u32> = (0..rows).map(|i| (i * 2) % n).collect();
    let gc = gpu.upload(&cls, "classes").unwrap();
    let inputs = [
        (randn(&mut rng, (rows * k) as usize, 1.0), rows, k),
        (randn(&mut rng, ((k + 1) * n) as usize, 1.0), k + 1, n),
    ];
    let layer = |x: &[Vec<f64>]| {
        dense_fwd(
            Layer::new(k as usize, n as usize, 3, 0.0),
            &x[0],
            rows as usize,
            &x[1],
        )
    };
    for (kind, mse) in [(RowError::SquaredL2, false), (RowError::Mse, true)] {
        for how in ["alone", "twice", "beside a sum"] {
            let tg = tg.clone();
            let build = move |tape: &mut Tape, t: &[Tensor]| {
                let y = tape.dense(&t[0], &DenseParams::new(t[1].clone())?, Act::Tanh)?;
                let (_, loss) = tape.row_error_mean(&y, &tg, kind, loss_rows)?;
                Ok(match how {
                    "alone" => vec![loss],
                    "twice" => vec![loss.clone(), loss],
                    _ => vec![loss, tape.sum(&y)?],
                })
            };
            let tw = tw.clone();
            let f = move |x: &[Vec<f64>]| {
                let y = layer(x);
                let e = row_err(&y, &tw, n as usize, mse);
                let mean = e[..loss_rows as usize].iter().sum::<f64>() / f64::from(loss_rows);
                match how {
                    "alone" => mean,
                    "twice" => 2.0 * mean,
                    _ => mean + y.iter().sum::<f64>(),
                }
            };
            check_all(
                &gpu,
                &format!("row_error_mean {kind:?} {how}"),
                &inputs,
                &build,
                &f,
            );
        }
    }
    for how in ["alone", "twice", "beside a sum"] {
        let gc = gc.clone();
        let build = move |tape: &mut Tape, t: &[Tensor]| {
            let z = tape.dense(&t[0], &DenseParams::new(t[1].clone())?, Act::Tanh)?;
            let (_, loss) = tape.softmax_ce_mean(&z, &gc, 0, loss_rows)?;
            Ok(match how {
                "alone" => vec![loss],
                "twice" => vec![loss.clone(), loss],
                _ => vec![loss, tape.sum(&z)?],
            })
        };
        let cls = cls.clone();
        let f = move |x: &[Vec<f64>]| {
            let z = layer(x);
            let ce: f64 = z
                .chunks(n as usize)
                .zip(&cls)
                .take(loss_rows as usize)
                .map(|(row, &ci)| {
                    let m = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                    m + row.iter().map(|v| (v - m).exp()).sum::<f64>().ln() - row[ci as usize]
                })
                .sum();
            let mean = ce / f64::from(loss_rows);
            match how {
                "alone" => mean,
                "twice" => 2.0 * mean,
                _ => mean + z.iter().sum::<f64>(),
            }
        };
        check_all(&gpu, &format!("softmax_ce_mean {how}"), &inputs, &build, &f);
    }
}

/// A loss over the first rows leaves every gradient below it zero past those rows: the dense
/// layers then do only those rows' work and leave the rest unwritten (`backward_leading`).
/// Checked through two layers, two branches covering different rows (in both orders), beside
/// a sum recorded before and after the layer, and into an op that needs the zeros written
/// (concat), against finite differences with every gradient poisoned.
#[test]
fn gradients_zero_past_the_loss_rows_reach_every_consumer() {
    let gpu = gpu();
    let mut rng = rng();
    let (rows, k, m, n, k2) = (7usize, 3usize, 4usize, 5usize, 2usize);
    let target = randn(&mut rng, rows * n, 1.0);
    let tg = Tensor::from_slice(&gpu, &target, rows as u32, n as u32, "target").unwrap();
    let tw = wide(&target);
    let detached = randn(&mut rng, rows * k2, 1.0);
    let dt = Tensor::from_slice(&gpu, &detached, rows as u32, k2 as u32, "detached").unwrap();
    let dw = wide(&detached);
    let mut input = |r: usize, c: usize| (randn(&mut rng, r * c, 1.0), r as u32, c as u32);
    let x = input(rows, k);
    let w1 = input(k + 1, m);
    let w2 = input(m + 1, n);
    let w3 = input(m + 1, n);
    let xc = input(rows, m - k2);
    let tanh = |kk: usize, nn: usize| Layer::new(kk, nn, 3, 0.0);
    let mean_err =
        |y: &[f64], r: usize| row_err(y, &tw, n, false)[..r].iter().sum::<f64>() / r as f64;
    for case in [
        "chain",
        "branches 2 then 5",
        "branches 5 then 2",
        "sum after",
        "sum before",
    ] {
        let (tg, r1, r2) = (tg.clone(), 3u32, 5u32);
        let (ra, rb) = if case == "branches 5 then 2" {
            (r2, 2)
        } else {
            (2, r2)
        };
        let build = move |tape: &mut Tape, t: &[Tensor]| {
            let dense = |tape: &mut Tape, x: &Tensor, w: &Tensor| {
                tape.dense(x, &DenseParams::new(w.clone())?, Act::Tanh)
            };
            let h = dense(tape, &t[0], &t[1])?;
            let before = if case == "sum before" {
                Some(tape.sum(&h)?)
            } else {
                None
            };
            let y = dense(tape, &h, &t[2])?;
            Ok(match case {
                "chain" => vec![tape.row_error_mean(&y, &tg, RowError::SquaredL2, r1)?.1],
                "sum after" | "sum before" => {
                    let l = tape.row_error_mean(&y, &tg, RowError::SquaredL2, r1)?.1;
                    let s = match before {
                        Some(s) => s,
                        None => tape.sum(&h)?,
                    };
                    vec![l, s]
                }
                _ => {
                    let y2 = dense(tape, &h, &t[3])?;
                    let la = tape.row_error_mean(&y, &tg, RowError::SquaredL2, ra)?.1;
                    let lb = tape.row_error_mean(&y2, &tg, RowError::SquaredL2, rb)?.1;
                    vec![la, lb]
                }
            })
        };
        let f = move |p: &[Vec<f64>]| {
            let h = dense_fwd(tanh(k, m), &p[0], rows, &p[1]);
            let y = dense_fwd(tanh(m, n), &h, rows, &p[2]);
            match case {
                "chain" => mean_err(&y, r1 as usize),
                "sum after" | "sum before" => mean_err(&y, r1 as usize) + h.iter().sum::<f64>(),
                _ => {
                    let y2 = dense_fwd(tanh(m, n), &h, rows, &p[3]);
                    mean_err(&y, ra as usize) + mean_err(&y2, rb as usize)
                }
            }
        };
        let mut inputs = vec![x.clone(), w1.clone(), w2.clone()];
        if case.starts_with("branches") {
            inputs.push(w3.clone());
        }
        check_all(&gpu, &format!("leading rows: {case}"), &inputs, &build, &f);
    }
    let build = move |tape: &mut Tape, t: &[Tensor]| {
        let h = tape.concat_cols(&[(&t[0], true), (&dt, false)])?;
        let y = tape.dense(&h, &DenseParams::new(t[1].clone())?, Act::Tanh)?;
        Ok(vec![
            tape.row_error_mean(&y, &tg, RowError::SquaredL2, 3)?.1,
        ])
    };
    let f = move |p: &[Vec<f64>]| {
        let h: Vec<f64> = (0..rows)
            .flat_map(|r| {
                let own = &p[0][r * (m - k2)..(r + 1) * (m - k2)];
                own.iter()
                    .chain(&dw[r * k2..(r + 1) * k2])
                    .copied()
                    .collect::<Vec<_>>()
            })
            .collect();
        mean_err(&dense_fwd(tanh(m, n), &h, rows, &p[1]), 3)
    };
    check_all(&gpu, "leading rows: into concat", &[xc, w2], &build, &f);
}

#[test]
fn vae_latent_sampled_and_at_the_mean() {
    let gpu = gpu();
    let mut rng = rng();
    let (rows, k, latent, seed, beta) = (5u32, 3u32, 2u32, 41u32, 0.6f32);
    let two = 2 * latent;
    let target = randn(&mut rng, (rows * latent) as usize, 1.0);
    let tg = Tensor::from_slice(&gpu, &target, rows, latent, "target").unwrap();
    let tw = wide(&target);
    // h = x W + b, then the latent: the loss's gradient reaches W and x through both rules.
    let f64_parts = |x: &[Vec<f64>], sample: bool| {
        let h = dense_fwd(
            Layer::new(k as usize, two as usize, 0, 0.0),
            &x[0],
            rows as usize,
            &x[1],
        );
        let (mut rec, mut kl) = (0.0, 0.0);
        for i in 0..rows as usize {
            for j in 0..latent as usize {
                let (mu, lv) = (
                    h[i * two as usize + j],
                    h[i * two as usize + latent as usize + j],
                );
                let e = (i * latent as usize + j) as u32;
                let eps = if sample {
                    rng_gauss(seed, 0, oddity::ops::vae::TAG_VAE, e)
                } else {
                    0.0
                };
                let z = mu + (0.5 * lv).exp() * eps;
                rec += (z - tw[i * latent as usize + j]).powi(2);
                kl += -0.5 * f64::from(beta) * (1.0 + lv - mu * mu - lv.exp());
            }
        }
        (rec / f64::from(rows), kl / f64::from(rows))
    };
    let inputs = [
        (randn(&mut rng, (rows * k) as usize, 1.0), rows, k),
        (randn(&mut rng, ((k + 1) * two) as usize, 0.7), k + 1, two),
    ];
    for sample in [true, false] {
        let tg = tg.clone();
        let build = move |tape: &mut Tape, t: &[Tensor]| {
            let h = tape.dense(&t[0], &DenseParams::new(t[1].clone())?, Act::Identity)?;
            let lat = tape.gaussian_latent(&h, sample.then_some(seed), beta)?;
            let e = tape.row_error(&lat.z, &tg, RowError::SquaredL2)?;
            Ok(vec![tape.mean(&e)?, tape.mean(&lat.kl)?])
        };
        let f = |x: &[Vec<f64>]| {
            let (rec, kl) = f64_parts(x, sample);
            rec + kl
        };
        let name = format!("dense + gaussian latent (sample {sample}) + sqL2 + KL");
        check_all(&gpu, &name, &inputs, &build, &f);
    }
    // The KL term alone: z takes no gradient, and the KL rule writes h's gradient first.
    let build = move |tape: &mut Tape, t: &[Tensor]| {
        let h = tape.dense(&t[0], &DenseParams::new(t[1].clone())?, Act::Identity)?;
        let lat = tape.gaussian_latent(&h, Some(seed), beta)?;
        tape.mean(&lat.kl)
    };
    check(&gpu, "dense + KL only", &inputs, &build, &|x| {
        f64_parts(x, true).1
    });
}

#[test]
fn gaussian_nll_reaches_the_errors_and_the_log_variance() {
    let gpu = gpu();
    let mut rng = rng();
    let (rows, k, n) = (6u32, 3u32, 4u32);
    let target = randn(&mut rng, (rows * n) as usize, 1.0);
    let tg = Tensor::from_slice(&gpu, &target, rows, n, "target").unwrap();
    let tw = wide(&target);
    let build = move |tape: &mut Tape, t: &[Tensor]| {
        let y = tape.dense(&t[0], &DenseParams::new(t[1].clone())?, Act::Tanh)?;
        let e = tape.row_error(&y, &tg, RowError::SquaredL2)?;
        let nll = tape.gaussian_nll(&e, &t[2], n)?;
        tape.mean(&nll)
    };
    let f = move |x: &[Vec<f64>]| {
        let y = dense_fwd(
            Layer::new(k as usize, n as usize, 3, 0.0),
            &x[0],
            rows as usize,
            &x[1],
        );
        let s = x[2][0];
        row_err(&y, &tw, n as usize, false)
            .iter()
            .map(|e| 0.5 * (e * (-s).exp() + f64::from(n) * s))
            .sum::<f64>()
            / f64::from(rows)
    };
    let inputs = [
        (randn(&mut rng, (rows * k) as usize, 1.0), rows, k),
        (randn(&mut rng, ((k + 1) * n) as usize, 1.0), k + 1, n),
        (vec![-0.7], 1, 1),
    ];
    check(&gpu, "dense + sqL2 + Gaussian NLL", &inputs, &build, &f);
}

/// A dense layer without a bias (Deep SVDD): its parameter is W alone.
#[test]
fn dense_without_bias_then_squared_error_mean() {
    let gpu = gpu();
    let mut rng = rng();
    let (rows, k, n) = (7u32, 5u32, 3u32);
    for act in [Act::Relu, Act::Identity, Act::Tanh] {
        let target = randn(&mut rng, (rows * n) as usize, 1.0);
        let tg = Tensor::from_slice(&gpu, &target, rows, n, "target").unwrap();
        let tw = wide(&target);
        let build = move |tape: &mut Tape, t: &[Tensor]| {
            let y = tape.dense(&t[0], &DenseParams::without_bias(t[1].clone())?, act)?;
            let e = tape.row_error(&y, &tg, RowError::SquaredL2)?;
            tape.mean(&e)
        };
        let f = move |x: &[Vec<f64>]| {
            // The f64 layer with a zero bias row.
            let mut w = x[1].clone();
            w.extend(vec![0.0; n as usize]);
            let y = dense_fwd(
                Layer::new(k as usize, n as usize, act.code(), f64::from(act.alpha())),
                &x[0],
                rows as usize,
                &w,
            );
            let e = row_err(&y, &tw, n as usize, false);
            e.iter().sum::<f64>() / f64::from(rows)
        };
        let inputs = [
            (randn(&mut rng, (rows * k) as usize, 1.0), rows, k),
            (randn(&mut rng, (k * n) as usize, 1.0), k, n),
        ];
        check(
            &gpu,
            &format!("dense {act:?} without bias"),
            &inputs,
            &build,
            &f,
        );
    }
}

/// The one-class SVM's primal objective after a bias-free dense layer, `J(phi w, w, rho)`:
/// gradients to the features, the weights and rho, with w and rho views of one buffer (as in
/// a model's arena) and their gradients views of another, poisoned.
#[test]
fn ocsvm_primal_objective_after_a_dense_layer() {
    let gpu = gpu();
    let mut rng = rng();
    for &(rows, d, nu) in &[(1u32, 1u32, 0.5f32), (9, 5, 0.2), (300, 37, 0.9)] {
        let phi = randn(&mut rng, (rows * d) as usize, 1.0);
        // rho inside the spread of u, so that some rows are in the hinge and some are not.
        let mut model = randn(&mut rng, d as usize, 0.5);
        model.push(0.1);
        let pt = Tensor::from_slice(&gpu, &phi, rows, d, "phi").unwrap();
        let pg = Tensor::from_slice(&gpu, &vec![f32::NAN; phi.len()], rows, d, "dphi").unwrap();
        let mt = Tensor::from_slice(&gpu, &model, 1, d + 1, "model").unwrap();
        let mg =
            Tensor::from_slice(&gpu, &vec![f32::NAN; model.len()], 1, d + 1, "dmodel").unwrap();
        let view = |t: &Tensor, at: u32, n: u32| Tensor::view(t.buffer(), at, n, 1).unwrap();
        let (w, rho, gw, grho) = (
            view(&mt, 0, d),
            view(&mt, d, 1),
            view(&mg, 0, d),
            view(&mg, d, 1),
        );
        let state = StepState::new(&gpu).unwrap();
        let mut tape = Tape::new(&gpu, &state);
        tape.param(&pt, &pg).unwrap();
        tape.param(&w, &gw).unwrap();
        tape.param(&rho, &grho).unwrap();
        let u = tape
            .dense(
                &pt,
                &DenseParams::without_bias(w.clone()).unwrap(),
                Act::Identity,
            )
            .unwrap();
        let loss = tape.ocsvm_primal(&u, &w, &rho, nu).unwrap();
        tape.backward(&loss).unwrap();
        tape.finish().unwrap().run(2).unwrap();
        let f = |phi: &[f64], model: &[f64]| {
            let (dn, rn) = (d as usize, rows as usize);
            let u: Vec<f64> = (0..rn)
                .map(|i| (0..dn).map(|j| phi[i * dn + j] * model[j]).sum())
                .collect();
            primal_loss(&u, &model[..dn], model[dn], f64::from(nu))
        };
        let (p64, m64) = (wide(&phi), wide(&model));
        let got = f64::from(loss.read(&gpu).unwrap()[0]);
        let want = f(&p64, &m64);
        assert!(
            (got - want).abs() <= 1e-5 * want.abs().max(1.0),
            "loss {got} vs {want}"
        );
        let fd = |x: &[f64], which: usize| -> Vec<f64> {
            (0..x.len())
                .map(|j| {
                    let h = 1e-6 * x[j].abs().max(1.0);
                    let (mut a, mut b) = (x.to_vec(), x.to_vec());
                    a[j] += h;
                    b[j] -= h;
                    let (la, lb) = match which {
                        0 => (f(&a, &m64), f(&b, &m64)),
                        _ => (f(&p64, &a), f(&p64, &b)),
                    };
                    (la - lb) / (2.0 * h)
                })
                .collect()
        };
        for (name, g, want) in [("phi", &pg, fd(&p64, 0)), ("w and rho", &mg, fd(&m64, 1))] {
            let e = rel_err(&g.read(&gpu).unwrap(), &want);
            eprintln!("ocsvm primal {rows}x{d}: {name} rel err {e:.2e}");
            assert!(e < 1e-4, "ocsvm primal {rows}x{d}: gradient of {name}: {e}");
        }
    }
}
