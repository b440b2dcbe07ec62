//! f64 twins of `ocsvm.wgsl`.

use crate::params::{NONE, OcsvmParams, PrimalParams};

/// `sq_norms`.
pub fn ocsvm_sq_norms(p: &OcsvmParams, x: &[f64], out: &mut [f64]) {
    let d = p.cols as usize;
    for i in 0..p.rows as usize {
        let row = &x[p.x_off as usize + i * d..][..d];
        out[p.out_off as usize + i] = row.iter().map(|v| v * v).sum();
    }
}

/// `rbf`.
pub fn ocsvm_rbf(p: &OcsvmParams, g: &[f64], norms: &[f64], out: &mut [f64]) {
    let c = p.cols as usize;
    let gamma = f64::from(p.gamma);
    for e in 0..p.rows as usize * c {
        let (i, j) = (e / c, e % c);
        let d2 = norms[p.a_off as usize + i] + norms[p.b_off as usize + j]
            - 2.0 * g[p.g_off as usize + e];
        out[p.out_off as usize + e] = (-gamma * d2.max(0.0)).exp();
    }
}

/// `smo_init`: LIBSVM's starting multipliers into `state` at `al_off`, the status zeroed.
pub fn ocsvm_smo_init(p: &OcsvmParams, state: &mut [f64]) {
    let n = p.rows as usize;
    // The kernel's f32 arithmetic, so the split lands on the same index.
    let total = p.nu * p.rows as f32;
    let full = total.floor() as usize;
    for i in 0..n {
        state[p.al_off as usize + i] = match i.cmp(&full) {
            std::cmp::Ordering::Less => 1.0,
            std::cmp::Ordering::Equal => f64::from(total - full as f32),
            std::cmp::Ordering::Greater => 0.0,
        };
    }
    state[p.st_off as usize..][..4].fill(0.0);
}

/// LIBSVM's TAU: the curvature taken when `K_ii + K_jj - 2 K_ij` is not positive.
const TAU: f64 = 1e-12;

/// One iteration's choice: `i` the multiplier that can grow with the largest `-G` (`gmax`),
/// `j` the one that can shrink with the largest second-order gain (lowest index on ties), and
/// `gmax2` the largest `G` among those that can shrink.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SmoChoice {
    pub i: Option<usize>,
    pub gmax: f64,
    pub j: Option<usize>,
    pub gmax2: f64,
}

/// The second-order gain `b^2 / q` of pairing `t` with `i` (`b = gmax + G_t`), None when `t`
/// cannot shrink or `b <= 0`.
pub fn ocsvm_smo_gain(
    k: &dyn Fn(usize, usize) -> f64,
    alpha: &[f64],
    grad: &[f64],
    i: usize,
    gmax: f64,
    t: usize,
) -> Option<f64> {
    let b = gmax + grad[t];
    if alpha[t] <= 0.0 || b <= 0.0 {
        return None;
    }
    let mut q = k(i, i) + k(t, t) - 2.0 * k(i, t);
    if q <= 0.0 {
        q = TAU;
    }
    Some(b * b / q)
}

/// The working-set selection of `smo`.
pub fn ocsvm_smo_select(k: &dyn Fn(usize, usize) -> f64, alpha: &[f64], grad: &[f64]) -> SmoChoice {
    let n = alpha.len();
    let mut first: Option<(f64, usize)> = None;
    for t in 0..n {
        let v = -grad[t];
        if alpha[t] < 1.0 && first.is_none_or(|(b, _)| v > b) {
            first = Some((v, t));
        }
    }
    let gmax2 = (0..n)
        .filter(|&t| alpha[t] > 0.0)
        .map(|t| grad[t])
        .fold(f64::NEG_INFINITY, f64::max);
    let Some((gmax, i)) = first else {
        return SmoChoice {
            i: None,
            gmax: f64::NEG_INFINITY,
            j: None,
            gmax2,
        };
    };
    let mut second: Option<(f64, usize)> = None;
    for t in 0..n {
        if let Some(v) = ocsvm_smo_gain(k, alpha, grad, i, gmax, t)
            && second.is_none_or(|(s, _)| v > s)
        {
            second = Some((v, t));
        }
    }
    SmoChoice {
        i: Some(i),
        gmax,
        j: second.map(|(_, j)| j),
        gmax2,
    }
}

