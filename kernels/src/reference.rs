//! f64 CPU twins of every kernel, under the kernel's name, taking the same parameter structs.
//! Inputs are the f32 values the GPU sees, widened; outputs are f64, so a test measures the
//! GPU's f32 error against an (almost) exact answer. The RNG functions are bit-exact copies of
//! `shaders/shared/rng.wgsl`.

use crate::params::*;

mod angle;
mod conv;
mod dropout;
mod gmm;
mod gmmdiag;
mod head;
mod iforest;
mod kmeans;
mod lstm;
mod ocsvm;
mod pca;
mod select;
mod vae;
pub use angle::*;
pub use conv::*;
pub use dropout::*;
pub use gmm::*;
pub use gmmdiag::*;
pub use head::*;
pub use iforest::*;
pub use kmeans::*;
pub use lstm::*;
pub use ocsvm::*;
pub use pca::*;
pub use select::*;
pub use vae::*;

pub fn rng_hash(v: u32) -> u32 {
    let mut x = v;
    x ^= x >> 16;
    x = x.wrapping_mul(0x7feb_352d);
    x ^= x >> 15;
    x = x.wrapping_mul(0x846c_a68b);
    x ^= x >> 16;
    x
}

pub fn rng_u32(seed: u32, step: u32, tag: u32, i: u32) -> u32 {
    let k = rng_hash(rng_hash(rng_hash(seed ^ 0x9e37_79b9) ^ step) ^ tag);
    rng_hash(k ^ rng_hash(i))
}

/// The uniform the shader computes (an f32 value, exactly representable), as f64.
pub fn rng_unit(r: u32) -> f64 {
    ((r >> 8) as f64 + 0.5) / 16_777_216.0
}

