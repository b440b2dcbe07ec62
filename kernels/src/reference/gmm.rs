//! f64 twins of `gmm.wgsl` (DAGMM's Gaussian mixture: the fit from codes and membership
//! logits, each row's energy and the penalty, and the backward rules) and of `recon.wgsl`
//! (the reconstruction features: relative Euclidean distance and cosine similarity).
//!
//! A component's record is [G, phi, logdet, mu (d), S (d x d), C (d x d)] (see the shader).

use super::at;
use crate::params::{GmmParams, NONE, ReconParams};

/// The smallest pivot of the scaled Cholesky factorisation (the shader's `PIVOT_MIN`).
pub const GMM_PIVOT_MIN: f64 = 1e-6;
/// The smallest G (the shader's `G_MIN`).
pub const GMM_G_MIN: f64 = 1e-20;
const LOG_2PI: f64 = 1.837_877_066_409_345_3;

fn g_of(g: &[f64], off: u32, scale: f32, i: u32) -> f64 {
    let s = f64::from(scale);
    if off == NONE { s } else { s * at(g, off + i) }
}

/// Row i's memberships: the softmax of its logits.
pub fn gmm_gamma(p: &GmmParams, lg: &[f64], i: u32) -> Vec<f64> {
    let row = &lg[(p.l_off + i * p.comps) as usize..][..p.comps as usize];
    let m = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = row.iter().map(|v| (v - m).exp()).collect();
    let s: f64 = e.iter().sum();
    e.iter().map(|v| v / s).collect()
}

/// A record's parts, read from `gm` at component j.
pub struct Component {
    pub g: f64,
    pub phi: f64,
    pub logdet: f64,
    pub mu: Vec<f64>,
    pub s: Vec<f64>,
    pub c: Vec<f64>,
}

/// Component j's record of `gm` (at `p_off`).
pub fn gmm_component(p: &GmmParams, gm: &[f64], j: u32) -> Component {
    let (d, r) = (p.dims as usize, (p.p_off + j * p.record()) as usize);
    let w = &gm[r..r + p.record() as usize];
    Component {
        g: w[0],
        phi: w[1],
        logdet: w[2],
        mu: w[3..3 + d].to_vec(),
        s: w[3 + d..3 + d + d * d].to_vec(),
        c: w[3 + d + d * d..].to_vec(),
    }
}

fn code(p: &GmmParams, z: &[f64], i: u32) -> Vec<f64> {
    let d = p.dims as usize;
    z[(p.z_off + i * p.dims) as usize..][..d].to_vec()
}

/// `gmm_fit`: every component's record into `out` (at `p_off`).
pub fn gmm_fit(p: &GmmParams, z: &[f64], lg: &[f64], out: &mut [f64]) {
    let d = p.dims as usize;
    let gam: Vec<Vec<f64>> = (0..p.rows).map(|i| gmm_gamma(p, lg, i)).collect();
    for j in 0..p.comps {
        let ju = j as usize;
        let g = gam.iter().map(|r| r[ju]).sum::<f64>().max(GMM_G_MIN);
        let mut mu = vec![0.0; d];
        for i in 0..p.rows {
            for (a, m) in mu.iter_mut().enumerate() {
                *m += gam[i as usize][ju] * code(p, z, i)[a];
            }
        }
        mu.iter_mut().for_each(|m| *m /= g);
        let mut c = vec![0.0; d * d];
        for i in 0..p.rows {
            let zi = code(p, z, i);
            for a in 0..d {
                for b in 0..d {
                    c[a * d + b] += gam[i as usize][ju] * (zi[a] - mu[a]) * (zi[b] - mu[b]);
                }
            }
        }
        for a in 0..d {
            for b in 0..d {
                c[a * d + b] /= g;
            }
            c[a * d + a] += f64::from(p.eps);
        }
        let (s, logdet) = scaled_inverse(&c, d);
        let r = (p.p_off + j * p.record()) as usize;
        out[r] = g;
        out[r + 1] = g / f64::from(p.rows);
        out[r + 2] = logdet;
        out[r + 3..r + 3 + d].copy_from_slice(&mu);
        out[r + 3 + d..r + 3 + d + d * d].copy_from_slice(&s);
        out[r + 3 + d + d * d..r + 3 + d + 2 * d * d].copy_from_slice(&c);
    }
}

