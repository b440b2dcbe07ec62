// The variational autoencoder's Gaussian latent. The encoder's output h holds each row's mean
// and log-variance side by side, h[i] = [mu | lv] (rows x 2L, at h_off):
//   vae_fwd:    z[i, j] = mu + exp(lv / 2) eps,  eps = N(seed, state[0], tag, i L + j) when
//                 sample != 0, else 0 (z = mu)
//               kl[i] = beta * -1/2 sum_j (1 + lv - mu^2 - exp(lv))   (KL(q(z|x) || N(0, I)),
//                 1 + lv - exp(lv) taken as lv - expm1(lv), exact near lv = 0)
//   vae_bwd_z:  dh[i, j] (+)= dz[i, j];  dh[i, L + j] (+)= dz[i, j] eps exp(lv / 2) / 2
//   vae_bwd_kl: dh[i, j] (+)= g_i beta mu;  dh[i, L + j] (+)= g_i beta expm1(lv) / 2
//               g_i = g_scale * (g[g_off + i] when g_off != NONE, else 1)
// vae_fwd: one invocation per row (its KL sums the L terms in order); the backward entries one
// per (row, latent column), each writing both of its column's halves of dh.
//
// Bindings: 0 params, 1 h (read), 2 state (read), 3 z (read_write), 4 kl (read_write),
// 5 dz (read), 6 g (read), 7 dh (read_write).

#import rng
#import grid
#import math

struct Params {
    rows: u32,
    latent: u32,
    h_off: u32,
    z_off: u32,
    kl_off: u32,
    dz_off: u32,
    g_off: u32,
    dh_off: u32,
    seed: u32,
    tag: u32,
    sample: u32,
    beta: f32,
    g_scale: f32,
    accumulate: u32,
}

const NONE: u32 = 0xffffffffu;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> h: array<f32>;
@group(0) @binding(2) var<storage, read> state: array<u32>;
@group(0) @binding(3) var<storage, read_write> z: array<f32>;
@group(0) @binding(4) var<storage, read_write> kl: array<f32>;
@group(0) @binding(5) var<storage, read> dz: array<f32>;
@group(0) @binding(6) var<storage, read> g: array<f32>;
@group(0) @binding(7) var<storage, read_write> dh: array<f32>;

// The noise of latent element e (= i L + j); 0 when not sampling.
fn eps(e: u32) -> f32 {
    if p.sample == 0u {
        return 0.0;
    }
    return rng_gauss(p.seed, state[0], p.tag, e);
}

@compute @workgroup_size(256, 1, 1)
fn vae_fwd(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
    let i = grid_index(wg, nwg, lid);
    if i >= p.rows {
        return;
    }
    let base = p.h_off + i * 2u * p.latent;
    var s = 0.0;
    for (var j = 0u; j < p.latent; j++) {
        let mu = h[base + j];
        let lv = h[base + p.latent + j];
        z[p.z_off + i * p.latent + j] = mu + exp(0.5 * lv) * eps(i * p.latent + j);
        s += lv - expm1(lv) - mu * mu;
    }
    kl[p.kl_off + i] = -0.5 * p.beta * s;
}

// Writes (or adds) the two halves of dh for latent element e.
fn put(e: u32, d_mu: f32, d_lv: f32) {
    let i = e / p.latent;
    let j = e % p.latent;
    let at = p.dh_off + i * 2u * p.latent + j;
    var a = d_mu;
    var b = d_lv;
    if p.accumulate != 0u {
        a += dh[at];
        b += dh[at + p.latent];
    }
    dh[at] = a;
    dh[at + p.latent] = b;
}

@compute @workgroup_size(256, 1, 1)
fn vae_bwd_z(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
             @builtin(local_invocation_index) lid: u32) {
    let e = grid_index(wg, nwg, lid);
    if e >= p.rows * p.latent {
        return;
    }
    let lv = h[p.h_off + (e / p.latent) * 2u * p.latent + p.latent + e % p.latent];
    let d = dz[p.dz_off + e];
    put(e, d, d * eps(e) * 0.5 * exp(0.5 * lv));
}

@compute @workgroup_size(256, 1, 1)
fn vae_bwd_kl(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) lid: u32) {
    let e = grid_index(wg, nwg, lid);
    if e >= p.rows * p.latent {
        return;
    }
    let i = e / p.latent;
    let at = p.h_off + i * 2u * p.latent + e % p.latent;
    var gi = p.g_scale;
    if p.g_off != NONE {
        gi *= g[p.g_off + i];
    }
    let c = gi * p.beta;
    put(e, c * h[at], c * 0.5 * expm1(h[at + p.latent]));
}