pub fn rng_gauss(seed: u32, step: u32, tag: u32, i: u32) -> f64 {
    let u1 = rng_unit(rng_u32(seed, step, tag, 2 * i));
    let u2 = rng_unit(rng_u32(seed, step, tag, 2 * i + 1));
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// Tags of the RNG streams (as in the shaders).
pub const TAG_BATCH: u32 = 1;
pub const TAG_NOISE: u32 = 2;
/// A denoising autoencoder's noise added after its columns are standardised.
pub const TAG_STANDARDISED_NOISE: u32 = 6;

pub fn act_apply(code: u32, alpha: f64, z: f64) -> f64 {
    match code {
        1 => z.max(0.0),
        2 => {
            if z > 0.0 {
                z
            } else {
                alpha * z
            }
        }
        3 => z.tanh(),
        4 => 1.0 / (1.0 + (-z).exp()),
        _ => z,
    }
}

pub fn act_grad_from_y(code: u32, alpha: f64, y: f64) -> f64 {
    match code {
        1 => f64::from(u8::from(y > 0.0)),
        2 => {
            if y > 0.0 {
                1.0
            } else {
                alpha
            }
        }
        3 => 1.0 - y * y,
        4 => y * (1.0 - y),
        _ => 1.0,
    }
}

pub(crate) fn at(buf: &[f64], i: u32) -> f64 {
    buf[i as usize]
}

/// `gemm.wgsl::gemm`.
pub fn gemm(p: &GemmParams, a: &[f64], a_aux: &[f64], b: &[f64], b_aux: &[f64], c: &mut [f64]) {
    let alpha = f64::from(p.alpha);
    let load_a = |m: u32, k: u32| {
        if m == p.a_ones_row {
            return 1.0;
        }
        let rel = m * p.a_rs + k * p.a_cs;
        let v = at(a, p.a_off + rel);
        if p.a_mode == 1 {
            v * act_grad_from_y(p.dact, alpha, at(a_aux, p.a_aux_off + rel))
        } else {
            v
        }
    };
    let load_b = |k: u32, n: u32| {
        let rel = k * p.b_rs + n * p.b_cs;
        let v = at(b, p.b_off + rel);
        if p.b_mode == 1 {
            v * act_grad_from_y(p.dact, alpha, at(b_aux, p.b_aux_off + rel))
        } else {
            v
        }
    };
    for m in 0..p.m {
        for n in 0..p.n {
            let mut s = 0.0;
            for k in 0..p.k {
                s += load_a(m, k) * load_b(k, n);
            }
            if p.bias_off != NONE {
                s += at(b, p.bias_off + n);
            }
            let mut v = act_apply(p.act, alpha, s);
            let ci = (p.c_off + m * p.ldc + n) as usize;
            if p.accumulate != 0 {
                v += c[ci];
            }
            c[ci] = v;
        }
    }
}

fn rowerr_scale(p: &RowErrParams) -> f64 {
    if p.mse != 0 {
        1.0 / f64::from(p.cols)
    } else {
        1.0
    }
}

/// `rowerr.wgsl::rowerr_fwd`; with `d_off != NONE` also the gradient of `g_scale` times the
/// sum of the first `d_rows` rows' errors into `dpred` (0 for the other rows).
pub fn rowerr_fwd(
    p: &RowErrParams,
    pred: &[f64],
    target: &[f64],
    out: &mut [f64],
    dpred: &mut [f64],
) {
    for i in 0..p.rows {
        let mut s = 0.0;
        for j in 0..p.cols {
            let e = i * p.cols + j;
            let d = at(pred, p.pred_off + e) - at(target, p.target_off + e);
            s += d * d;
            if p.d_off != NONE {
                dpred[(p.d_off + e) as usize] = if i < p.d_rows {
                    f64::from(p.g_scale) * 2.0 * rowerr_scale(p) * d
                } else {
                    0.0
                };
            }
        }
        out[(p.out_off + i) as usize] = s * rowerr_scale(p);
    }
}

/// `rowerr.wgsl::rowerr_bwd`.
pub fn rowerr_bwd(p: &RowErrParams, pred: &[f64], target: &[f64], g: &[f64], out: &mut [f64]) {
    for e in 0..p.rows * p.cols {
        let mut gi = f64::from(p.g_scale);
        if p.g_off != NONE {
            gi *= at(g, p.g_off + e / p.cols);
        }
        let mut v =
            gi * 2.0 * rowerr_scale(p) * (at(pred, p.pred_off + e) - at(target, p.target_off + e));
        let oi = (p.out_off + e) as usize;
        if p.accumulate != 0 {
            v += out[oi];
        }
        out[oi] = v;
    }
}

fn bce_weight(p: &BceParams, mask: &[f64], i: u32) -> f64 {
    if p.mask_off == NONE {
        1.0
    } else {
        at(mask, p.mask_off + i)
    }
}

fn bce_count(p: &BceParams, mask: &[f64]) -> f64 {
    (0..p.rows)
        .map(|i| bce_weight(p, mask, i))
        .sum::<f64>()
        .max(1.0)
}

/// `bce.wgsl::bce_fwd`.
pub fn bce_fwd(p: &BceParams, z: &[f64], y: &[f64], mask: &[f64], out: &mut [f64]) {
    let mut s = 0.0;
    for i in 0..p.rows {
        let zi = at(z, p.z_off + i);
        let l = zi.max(0.0) - zi * at(y, p.y_off + i) + (-zi.abs()).exp().ln_1p();
        s += bce_weight(p, mask, i) * l;
    }
    out[p.out_off as usize] = s / bce_count(p, mask);
}

/// `bce.wgsl::bce_bwd`.
pub fn bce_bwd(p: &BceParams, z: &[f64], y: &[f64], mask: &[f64], g: &[f64], out: &mut [f64]) {
    let count = bce_count(p, mask);
    let mut gs = f64::from(p.g_scale);
    if p.g_off != NONE {
        gs *= at(g, p.g_off);
    }
    for i in 0..p.rows {
        let zi = at(z, p.z_off + i);
        let sig = 1.0 / (1.0 + (-zi).exp());
        let mut v = gs * bce_weight(p, mask, i) * (sig - at(y, p.y_off + i)) / count;
        let oi = (p.out_off + i) as usize;
        if p.accumulate != 0 {
            v += out[oi];
        }
        out[oi] = v;
    }
}

/// `reduce.wgsl::reduce_sum`.
pub fn reduce_sum(p: &ReduceParams, x: &[f64], out: &mut [f64]) {
    let s: f64 = (0..p.n).map(|i| at(x, p.x_off + i)).sum();
    out[p.out_off as usize] = s * f64::from(p.scale);
}

/// `gather.wgsl::sample_rows`: returns the drawn row indices too.
pub fn sample_rows(
    p: &GatherParams,
    data: &[f64],
    step: u32,
    out: &mut [f64],
    noisy: &mut [f64],
) -> Vec<u32> {
    let rows: Vec<u32> = (0..p.rows)
        .map(|i| rng_u32(p.seed, step, TAG_BATCH, i) % p.n_data)
        .collect();
    for e in 0..p.rows * p.cols {
        let (i, j) = (e / p.cols, e % p.cols);
        let v = at(data, p.data_off + rows[i as usize] * p.cols + j);
        out[(p.out_off + e) as usize] = v;
        if p.noisy_off != NONE {
            noisy[(p.noisy_off + e) as usize] =
                v + f64::from(p.noise_std) * rng_gauss(p.seed, step, TAG_NOISE, e);
        }
    }
    rows
}

/// `gather.wgsl::gather_rows`.
pub fn gather_rows(p: &GatherParams, data: &[f64], idx: &[u32], out: &mut [f64]) {
    for e in 0..p.rows * p.cols {
        let r = idx[(p.idx_off + e / p.cols) as usize];
        out[(p.out_off + e) as usize] = if r < p.n_data {
            at(data, p.data_off + r * p.cols + e % p.cols)
        } else {
            f64::NAN
        };
    }
}

/// `noise.wgsl::gauss_noise`.
pub fn gauss_noise(p: &NoiseParams, x: &[f64], step: u32, out: &mut [f64]) {
    for i in 0..p.n {
        out[(p.out_off + i) as usize] =
            at(x, p.x_off + i) + f64::from(p.sigma) * rng_gauss(p.seed, step, p.tag, i);
    }
}

/// `optim.wgsl::optim_step`; `step` is the state counter before `advance` (Adam's t = step + 1).
pub fn optim_step(p: &OptimParams, grad: &[f64], step: u32, param: &mut [f64], opt: &mut [f64]) {
    let (lr, b1, b2, eps) = (
        f64::from(p.lr),
        f64::from(p.beta1),
        f64::from(p.beta2),
        f64::from(p.eps),
    );
    let (first, n, total) = (p.first as usize, p.n as usize, p.total as usize);
    for i in first..first + n {
        let g = grad[i];
        match p.kind {
            1 => {
                opt[i] = b1 * opt[i] + g;
                param[i] -= lr * opt[i];
            }
            2 => {
                opt[i] = b2 * opt[i] + (1.0 - b2) * g * g;
                param[i] -= lr * g / (opt[i].sqrt() + eps);
            }
            3 => {
                let t = f64::from(step + 1);
                opt[i] = b1 * opt[i] + (1.0 - b1) * g;
                opt[total + i] = b2 * opt[total + i] + (1.0 - b2) * g * g;
                let mhat = opt[i] / (1.0 - b1.powf(t));
                let vhat = opt[total + i] / (1.0 - b2.powf(t));
                param[i] -= lr * mhat / (vhat.sqrt() + eps);
            }
            _ => param[i] -= lr * g,
        }
    }
}

/// `step.wgsl::fill`.
pub fn fill(p: &FillParams, out: &mut [f64]) {
    for i in 0..p.n {
        let oi = (p.out_off + i) as usize;
        let base = if p.accumulate != 0 { out[oi] } else { 0.0 };
        out[oi] = base + f64::from(p.value);
    }
}

/// `step.wgsl::axpy`.
pub fn axpy(p: &AxpyParams, x: &[f64], out: &mut [f64]) {
    for i in 0..p.n {
        let oi = (p.out_off + i) as usize;
        let base = if p.accumulate != 0 { out[oi] } else { 0.0 };
        out[oi] = base + f64::from(p.a) * at(x, p.x_off + i);
    }
}

/// `topk.wgsl`'s order-preserving key of an f32 score; 0 for NaN.
pub fn order_key(s: f32) -> u32 {
    if s.is_nan() {
        return 0;
    }
    let b = s.to_bits();
    if b & 0x8000_0000 != 0 {
        !b
    } else {
        b | 0x8000_0000
    }
}

/// The score an order key came from.
pub fn key_score(key: u32) -> f32 {
    f32::from_bits(if key & 0x8000_0000 != 0 {
        key & 0x7fff_ffff
    } else {
        !key
    })
}

/// `topk.wgsl` end to end: the k best (index, score) of the rows not excluded (`mask[i] != 0`)
/// and not NaN, best first: score descending, ties by lower index. Fewer when fewer qualify.
pub fn top_k(scores: &[f32], mask: Option<&[u32]>, k: usize) -> Vec<(u32, f32)> {
    let mut eligible: Vec<(u32, u32)> = scores
        .iter()
        .enumerate()
        .filter(|&(i, s)| !s.is_nan() && mask.is_none_or(|m| m[i] == 0))
        .map(|(i, &s)| (order_key(s), i as u32))
        .collect();
    eligible.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    eligible
        .into_iter()
        .take(k)
        .map(|(key, i)| (i, key_score(key)))
        .collect()
}

/// `topk.wgsl::topk_logits`: for each of the first `p.k` pairs (key, index) at `p.p_off`,
/// `scores[p.s_off + index]` into `logits[p.o_off + i]`, 0 where the key is 0 (no candidate)
/// or the index is not below `p.n`.
pub fn topk_logits(p: &TopKParams, pairs: &[[u32; 2]], scores: &[f64], logits: &mut [f64]) {
    for i in 0..p.k as usize {
        let [key, row] = pairs[p.p_off as usize + i];
        logits[p.o_off as usize + i] = if key != 0 && row < p.n {
            scores[(p.s_off + row) as usize]
        } else {
            0.0
        };
    }
}

pub const TAG_LABELLED: u32 = 3;
pub const TAG_LABELLED_NOISE: u32 = 4;

/// `gather.wgsl::sample_labelled`: fills `out`, `noisy` (`batch + rows` rows each) and `ym`;
/// returns each output row's data row.
#[allow(clippy::too_many_arguments)]
pub fn sample_labelled(
    p: &LabelledParams,
    data: &[f64],
    lab: &[u32],
    step: u32,
    out: &mut [f64],
    noisy: &mut [f64],
    ym: &mut [f64],
) -> Vec<u32> {
    let count = lab[0].min(p.cap);
    let mut picks: Vec<u32> = (0..p.batch)
        .map(|i| rng_u32(p.seed, step, TAG_BATCH, i) % p.n_data)
        .collect();
    for t in 0..p.rows {
        let (row, y) = if count > 0 {
            let r = rng_u32(p.seed, step, TAG_LABELLED, t) % count;
            (
                lab[(1 + r) as usize],
                f64::from(lab[(1 + p.cap + r) as usize]),
            )
        } else {
            (0, 0.0)
        };
        picks.push(row);
        ym[(p.y_off + t) as usize] = y;
        ym[(p.m_off + t) as usize] = if count > 0 { 1.0 } else { 0.0 };
    }
    for e in 0..(p.batch + p.rows) * p.cols {
        let (i, j) = (e / p.cols, e % p.cols);
        let v = at(data, p.data_off + picks[i as usize] * p.cols + j);
        out[(p.out_off + e) as usize] = v;
        if p.noisy_off != NONE {
            let (tag, k) = if i < p.batch {
                (TAG_NOISE, e)
            } else {
                (TAG_LABELLED_NOISE, e - p.batch * p.cols)
            };
            noisy[(p.noisy_off + e) as usize] =
                v + f64::from(p.noise_std) * rng_gauss(p.seed, step, tag, k);
        }
    }
    if p.c_off != NONE {
        ym[p.c_off as usize] = f64::from(count);
    }
    picks
}

/// `step.wgsl::copy_cols`.
pub fn copy_cols(p: &CopyColsParams, x: &[f64], out: &mut [f64]) {
    for r in 0..p.rows {
        for j in 0..p.width {
            let oi = (p.o_off + r * p.o_ld + j) as usize;
            let base = if p.accumulate != 0 { out[oi] } else { 0.0 };
            out[oi] = base + at(x, p.x_off + r * p.x_ld + j);
        }
    }
}

fn logsumexp(z: &[f64]) -> f64 {
    let m = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    m + z.iter().map(|v| (v - m).exp()).sum::<f64>().ln()
}

/// `softmax_ce.wgsl::ce_fwd`.
/// With `d_off != NONE` also the gradient of `g_scale` times the sum of the first `d_rows`
/// rows' losses into `dz` (0 for the other rows).
pub fn ce_fwd(p: &CeParams, z: &[f64], cls: &[u32], out: &mut [f64], dz: &mut [f64]) {
    for i in 0..p.rows {
        let base = (p.z_off + i * p.cols) as usize;
        let row = &z[base..base + p.cols as usize];
        let c = cls[(p.cls_off + i) as usize];
        out[(p.out_off + i) as usize] = if c < p.cols {
            logsumexp(row) - row[c as usize]
        } else {
            f64::NAN
        };
        if p.d_off != NONE {
            for j in 0..p.cols {
                dz[(p.d_off + i * p.cols + j) as usize] = if i < p.d_rows {
                    f64::from(p.g_scale) * ce_slope(row, c, j)
                } else {
                    0.0
                };
            }
        }
    }
}

/// d CE / d z_j = softmax_j - [j == c].
fn ce_slope(row: &[f64], c: u32, j: u32) -> f64 {
    (row[j as usize] - logsumexp(row)).exp() - if j == c { 1.0 } else { 0.0 }
}

/// `softmax_ce.wgsl::ce_bwd`.
pub fn ce_bwd(p: &CeParams, z: &[f64], cls: &[u32], g: &[f64], out: &mut [f64]) {
    for i in 0..p.rows {
        let base = (p.z_off + i * p.cols) as usize;
        let row = &z[base..base + p.cols as usize];
        let c = cls[(p.cls_off + i) as usize];
        let mut gi = f64::from(p.g_scale);
        if p.g_off != NONE {
            gi *= at(g, p.g_off + i);
        }
        for j in 0..p.cols {
            let o = (p.out_off + i * p.cols + j) as usize;
            let base_v = if p.accumulate != 0 { out[o] } else { 0.0 };
            out[o] = base_v + gi * ce_slope(row, c, j);
        }
    }
}

/// `binloss.wgsl`'s clamp of the ABC loss's argument.
pub const BINLOSS_V_MIN: f64 = 1e-12;

/// `binloss.wgsl`: (loss, d loss / d v) of one row, y = 1 normal, 0 known anomaly.
pub fn binloss_row(kind: u32, v: f64, y: u32) -> (f64, f64) {
    if y > 1 {
        return (f64::NAN, f64::NAN);
    }
    let y = f64::from(y);
    match kind {
        0 => {
            let x = v.max(BINLOSS_V_MIN);
            // log(1 - e^-x): log(-expm1(-x)) below ln 2, log1p(-e^-x) above (no cancellation).
            let neg_log1mexp = if x < std::f64::consts::LN_2 {
                -(-(-x).exp_m1()).ln()
            } else {
                -(-(-x).exp()).ln_1p()
            };
            (y * x + (1.0 - y) * neg_log1mexp, y - (1.0 - y) / x.exp_m1())
        }
        1 => (y * v - (1.0 - y) * v, 2.0 * y - 1.0),
        _ => {
            let softplus = v.max(0.0) + (-v.abs()).exp().ln_1p();
            let sig = |z: f64| 1.0 / (1.0 + (-z).exp());
            // sigmoid(v) - (1 - y) without cancellation.
            (softplus - (1.0 - y) * v, y * sig(v) - (1.0 - y) * sig(-v))
        }
    }
}

/// `binloss.wgsl::binloss_fwd`.
pub fn binloss_fwd(p: &BinLossParams, v: &[f64], y: &[u32], out: &mut [f64]) {
    for i in 0..p.rows {
        out[(p.out_off + i) as usize] =
            binloss_row(p.kind, at(v, p.v_off + i), y[(p.y_off + i) as usize]).0;
    }
}

/// `binloss.wgsl::binloss_bwd`.
pub fn binloss_bwd(p: &BinLossParams, v: &[f64], y: &[u32], g: &[f64], out: &mut [f64]) {
    for i in 0..p.rows {
        let oi = (p.out_off + i) as usize;
        let gi = f64::from(p.g_scale)
            * if p.g_off == NONE {
                1.0
            } else {
                at(g, p.g_off + i)
            };
        let base = if p.accumulate != 0 { out[oi] } else { 0.0 };
        out[oi] = base + gi * binloss_row(p.kind, at(v, p.v_off + i), y[(p.y_off + i) as usize]).1;
    }
}