/// The update of the pair (i, j): the two new multipliers, clipped to the box with their sum
/// kept.
pub fn ocsvm_smo_update(
    k: &dyn Fn(usize, usize) -> f64,
    alpha: &[f64],
    grad: &[f64],
    i: usize,
    j: usize,
) -> (f64, f64) {
    let (ai, aj) = (alpha[i], alpha[j]);
    let mut q = k(i, i) + k(j, j) - 2.0 * k(i, j);
    if q <= 0.0 {
        q = TAU;
    }
    let delta = (grad[i] - grad[j]) / q;
    let sum = ai + aj;
    let (mut ni, mut nj) = (ai - delta, aj + delta);
    if sum > 1.0 {
        if ni > 1.0 {
            (ni, nj) = (1.0, sum - 1.0);
        }
    } else if nj < 0.0 {
        (ni, nj) = (sum, 0.0);
    }
    if sum > 1.0 {
        if nj > 1.0 {
            (ni, nj) = (sum - 1.0, 1.0);
        }
    } else if ni < 0.0 {
        (ni, nj) = (0.0, sum);
    }
    (ni, nj)
}

/// `smo`: the same solver in f64 on `kmat` (n x n at `k_off`), the multipliers, gradient and
/// status in `state` as the kernel keeps them.
pub fn ocsvm_smo(p: &OcsvmParams, kmat: &[f64], state: &mut [f64]) {
    let n = p.rows as usize;
    let (al, gr, st) = (p.al_off as usize, p.gr_off as usize, p.st_off as usize);
    if state[st] != 0.0 {
        return;
    }
    let k = |i: usize, j: usize| kmat[p.k_off as usize + i * n + j];
    for t in 0..n {
        state[gr + t] = (0..n).map(|u| k(t, u) * state[al + u]).sum();
    }
    let (mut it, mut converged) = (0u32, false);
    let mut gap;
    loop {
        let (alpha, grad) = (&state[al..][..n], &state[gr..][..n]);
        let c = ocsvm_smo_select(&k, alpha, grad);
        gap = c.i.map_or(0.0, |_| c.gmax + c.gmax2);
        let (Some(i), Some(j)) = (c.i, c.j) else {
            converged = true;
            break;
        };
        if gap < f64::from(p.eps) {
            converged = true;
            break;
        }
        if it >= p.iters {
            break;
        }
        let (ni, nj) = ocsvm_smo_update(&k, alpha, grad, i, j);
        let (di, dj) = (ni - state[al + i], nj - state[al + j]);
        state[al + i] = ni;
        state[al + j] = nj;
        for t in 0..n {
            state[gr + t] += k(t, i) * di + k(t, j) * dj;
        }
        it += 1;
    }
    state[st] = f64::from(u8::from(converged));
    state[st + 1] += f64::from(it);
    state[st + 2] = ocsvm_rho(&state[al..][..n], &state[gr..][..n]);
    state[st + 3] = gap;
}

/// LIBSVM's rho for one class: the mean gradient over the free multipliers, else the midpoint
/// of the bounds.
pub fn ocsvm_rho(alpha: &[f64], grad: &[f64]) -> f64 {
    let (mut sum, mut free) = (0.0, 0usize);
    let (mut lb, mut ub) = (f64::NEG_INFINITY, f64::INFINITY);
    for (&a, &g) in alpha.iter().zip(grad) {
        if a >= 1.0 {
            lb = lb.max(g);
        } else if a <= 0.0 {
            ub = ub.min(g);
        } else {
            sum += g;
            free += 1;
        }
    }
    if free > 0 {
        sum / free as f64
    } else {
        (lb + ub) / 2.0
    }
}