/// C^-1 and log|C| as the shader computes them: the Cholesky factor of the diagonally scaled
/// C, every pivot at least [`GMM_PIVOT_MIN`].
pub fn scaled_inverse(c: &[f64], d: usize) -> (Vec<f64>, f64) {
    let sd: Vec<f64> = (0..d).map(|a| c[a * d + a].sqrt()).collect();
    let mut logdet: f64 = (0..d).map(|a| c[a * d + a].ln()).sum();
    let mut l = vec![0.0; d * d];
    for a in 0..d {
        for b in 0..=a {
            let mut s = c[a * d + b] / (sd[a] * sd[b]);
            for k in 0..b {
                s -= l[a * d + k] * l[b * d + k];
            }
            if a == b {
                let piv = s.max(GMM_PIVOT_MIN);
                l[a * d + a] = piv.sqrt();
                logdet += piv.ln();
            } else {
                l[a * d + b] = s / l[b * d + b];
            }
        }
    }
    let mut li = vec![0.0; d * d];
    for b in 0..d {
        li[b * d + b] = 1.0 / l[b * d + b];
        for a in b + 1..d {
            let s: f64 = (b..a).map(|k| l[a * d + k] * li[k * d + b]).sum();
            li[a * d + b] = -s / l[a * d + a];
        }
    }
    let mut s = vec![0.0; d * d];
    for a in 0..d {
        for b in 0..d {
            let r: f64 = (a.max(b)..d).map(|k| li[k * d + a] * li[k * d + b]).sum();
            s[a * d + b] = r / (sd[a] * sd[b]);
        }
    }
    (s, logdet)
}

/// Row i's log-joint terms l_ij and their logsumexp.
fn log_joint(p: &GmmParams, z: &[f64], gm: &[f64], i: u32) -> (Vec<f64>, f64) {
    let d = p.dims as usize;
    let zi = code(p, z, i);
    let l: Vec<f64> = (0..p.comps)
        .map(|j| {
            let c = gmm_component(p, gm, j);
            let dv: Vec<f64> = (0..d).map(|a| zi[a] - c.mu[a]).collect();
            let q: f64 = (0..d)
                .map(|a| dv[a] * (0..d).map(|b| c.s[a * d + b] * dv[b]).sum::<f64>())
                .sum();
            c.phi.ln() - 0.5 * (q + c.logdet + d as f64 * LOG_2PI)
        })
        .collect();
    let m = l.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let lse = m + l.iter().map(|v| (v - m).exp()).sum::<f64>().ln();
    (l, lse)
}

/// `gmm_energy`: each row's energy into `out`, its responsibilities into `resp`, and the
/// penalty into `pen` (when `pen_off` is not NONE).
pub fn gmm_energy(
    p: &GmmParams,
    z: &[f64],
    gm: &[f64],
    out: &mut [f64],
    resp: &mut [f64],
    pen: &mut [f64],
) {
    let d = p.dims as usize;
    if p.pen_off != NONE {
        pen[p.pen_off as usize] = (0..p.comps)
            .map(|j| {
                let c = gmm_component(p, gm, j).c;
                (0..d).map(|a| 1.0 / c[a * d + a]).sum::<f64>()
            })
            .sum();
    }
    for i in 0..p.rows {
        let (l, lse) = log_joint(p, z, gm, i);
        out[(p.out_off + i) as usize] = -lse;
        for (j, v) in l.iter().enumerate() {
            resp[(p.r_off + i * p.comps) as usize + j] = (v - lse).exp();
        }
    }
}

/// (S + S^T) d / 2 for row i and component j.
fn sym_s_dev(p: &GmmParams, z: &[f64], c: &Component, i: u32) -> (Vec<f64>, Vec<f64>) {
    let d = p.dims as usize;
    let zi = code(p, z, i);
    let dv: Vec<f64> = (0..d).map(|a| zi[a] - c.mu[a]).collect();
    let a = (0..d)
        .map(|a| {
            (0..d)
                .map(|b| 0.5 * (c.s[a * d + b] + c.s[b * d + a]) * dv[b])
                .sum()
        })
        .collect();
    (dv, a)
}

fn put(out: &mut [f64], at: usize, v: f64, accumulate: bool) {
    out[at] = v + if accumulate { out[at] } else { 0.0 };
}

/// `gmm_energy_bwd_z`: dz from the energies' gradient g and the responsibilities.
pub fn gmm_energy_bwd_z(
    p: &GmmParams,
    z: &[f64],
    gm: &[f64],
    resp: &[f64],
    g: &[f64],
    dz: &mut [f64],
) {
    let d = p.dims as usize;
    let comps: Vec<Component> = (0..p.comps).map(|j| gmm_component(p, gm, j)).collect();
    for i in 0..p.rows {
        let gi = g_of(g, p.g_off, p.g_scale, i);
        let mut s = vec![0.0; d];
        for (j, c) in comps.iter().enumerate() {
            let r = resp[(p.r_off + i * p.comps) as usize + j];
            let (_, a) = sym_s_dev(p, z, c, i);
            (0..d).for_each(|x| s[x] += r * a[x]);
        }
        for (a, v) in s.iter().enumerate() {
            put(
                dz,
                (p.dz_off + i * p.dims) as usize + a,
                gi * v,
                p.accumulate & 1 != 0,
            );
        }
    }
}

