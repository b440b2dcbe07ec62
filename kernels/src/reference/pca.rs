//! f64 twins of `pca.wgsl`.

use crate::params::PcaParams;

/// `col_stats`: each column's mean and population standard deviation into `out`.
pub fn pca_col_stats(p: &PcaParams, x: &[f64], out: &mut [f64]) {
    let (n, d) = (p.rows as usize, p.cols as usize);
    for j in 0..d {
        let at = |i: usize| x[p.x_off as usize + i * d + j];
        let mean = (0..n).map(at).sum::<f64>() / n as f64;
        let var = (0..n).map(|i| (at(i) - mean).powi(2)).sum::<f64>() / n as f64;
        out[p.st_off as usize + j] = mean;
        out[p.st_off as usize + d + j] = var.sqrt();
    }
}

/// `standardize`.
pub fn pca_standardize(p: &PcaParams, x: &[f64], stats: &[f64], z: &mut [f64]) {
    let d = p.cols as usize;
    for e in 0..p.rows as usize * d {
        let j = e % d;
        let (mean, sd) = (
            stats[p.st_off as usize + j],
            stats[p.st_off as usize + d + j],
        );
        z[p.z_off as usize + e] = (x[p.x_off as usize + e] - mean) / sd;
    }
}

/// The kernel's round-`s` pair `i` of `m` indices (circle method), the lower first.
pub fn jacobi_pair(s: usize, i: usize, m: usize) -> (usize, usize) {
    let n = m - 1;
    let (u, w) = if i == 0 {
        (m - 1, s % n)
    } else {
        ((s + i) % n, (s + n - i) % n)
    };
    (u.min(w), u.max(w))
}

/// `jacobi`: the same rotations in the same order, in f64, on `a` (`d x d`, destroyed);
/// returns the k largest eigenvalues (times `p.scale`), descending, and W (`d x k`, row-major,
/// column r the eigenvector of eigenvalue r).
pub fn pca_jacobi(p: &PcaParams, a: &mut [f64]) -> (Vec<f64>, Vec<f64>) {
    let d = p.cols as usize;
    let m = d + (d & 1);
    let mut v: Vec<f64> = (0..d * d)
        .map(|e| if e / d == e % d { 1.0 } else { 0.0 })
        .collect();
    let tol = f64::from(p.tol);
    for _ in 0..p.sweeps {
        let all: f64 = a.iter().map(|x| x * x).sum();
        let off: f64 = (0..d * d)
            .filter(|e| e / d != e % d)
            .map(|e| a[e] * a[e])
            .sum();
        if off <= tol * tol * all {
            break;
        }
        for s in 0..m.saturating_sub(1) {
            let rot: Vec<(usize, usize, f64, f64)> = (0..m / 2)
                .map(|i| {
                    let (pp, q) = jacobi_pair(s, i, m);
                    let (mut c, mut sn) = (1.0, 0.0);
                    if q < d && a[pp * d + q] != 0.0 {
                        let theta = (a[q * d + q] - a[pp * d + pp]) / (2.0 * a[pp * d + q]);
                        let sg = if theta >= 0.0 { 1.0 } else { -1.0 };
                        let t = sg / (theta.abs() + (theta * theta + 1.0).sqrt());
                        c = 1.0 / (t * t + 1.0).sqrt();
                        sn = t * c;
                    }
                    (pp, q, c, sn)
                })
                .collect();
            for &(pp, q, c, sn) in rot.iter().filter(|r| r.1 < d) {
                for r in 0..d {
                    let (ap, aq) = (a[r * d + pp], a[r * d + q]);
                    a[r * d + pp] = c * ap - sn * aq;
                    a[r * d + q] = sn * ap + c * aq;
                    let (vp, vq) = (v[r * d + pp], v[r * d + q]);
                    v[r * d + pp] = c * vp - sn * vq;
                    v[r * d + q] = sn * vp + c * vq;
                }
            }
            for &(pp, q, c, sn) in rot.iter().filter(|r| r.1 < d) {
                for k in 0..d {
                    let (ap, aq) = (a[pp * d + k], a[q * d + k]);
                    a[pp * d + k] = c * ap - sn * aq;
                    a[q * d + k] = sn * ap + c * aq;
                }
            }
        }
    }
    let mut order: Vec<usize> = (0..d).collect();
    order.sort_by(|&i, &j| a[j * d + j].total_cmp(&a[i * d + i]).then(i.cmp(&j)));
    let k = p.k as usize;
    let vals = order[..k]
        .iter()
        .map(|&i| a[i * d + i] * f64::from(p.scale))
        .collect();
    let mut w = vec![0.0; d * k];
    for (rank, &i) in order[..k].iter().enumerate() {
        for r in 0..d {
            w[r * k + rank] = v[r * d + i];
        }
    }
    (vals, w)
}

/// `pca_score` (mode 0 over the components with lambda_r > 1e-6 lambda_0), from the projections `pr` (`rows x k` at `p_off`), the eigenvalues at `l_off`
/// of `stats` and (mode 1) the standardised rows `z`.
pub fn pca_score(p: &PcaParams, pr: &[f64], stats: &[f64], z: &[f64], out: &mut [f64]) {
    let (d, k) = (p.cols as usize, p.k as usize);
    for i in 0..p.rows as usize {
        let proj: Vec<f64> = (0..k).map(|r| pr[p.p_off as usize + i * k + r]).collect();
        out[p.out_off as usize + i] = if p.mode == 0 {
            let lam = |r: usize| stats[p.l_off as usize + r];
            proj.iter()
                .enumerate()
                .filter(|&(r, _)| lam(r) > 1e-6 * lam(0))
                .map(|(r, v)| v * v / lam(r))
                .sum()
        } else {
            let all: f64 = (0..d)
                .map(|j| z[p.z_off as usize + i * d + j].powi(2))
                .sum();
            (all - proj.iter().map(|v| v * v).sum::<f64>()).max(0.0)
        };
    }
}
