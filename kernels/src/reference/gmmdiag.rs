//! f64 twins of `gmmdiag.wgsl`.

use crate::params::{GmmDiagParams, NONE};

/// Row i's log-density under component j (its log weight included).
pub fn gd_log_density(p: &GmmDiagParams, x: &[f64], prm: &[f64], i: usize, j: usize) -> f64 {
    let d = p.cols as usize;
    let rec = p.p_off as usize + j * p.record() as usize;
    let q: f64 = (0..d)
        .map(|t| {
            let v = prm[rec + 1 + d + t];
            let e = x[p.x_off as usize + i * d + t] - prm[rec + 1 + t];
            (2.0 * std::f64::consts::PI * v).ln() + e * e / v
        })
        .sum();
    prm[rec] - 0.5 * q
}

/// `gd_estep`: each row's negative log-likelihood and (unless `r_off` is NONE) its
/// responsibilities.
pub fn gd_estep(p: &GmmDiagParams, x: &[f64], prm: &[f64], out: &mut [f64]) {
    let k = p.k as usize;
    for i in 0..p.rows as usize {
        let l: Vec<f64> = (0..k).map(|j| gd_log_density(p, x, prm, i, j)).collect();
        let m = l.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let lse = m + l.iter().map(|v| (v - m).exp()).sum::<f64>().ln();
        out[p.e_off as usize + i] = -lse;
        if p.r_off != NONE {
            for (j, v) in l.iter().enumerate() {
                out[p.r_off as usize + i * k + j] = (v - lse).exp();
            }
        }
    }
}

/// `gd_label`: each row's most responsible component (ties to the lower index).
pub fn gd_label(p: &GmmDiagParams, x: &[f64], prm: &[f64], out: &mut [f64]) {
    for i in 0..p.rows as usize {
        let mut best = (0, gd_log_density(p, x, prm, i, 0));
        for j in 1..p.k as usize {
            let l = gd_log_density(p, x, prm, i, j);
            if l > best.1 {
                best = (j, l);
            }
        }
        out[p.a_off as usize + i] = best.0 as f64;
    }
}

/// `gd_onehot`: hard assignments as responsibilities.
pub fn gd_onehot(p: &GmmDiagParams, aux: &[f64], out: &mut [f64]) {
    let k = p.k as usize;
    for i in 0..p.rows as usize {
        let a = aux[p.a_off as usize + i] as usize;
        for j in 0..k {
            out[p.r_off as usize + i * k + j] = f64::from(u8::from(a == j));
        }
    }
}

/// `gd_mstep`: each component's weight, means and variances from the responsibilities (kept
/// where it has none), and its (N, variance) statistics.
pub fn gd_mstep(p: &GmmDiagParams, x: &[f64], aux: &[f64], out: &mut [f64]) {
    let (n, d, k) = (p.rows as usize, p.cols as usize, p.k as usize);
    let reg = f64::from(p.reg);
    for j in 0..k {
        let r = |i: usize| aux[p.r_off as usize + i * k + j];
        let nj: f64 = (0..n).map(r).sum();
        let rec = p.p_off as usize + j * p.record() as usize;
        let mut spread = 0.0;
        for t in 0..d {
            if nj > 0.0 {
                let xt = |i: usize| x[p.x_off as usize + i * d + t];
                let mu = (0..n).map(|i| r(i) * xt(i)).sum::<f64>() / nj;
                let v = (0..n).map(|i| r(i) * (xt(i) - mu).powi(2)).sum::<f64>() / nj;
                out[rec + 1 + t] = mu;
                out[rec + 1 + d + t] = v + reg;
            }
            spread += out[rec + 1 + d + t] - reg;
        }
        out[rec] = (nj.max(1e-30) / n as f64).ln();
        out[p.s_off as usize + 2 * j] = nj;
        out[p.s_off as usize + 2 * j + 1] = spread;
    }
}