/// `gmm_energy_bwd_params`: the records' gradient `gp` (at gp_off) from the energies'.
pub fn gmm_energy_bwd_params(
    p: &GmmParams,
    z: &[f64],
    gm: &[f64],
    resp: &[f64],
    g: &[f64],
    gp: &mut [f64],
) {
    let d = p.dims as usize;
    let acc = p.accumulate != 0;
    for j in 0..p.comps {
        let c = gmm_component(p, gm, j);
        let r = (p.gp_off + j * p.record()) as usize;
        let mut sw = 0.0;
        let mut ga = vec![0.0; d];
        let mut gs = vec![0.0; d * d];
        for i in 0..p.rows {
            let w = -g_of(g, p.g_off, p.g_scale, i) * resp[(p.r_off + i * p.comps + j) as usize];
            let (dv, a) = sym_s_dev(p, z, &c, i);
            sw += w;
            for x in 0..d {
                ga[x] += w * a[x];
                for y in 0..d {
                    gs[x * d + y] += w * dv[x] * dv[y];
                }
            }
        }
        put(gp, r + 1, sw / c.phi, acc);
        put(gp, r + 2, -0.5 * sw, acc);
        for (x, v) in ga.iter().enumerate() {
            put(gp, r + 3 + x, *v, acc);
        }
        for (e, v) in gs.iter().enumerate() {
            put(gp, r + 3 + d + e, -0.5 * v, acc);
        }
        if !acc {
            gp[r] = 0.0;
            gp[r + 3 + d + d * d..r + 3 + d + 2 * d * d].fill(0.0);
        }
    }
}

/// `gmm_penalty_bwd`: the penalty's gradient into the records' (C's diagonal).
pub fn gmm_penalty_bwd(p: &GmmParams, gm: &[f64], g: &[f64], gp: &mut [f64]) {
    let d = p.dims as usize;
    let gpen = g_of(g, p.g_off, p.g_scale, 0);
    for j in 0..p.comps {
        let c = gmm_component(p, gm, j).c;
        let r = (p.gp_off + j * p.record()) as usize;
        if p.accumulate == 0 {
            gp[r..r + p.record() as usize].fill(0.0);
        }
        for a in 0..d {
            gp[r + 3 + d + d * d + a * d + a] += -gpen / (c[a * d + a] * c[a * d + a]);
        }
    }
}

/// `gmm_bwd_mix`: each component's [c0, v, N] from the records' gradient `gp` (at gp_off).
pub fn gmm_bwd_mix(p: &GmmParams, gm: &[f64], gp: &[f64], mix: &mut [f64]) {
    let d = p.dims as usize;
    let q = 1 + d + d * d;
    for j in 0..p.comps {
        let c = gmm_component(p, gm, j);
        let gr = (p.gp_off + j * p.record()) as usize;
        let g = &gp[gr..gr + p.record() as usize];
        let (gsv, gcv) = (&g[3 + d..3 + d + d * d], &g[3 + d + d * d..]);
        let out = &mut mix[(p.mix_off as usize) + j as usize * q..][..q];
        let mut t = 0.0;
        for a in 0..d {
            for b in 0..d {
                let sgs: f64 = (0..d)
                    .map(|e| {
                        c.s[a * d + e]
                            * (0..d).map(|f| gsv[e * d + f] * c.s[f * d + b]).sum::<f64>()
                    })
                    .sum();
                let m = gcv[a * d + b] - sgs + g[2] * c.s[a * d + b];
                let eps = if a == b { f64::from(p.eps) } else { 0.0 };
                t += m * (c.c[a * d + b] - eps);
                out[1 + d + a * d + b] = m / c.g;
            }
            out[1 + a] = g[3 + a] / c.g;
        }
        out[0] = g[0] + g[1] / f64::from(p.rows) - t / c.g;
    }
}