/// `decision`: `rho - sum_j a_j k(x_i, sv_j)`, from the Gram `g` of the rows with the support
/// rows, the support rows' squared `norms` and, in `model`, the multipliers and rho.
pub fn ocsvm_decision(
    p: &OcsvmParams,
    x: &[f64],
    g: &[f64],
    norms: &[f64],
    model: &[f64],
    out: &mut [f64],
) {
    let (d, n) = (p.cols as usize, p.sv as usize);
    let gamma = f64::from(p.gamma);
    for i in 0..p.rows as usize {
        let xx: f64 = x[p.x_off as usize + i * d..][..d]
            .iter()
            .map(|v| v * v)
            .sum();
        let s: f64 = (0..n)
            .map(|j| {
                let d2 = xx + norms[p.b_off as usize + j] - 2.0 * g[p.g_off as usize + i * n + j];
                model[p.al_off as usize + j] * (-gamma * d2.max(0.0)).exp()
            })
            .sum();
        out[p.out_off as usize + i] = model[p.st_off as usize] - s;
    }
}

/// `rff_cos`.
pub fn rff_cos(p: &PrimalParams, x: &[f64], out: &mut [f64]) {
    for e in 0..(p.rows * p.cols) as usize {
        out[p.out_off as usize + e] = f64::from(p.scale) * x[p.x_off as usize + e].cos();
    }
}

/// The primal objective `1/2 |w|^2 + 1/(nu B) sum_i max(0, rho - u_i) - rho`.
pub fn primal_loss(u: &[f64], w: &[f64], rho: f64, nu: f64) -> f64 {
    let hinge: f64 = u.iter().map(|&v| (rho - v).max(0.0)).sum();
    0.5 * w.iter().map(|v| v * v).sum::<f64>() + hinge / (nu * u.len() as f64) - rho
}

/// `primal_fwd`: the objective into `out[out_off]`.
pub fn primal_fwd(p: &PrimalParams, u: &[f64], model: &[f64], out: &mut [f64]) {
    let (b, d) = (p.rows as usize, p.cols as usize);
    out[p.out_off as usize] = primal_loss(
        &u[p.u_off as usize..][..b],
        &model[p.w_off as usize..][..d],
        model[p.r_off as usize],
        f64::from(p.nu),
    );
}

fn upstream(p: &PrimalParams, g: &[f64]) -> f64 {
    let s = f64::from(p.g_scale);
    if p.g_off == NONE {
        s
    } else {
        s * g[p.g_off as usize]
    }
}

fn put(out: &mut f64, v: f64, acc: u32) {
    if acc != 0 {
        *out += v;
    } else {
        *out = v;
    }
}

/// `primal_bwd_u`.
pub fn primal_bwd_u(p: &PrimalParams, u: &[f64], model: &[f64], g: &[f64], out: &mut [f64]) {
    let (b, rho) = (p.rows as usize, model[p.r_off as usize]);
    let gs = upstream(p, g);
    for i in 0..b {
        let d = if rho > u[p.u_off as usize + i] {
            -gs / (f64::from(p.nu) * b as f64)
        } else {
            0.0
        };
        put(&mut out[p.out_off as usize + i], d, p.accumulate);
    }
}

/// `primal_bwd_params`.
pub fn primal_bwd_params(p: &PrimalParams, u: &[f64], model: &[f64], g: &[f64], out: &mut [f64]) {
    let (b, d, rho) = (p.rows as usize, p.cols as usize, model[p.r_off as usize]);
    let gs = upstream(p, g);
    for j in 0..d {
        put(
            &mut out[p.out_off as usize + j],
            gs * model[p.w_off as usize + j],
            p.accumulate,
        );
    }
    let c = (0..b).filter(|&i| rho > u[p.u_off as usize + i]).count() as f64;
    put(
        &mut out[p.r_out as usize],
        gs * (c / (f64::from(p.nu) * b as f64) - 1.0),
        p.r_acc,
    );
}

/// `primal_score`.
pub fn primal_score(p: &PrimalParams, u: &[f64], model: &[f64], out: &mut [f64]) {
    let rho = model[p.r_off as usize];
    for i in 0..p.rows as usize {
        out[p.out_off as usize + i] = f64::from(p.scale) * (rho - u[p.u_off as usize + i]);
    }
}
