//! f64 twins of `vae.wgsl` (the VAE's Gaussian latent: z and each row's KL term, and the two
//! backward rules) and of `gaussnll.wgsl` (its decoder's negative log-likelihood).

use super::{at, rng_gauss};
use crate::params::{GaussNllParams, NONE, VaeParams};

/// The RNG tag of the VAE's latent noise (as `ops::vae` passes it).
pub const TAG_VAE: u32 = 5;

/// (mu, lv) of latent element `e` = i L + j.
fn moments(p: &VaeParams, h: &[f64], e: u32) -> (f64, f64) {
    let (i, j) = (e / p.latent, e % p.latent);
    let base = p.h_off + i * 2 * p.latent + j;
    (at(h, base), at(h, base + p.latent))
}

fn noise(p: &VaeParams, step: u32, e: u32) -> f64 {
    if p.sample == 0 {
        0.0
    } else {
        rng_gauss(p.seed, step, p.tag, e)
    }
}

/// `vae_fwd` at step counter `step`: fills `z` (rows x L at z_off) and `kl` (rows at kl_off).
pub fn vae_fwd(p: &VaeParams, h: &[f64], step: u32, z: &mut [f64], kl: &mut [f64]) {
    for i in 0..p.rows {
        let mut s = 0.0;
        for j in 0..p.latent {
            let e = i * p.latent + j;
            let (mu, lv) = moments(p, h, e);
            z[(p.z_off + e) as usize] = mu + (0.5 * lv).exp() * noise(p, step, e);
            s += 1.0 + lv - mu * mu - lv.exp();
        }
        kl[(p.kl_off + i) as usize] = -0.5 * f64::from(p.beta) * s;
    }
}

/// Writes or adds element `e`'s two halves of dh.
fn put(p: &VaeParams, dh: &mut [f64], e: u32, d_mu: f64, d_lv: f64) {
    let at = (p.dh_off + (e / p.latent) * 2 * p.latent + e % p.latent) as usize;
    let l = p.latent as usize;
    let acc = p.accumulate != 0;
    dh[at] = d_mu + if acc { dh[at] } else { 0.0 };
    dh[at + l] = d_lv + if acc { dh[at + l] } else { 0.0 };
}

/// `vae_bwd_z`: dh from dz (rows x L at dz_off).
pub fn vae_bwd_z(p: &VaeParams, h: &[f64], step: u32, dz: &[f64], dh: &mut [f64]) {
    for e in 0..p.rows * p.latent {
        let (_, lv) = moments(p, h, e);
        let d = at(dz, p.dz_off + e);
        put(p, dh, e, d, d * noise(p, step, e) * 0.5 * (0.5 * lv).exp());
    }
}

/// `vae_bwd_kl`: dh from the KL terms' gradient (per row at g_off, or g_scale for all).
pub fn vae_bwd_kl(p: &VaeParams, h: &[f64], g: &[f64], dh: &mut [f64]) {
    for e in 0..p.rows * p.latent {
        let i = e / p.latent;
        let gi = f64::from(p.g_scale)
            * if p.g_off == NONE {
                1.0
            } else {
                at(g, p.g_off + i)
            };
        let c = gi * f64::from(p.beta);
        let (mu, lv) = moments(p, h, e);
        put(p, dh, e, c * mu, c * 0.5 * lv.exp_m1());
    }
}

fn nll_upstream(p: &GaussNllParams, g: &[f64], i: u32) -> f64 {
    f64::from(p.g_scale)
        * if p.g_off == NONE {
            1.0
        } else {
            at(g, p.g_off + i)
        }
}

/// `nll_fwd`: out[out_off + i] = (e exp(-s) + D s) / 2.
pub fn nll_fwd(p: &GaussNllParams, e: &[f64], sp: &[f64], out: &mut [f64]) {
    let s = at(sp, p.s_off);
    for i in 0..p.rows {
        out[(p.out_off + i) as usize] =
            0.5 * (at(e, p.e_off + i) * (-s).exp() + f64::from(p.dims) * s);
    }
}

/// `nll_bwd_e`: de[d_off + i] (+)= g_i exp(-s) / 2.
pub fn nll_bwd_e(p: &GaussNllParams, sp: &[f64], g: &[f64], de: &mut [f64]) {
    let w = (-at(sp, p.s_off)).exp();
    for i in 0..p.rows {
        let d = &mut de[(p.d_off + i) as usize];
        *d = nll_upstream(p, g, i) * 0.5 * w + if p.accumulate != 0 { *d } else { 0.0 };
    }
}

/// `nll_bwd_s`: ds[d_off] (+)= sum_i g_i (D - e_i exp(-s)) / 2.
pub fn nll_bwd_s(p: &GaussNllParams, e: &[f64], sp: &[f64], g: &[f64], ds: &mut [f64]) {
    let w = (-at(sp, p.s_off)).exp();
    let sum: f64 = (0..p.rows)
        .map(|i| nll_upstream(p, g, i) * 0.5 * (f64::from(p.dims) - at(e, p.e_off + i) * w))
        .sum();
    let d = &mut ds[p.d_off as usize];
    *d = sum + if p.accumulate != 0 { *d } else { 0.0 };
}