/// `gmm_bwd_rows`: dz and dlogits (each when its offset is not NONE) from `mix`.
pub fn gmm_bwd_rows(
    p: &GmmParams,
    z: &[f64],
    lg: &[f64],
    gm: &[f64],
    mix: &[f64],
    dz: &mut [f64],
    dl: &mut [f64],
) {
    let d = p.dims as usize;
    let q = 1 + d + d * d;
    for i in 0..p.rows {
        let gam = gmm_gamma(p, lg, i);
        let zi = code(p, z, i);
        let mut dzi = vec![0.0; d];
        let mut dg = vec![0.0; p.comps as usize];
        for j in 0..p.comps as usize {
            let mu = gmm_component(p, gm, j as u32).mu;
            let m = &mix[p.mix_off as usize + j * q..][..q];
            let dv: Vec<f64> = (0..d).map(|a| zi[a] - mu[a]).collect();
            let n = |a: usize, b: usize| m[1 + d + a * d + b];
            dg[j] = m[0];
            for a in 0..d {
                let nd: f64 = (0..d).map(|b| n(a, b) * dv[b]).sum();
                let sym: f64 = (0..d).map(|b| (n(a, b) + n(b, a)) * dv[b]).sum();
                dg[j] += (m[1 + a] + nd) * dv[a];
                dzi[a] += gam[j] * (m[1 + a] + sym);
            }
        }
        let mean: f64 = gam.iter().zip(&dg).map(|(a, b)| a * b).sum();
        if p.dz_off != NONE {
            for (a, v) in dzi.iter().enumerate() {
                put(
                    dz,
                    (p.dz_off + i * p.dims) as usize + a,
                    *v,
                    p.accumulate & 1 != 0,
                );
            }
        }
        if p.dl_off != NONE {
            for j in 0..p.comps as usize {
                let at = (p.dl_off + i * p.comps) as usize + j;
                put(dl, at, gam[j] * (dg[j] - mean), p.accumulate & 2 != 0);
            }
        }
    }
}

/// The norm guard of `recon.wgsl` (`NORM_MIN`) and the distance's (`DIST_EPS`, added under
/// the square root).
pub const RECON_NORM_MIN: f64 = 1e-8;
pub const RECON_DIST_EPS: f64 = 1e-12;

fn recon_terms(p: &ReconParams, x: &[f64], y: &[f64], i: u32) -> (Vec<f64>, Vec<f64>, [f64; 4]) {
    let n = p.cols as usize;
    let xr = x[(p.x_off + i * p.cols) as usize..][..n].to_vec();
    let yr = y[(p.y_off + i * p.cols) as usize..][..n].to_vec();
    let nx = xr.iter().map(|v| v * v).sum::<f64>().sqrt();
    let ny = yr.iter().map(|v| v * v).sum::<f64>().sqrt();
    let ne = (xr
        .iter()
        .zip(&yr)
        .map(|(a, b)| (a - b) * (a - b))
        .sum::<f64>()
        + RECON_DIST_EPS)
        .sqrt();
    let u: f64 = xr.iter().zip(&yr).map(|(a, b)| a * b).sum();
    (xr, yr, [nx, ny, ne, u])
}

/// `recon_fwd`: out[i] = [||x - y|| / ||x||, x . y / (||x|| ||y||)] (norms at least
/// [`RECON_NORM_MIN`], the distance sqrt(||x - y||^2 + [`RECON_DIST_EPS`])).
pub fn recon_fwd(p: &ReconParams, x: &[f64], y: &[f64], out: &mut [f64]) {
    for i in 0..p.rows {
        let (_, _, [nx, ny, ne, u]) = recon_terms(p, x, y, i);
        let (nxs, nys) = (nx.max(RECON_NORM_MIN), ny.max(RECON_NORM_MIN));
        out[(p.out_off + 2 * i) as usize] = ne / nxs;
        out[(p.out_off + 2 * i + 1) as usize] = u / (nxs * nys);
    }
}

/// `recon_bwd`: dx and dy (each when its offset is not NONE; accumulate bit 0 dx, bit 1 dy).
pub fn recon_bwd(p: &ReconParams, x: &[f64], y: &[f64], g: &[f64], dx: &mut [f64], dy: &mut [f64]) {
    for i in 0..p.rows {
        let (xr, yr, [nx, ny, ne, u]) = recon_terms(p, x, y, i);
        let (nxs, nys) = (nx.max(RECON_NORM_MIN), ny.max(RECON_NORM_MIN));
        let gr = g_of(g, p.g_off, p.g_scale, 2 * i);
        let gc = g_of(g, p.g_off, p.g_scale, 2 * i + 1);
        let rel = ne / nxs;
        let cos = u / (nxs * nys);
        let kx = if nx > RECON_NORM_MIN {
            1.0 / (nx * nx)
        } else {
            0.0
        };
        let ky = if ny > RECON_NORM_MIN {
            1.0 / (ny * ny)
        } else {
            0.0
        };
        for c in 0..p.cols as usize {
            let e = (xr[c] - yr[c]) / (ne * nxs);
            let vx = gr * (e - rel * xr[c] * kx) + gc * (yr[c] / (nxs * nys) - cos * xr[c] * kx);
            let vy = gr * -e + gc * (xr[c] / (nxs * nys) - cos * yr[c] * ky);
            if p.dx_off != NONE {
                put(
                    dx,
                    (p.dx_off + i * p.cols) as usize + c,
                    vx,
                    p.accumulate & 1 != 0,
                );
            }
            if p.dy_off != NONE {
                put(
                    dy,
                    (p.dy_off + i * p.cols) as usize + c,
                    vy,
                    p.accumulate & 2 != 0,
                );
            }
        }
    }
}
