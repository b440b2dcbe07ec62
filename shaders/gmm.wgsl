// DAGMM's Gaussian mixture (Zong et al., ICLR 2018) on a batch of codes z (rows x dims at z_off)
// with memberships gamma = softmax(logits) (rows x comps at l_off). Each component j's parameters
// are one record of P = 3 + dims + 2 dims^2 words at p_off + j P:
//   [G, phi, logdet, mu (dims), S (dims x dims), C (dims x dims)]
// G = sum_i gamma_ij (at least 1e-20), phi = G / rows, mu = sum_i gamma_ij z_i / G,
// C = sum_i gamma_ij d_ij d_ij^T / G + eps I with d_ij = z_i - mu_j, S = C^-1, logdet = log|C|.
//
//   gmm_fit:         one workgroup per component: G and mu (one pass), C (a second, about mu),
//                    then one invocation factors C. The factoring is scaled by the diagonal:
//                    R = D^-1/2 C D^-1/2 (unit diagonal) is Cholesky-factored with every pivot
//                    at least PIVOT_MIN (the numerical guard: a correlation matrix within 1e-6
//                    of singular is taken as that close), S = D^-1/2 R^-1 D^-1/2 and
//                    logdet = sum_a log C_aa + log|R|.
//   gmm_energy:      one invocation per row: l_ij = log phi_j - (q_ij + logdet_j + dims log 2pi)/2,
//                    q_ij = d_ij^T S_j d_ij; out[i] = E_i = -logsumexp_j l_ij and
//                    resp[i, j] = exp(l_ij + E_i). Row 0 also writes the penalty
//                    pen = sum_j sum_a 1 / C_j,aa.
//   Backward (w_ij = -g_i resp_ij, g_i = g_scale * (g[g_off + i], or 1 when g_off is NONE);
//   a_ij = (S_j + S_j^T) d_ij / 2):
//   gmm_energy_bwd_z:      one invocation per row: dz_i (+)= -sum_j w_ij a_ij.
//   gmm_energy_bwd_params: one workgroup per component: into gp's record j,
//                    g phi = sum_i w_ij / phi, g logdet = -sum_i w_ij / 2, g mu = sum_i w_ij a_ij,
//                    g S = -sum_i w_ij d_ij d_ij^T / 2 (written, or added with accumulate);
//                    G and C get 0 (written) or are left (added).
//   gmm_penalty_bwd: one invocation per component: g C_aa (+)= -g / C_aa^2 (g the penalty's
//                    gradient, g_scale * (g[g_off] or 1)); with accumulate only those words
//                    are added, else the record is written (zero elsewhere).
//   gmm_bwd_mix:     one workgroup per component (an invocation per entry of M), from the
//                    record's gradient gp:
//                    M = gC - S gS S + g logdet S; t = sum_ab M_ab (C - eps I)_ab;
//                    mix[j] = [c0, v (dims), N (dims x dims)] with
//                    c0 = gG + g phi / rows - t / G, v = g mu / G, N = M / G.
//   gmm_bwd_rows:    one invocation per row: with d = z_i - mu_j,
//                    dgamma_ij = c0_j + v_j . d + d^T N_j d,
//                    dz_i = sum_j gamma_ij (v_j + (N_j + N_j^T) d),
//                    dlogits_ij = gamma_ij (dgamma_ij - sum_j' gamma_ij' dgamma_ij');
//                    each written or added (accumulate bit 0: dz, bit 1: dlogits); an operand
//                    whose offset is NONE is skipped.
//
// dims <= MAXD, comps <= MAXK (checked on the host).
// Bindings: 0 params; 1 z, 2 lg, 3 gm, 7 resp_in, 8 g, 11 gp_in, 13 mix_in (read);
// 4 out, 5 resp, 6 pen, 9 dz, 10 gp, 12 mix, 14 dl (read_write).

struct Params {
    rows: u32,
    dims: u32,
    comps: u32,
    z_off: u32,
    l_off: u32,
    p_off: u32,
    out_off: u32,
    r_off: u32,
    pen_off: u32,
    g_off: u32,
    g_scale: f32,
    gp_off: u32,
    mix_off: u32,
    dz_off: u32,
    dl_off: u32,
    accumulate: u32,
    eps: f32,
}

const NONE: u32 = 0xffffffffu;
const WG: u32 = 256u;
const MAXD: u32 = 16u;
const MAXK: u32 = 16u;
const BLOCK: u32 = 16u;
const PIVOT_MIN: f32 = 1e-6;
const G_MIN: f32 = 1e-20;
const LOG_2PI: f32 = 1.8378770664093453;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> z: array<f32>;
@group(0) @binding(2) var<storage, read> lg: array<f32>;
@group(0) @binding(3) var<storage, read> gm: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
@group(0) @binding(5) var<storage, read_write> resp: array<f32>;
@group(0) @binding(6) var<storage, read_write> pen: array<f32>;
@group(0) @binding(7) var<storage, read> resp_in: array<f32>;
@group(0) @binding(8) var<storage, read> g: array<f32>;
@group(0) @binding(9) var<storage, read_write> dz: array<f32>;
@group(0) @binding(10) var<storage, read_write> gp: array<f32>;
@group(0) @binding(11) var<storage, read> gp_in: array<f32>;
@group(0) @binding(12) var<storage, read_write> mix: array<f32>;
@group(0) @binding(13) var<storage, read> mix_in: array<f32>;
@group(0) @binding(14) var<storage, read_write> dl: array<f32>;

#import grid
#import wgsum

// Words of one component's record, and where its parts start.
fn rec_len() -> u32 {
    return 3u + p.dims + 2u * p.dims * p.dims;
}

fn rec(j: u32) -> u32 {
    return p.p_off + j * rec_len();
}

fn mu_at(j: u32) -> u32 {
    return rec(j) + 3u;
}

fn s_at(j: u32) -> u32 {
    return rec(j) + 3u + p.dims;
}

fn c_at(j: u32) -> u32 {
    return rec(j) + 3u + p.dims + p.dims * p.dims;
}

fn upstream(i: u32) -> f32 {
    if p.g_off == NONE {
        return p.g_scale;
    }
    return p.g_scale * g[p.g_off + i];
}

// Row i's membership in component j: the softmax of its logits.
fn gamma(i: u32, j: u32) -> f32 {
    let base = p.l_off + i * p.comps;
    var m = lg[base];
    for (var c = 1u; c < p.comps; c++) {
        m = max(m, lg[base + c]);
    }
    var s = 0.0;
    for (var c = 0u; c < p.comps; c++) {
        s += exp(lg[base + c] - m);
    }
    return exp(lg[base + j] - m) / s;
}

// d_a = z_ia - mu_ja, from record `base` (a record's mu), in the gradient's or fit's terms.
fn dev(i: u32, a: u32, mu: u32) -> f32 {
    return z[p.z_off + i * p.dims + a] - gm[mu + a];
}

var<workgroup> w_g: f32;
var<workgroup> w_mu: array<f32, MAXD>;
var<workgroup> w_c: array<f32, 256>;
var<workgroup> w_l: array<f32, 256>;
var<workgroup> w_li: array<f32, 256>;

// Pass 1's quantity q of row i (q 0: gamma, q 1 + a: gamma z_a), for component j.
fn fit_first(i: u32, j: u32, q: u32, gij: f32) -> f32 {
    if q == 0u {
        return gij;
    }
    return gij * z[p.z_off + i * p.dims + q - 1u];
}

@compute @workgroup_size(WG, 1, 1)
fn gmm_fit(@builtin(workgroup_id) wg: vec3<u32>, lane: Lane) {
    let j = wg.x;
    let k = p.dims;
    let lid = lane.lid;
    let n1 = 1u + k;
    for (var q0 = 0u; q0 < n1; q0 += BLOCK) {
        let width = min(BLOCK, n1 - q0);
        var acc: array<f32, BLOCK>;
        for (var i = lid; i < p.rows; i += WG) {
            let gij = gamma(i, j);
            for (var t = 0u; t < width; t++) {
                acc[t] += fit_first(i, j, q0 + t, gij);
            }
        }
        for (var t = 0u; t < width; t++) {
            let s = workgroup_sum(acc[t], lane);
            if lid == 0u {
                if q0 + t == 0u {
                    w_g = max(s, G_MIN);
                } else {
                    w_mu[q0 + t - 1u] = s;
                }
            }
        }
    }
    workgroupBarrier();
    let gsum = w_g;
    let n2 = k * k;
    for (var q0 = 0u; q0 < n2; q0 += BLOCK) {
        let width = min(BLOCK, n2 - q0);
        var acc: array<f32, BLOCK>;
        for (var i = lid; i < p.rows; i += WG) {
            let gij = gamma(i, j);
            for (var t = 0u; t < width; t++) {
                let a = (q0 + t) / k;
                let b = (q0 + t) % k;
                let da = z[p.z_off + i * k + a] - w_mu[a] / gsum;
                let db = z[p.z_off + i * k + b] - w_mu[b] / gsum;
                acc[t] += gij * (da * db);
            }
        }
        for (var t = 0u; t < width; t++) {
            let s = workgroup_sum(acc[t], lane);
            if lid == 0u {
                let a = (q0 + t) / k;
                let b = (q0 + t) % k;
                w_c[q0 + t] = s / gsum + select(0.0, p.eps, a == b);
            }
        }
    }
    workgroupBarrier();
    if lid != 0u {
        return;
    }
    // Cholesky of R = D^-1/2 C D^-1/2 into w_l (lower), each pivot at least PIVOT_MIN.
    var logdet = 0.0;
    for (var a = 0u; a < k; a++) {
        logdet += log(w_c[a * k + a]);
    }
    for (var a = 0u; a < k; a++) {
        for (var b = 0u; b <= a; b++) {
            var s = w_c[a * k + b] / sqrt(w_c[a * k + a] * w_c[b * k + b]);
            for (var c = 0u; c < b; c++) {
                s -= w_l[a * k + c] * w_l[b * k + c];
            }
            if a == b {
                let piv = max(s, PIVOT_MIN);
                w_l[a * k + a] = sqrt(piv);
                logdet += log(piv);
            } else {
                w_l[a * k + b] = s / w_l[b * k + b];
            }
        }
    }
    // L^-1 (lower) by forward substitution, into w_li.
    for (var b = 0u; b < k; b++) {
        for (var a = 0u; a < k; a++) {
            if a < b {
                w_li[a * k + b] = 0.0;
            } else if a == b {
                w_li[a * k + a] = 1.0 / w_l[a * k + a];
            } else {
                var s = 0.0;
                for (var c = b; c < a; c++) {
                    s += w_l[a * k + c] * w_li[c * k + b];
                }
                w_li[a * k + b] = -s / w_l[a * k + a];
            }
        }
    }
    let base = rec(j);
    out[base] = gsum;
    out[base + 1u] = gsum / f32(p.rows);
    out[base + 2u] = logdet;
    for (var a = 0u; a < k; a++) {
        out[base + 3u + a] = w_mu[a] / gsum;
    }
    let s_base = base + 3u + k;
    let c_base = s_base + k * k;
    for (var a = 0u; a < k; a++) {
        for (var b = 0u; b < k; b++) {
            // R^-1 = L^-T L^-1: sum over c >= max(a, b) of Li_ca Li_cb.
            var s = 0.0;
            for (var c = max(a, b); c < k; c++) {
                s += w_li[c * k + a] * w_li[c * k + b];
            }
            out[s_base + a * k + b] = s / sqrt(w_c[a * k + a] * w_c[b * k + b]);
            out[c_base + a * k + b] = w_c[a * k + b];
        }
    }
}

// Row i's log-joint terms l_ij for every component, into `l`; returns logsumexp_j l_ij.
fn log_joint(i: u32, l: ptr<function, array<f32, MAXK>>) -> f32 {
    let k = p.dims;
    var m = -3.4e38;
    for (var j = 0u; j < p.comps; j++) {
        let mu = mu_at(j);
        let s = s_at(j);
        var q = 0.0;
        for (var a = 0u; a < k; a++) {
            let da = dev(i, a, mu);
            var t = 0.0;
            for (var b = 0u; b < k; b++) {
                t += gm[s + a * k + b] * dev(i, b, mu);
            }
            q += da * t;
        }
        let r = rec(j);
        let v = log(gm[r + 1u]) - 0.5 * (q + gm[r + 2u] + f32(k) * LOG_2PI);
        (*l)[j] = v;
        m = max(m, v);
    }
    var s = 0.0;
    for (var j = 0u; j < p.comps; j++) {
        s += exp((*l)[j] - m);
    }
    return m + log(s);
}

@compute @workgroup_size(256, 1, 1)
fn gmm_energy(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) lid: u32) {
    let i = grid_index(wg, nwg, lid);
    if i == 0u && p.pen_off != NONE {
        var s = 0.0;
        for (var j = 0u; j < p.comps; j++) {
            for (var a = 0u; a < p.dims; a++) {
                s += 1.0 / gm[c_at(j) + a * p.dims + a];
            }
        }
        pen[p.pen_off] = s;
    }
    if i >= p.rows {
        return;
    }
    var l: array<f32, MAXK>;
    let lse = log_joint(i, &l);
    out[p.out_off + i] = -lse;
    for (var j = 0u; j < p.comps; j++) {
        resp[p.r_off + i * p.comps + j] = exp(l[j] - lse);
    }
}

// (S_j + S_j^T) d / 2, component a, for row i.
fn sym_s_dev(i: u32, j: u32, a: u32) -> f32 {
    let k = p.dims;
    let mu = mu_at(j);
    let s = s_at(j);
    var t = 0.0;
    for (var b = 0u; b < k; b++) {
        t += 0.5 * (gm[s + a * k + b] + gm[s + b * k + a]) * dev(i, b, mu);
    }
    return t;
}

@compute @workgroup_size(256, 1, 1)
fn gmm_energy_bwd_z(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                    @builtin(local_invocation_index) lid: u32) {
    let i = grid_index(wg, nwg, lid);
    if i >= p.rows {
        return;
    }
    let gi = upstream(i);
    for (var a = 0u; a < p.dims; a++) {
        var s = 0.0;
        for (var j = 0u; j < p.comps; j++) {
            s += resp_in[p.r_off + i * p.comps + j] * sym_s_dev(i, j, a);
        }
        let at = p.dz_off + i * p.dims + a;
        var v = gi * s;
        if (p.accumulate & 1u) != 0u {
            v += dz[at];
        }
        dz[at] = v;
    }
}

// The energy's quantity q for row i and component j, times w_ij: q 0: w, q 1 + a: w a_a,
// q 1 + dims + a dims + b: w d_a d_b.
fn energy_quantity(i: u32, j: u32, q: u32, w: f32) -> f32 {
    let k = p.dims;
    if q == 0u {
        return w;
    }
    if q <= k {
        return w * sym_s_dev(i, j, q - 1u);
    }
    let e = q - 1u - k;
    let mu = mu_at(j);
    return w * (dev(i, e / k, mu) * dev(i, e % k, mu));
}

@compute @workgroup_size(WG, 1, 1)
fn gmm_energy_bwd_params(@builtin(workgroup_id) wg: vec3<u32>, lane: Lane) {
    let j = wg.x;
    let k = p.dims;
    let lid = lane.lid;
    let n = 1u + k + k * k;
    let acc_mode = p.accumulate != 0u;
    let r = p.gp_off + j * rec_len();
    for (var q0 = 0u; q0 < n; q0 += BLOCK) {
        let width = min(BLOCK, n - q0);
        var acc: array<f32, BLOCK>;
        for (var i = lid; i < p.rows; i += WG) {
            let w = -upstream(i) * resp_in[p.r_off + i * p.comps + j];
            for (var t = 0u; t < width; t++) {
                acc[t] += energy_quantity(i, j, q0 + t, w);
            }
        }
        for (var t = 0u; t < width; t++) {
            let s = workgroup_sum(acc[t], lane);
            if lid == 0u {
                let q = q0 + t;
                var at = 0u;
                var v = 0.0;
                if q == 0u {
                    // g phi and g logdet share the sum.
                    let gl = -0.5 * s;
                    gp[r + 2u] = gl + select(0.0, gp[r + 2u], acc_mode);
                    at = r + 1u;
                    v = s / gm[rec(j) + 1u];
                } else if q <= k {
                    at = r + 3u + q - 1u;
                    v = s;
                } else {
                    at = r + 3u + k + q - 1u - k;
                    v = -0.5 * s;
                }
                gp[at] = v + select(0.0, gp[at], acc_mode);
            }
        }
    }
    if lid == 0u && !acc_mode {
        gp[r] = 0.0;
        for (var e = 0u; e < k * k; e++) {
            gp[r + 3u + k + k * k + e] = 0.0;
        }
    }
}

@compute @workgroup_size(256, 1, 1)
fn gmm_penalty_bwd(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                   @builtin(local_invocation_index) lid: u32) {
    let j = grid_index(wg, nwg, lid);
    if j >= p.comps {
        return;
    }
    let k = p.dims;
    let gpen = upstream(0u);
    let r = p.gp_off + j * rec_len();
    let c_rel = 3u + k + k * k;
    if p.accumulate == 0u {
        for (var e = 0u; e < rec_len(); e++) {
            gp[r + e] = 0.0;
        }
    }
    for (var a = 0u; a < k; a++) {
        let c = gm[c_at(j) + a * k + a];
        gp[r + c_rel + a * k + a] += -gpen / (c * c);
    }
}

// gS S, one entry an invocation, for gmm_bwd_mix.
var<workgroup> w_t: array<f32, 256>;

@compute @workgroup_size(WG, 1, 1)
fn gmm_bwd_mix(@builtin(workgroup_id) wg: vec3<u32>, lane: Lane) {
    let j = wg.x;
    let k = p.dims;
    let lid = lane.lid;
    let a = lid / k;
    let b = lid % k;
    let live = lid < k * k;
    let s = s_at(j);
    let gr = p.gp_off + j * rec_len();
    let gs = gr + 3u + k;
    if live {
        var v = 0.0;
        for (var f = 0u; f < k; f++) {
            v += gp_in[gs + a * k + f] * gm[s + f * k + b];
        }
        w_t[lid] = v;
    }
    workgroupBarrier();
    var m = 0.0;
    var tm = 0.0;
    let gsum = gm[rec(j)];
    let out_at = p.mix_off + j * (1u + k + k * k);
    if live {
        var sgs = 0.0;
        for (var e = 0u; e < k; e++) {
            sgs += gm[s + a * k + e] * w_t[e * k + b];
        }
        let gc = gs + k * k;
        m = gp_in[gc + lid] - sgs + gp_in[gr + 2u] * gm[s + lid];
        tm = m * (gm[c_at(j) + lid] - select(0.0, p.eps, a == b));
        mix[out_at + 1u + k + lid] = m / gsum;
    }
    if lid < k {
        mix[out_at + 1u + lid] = gp_in[gr + 3u + lid] / gsum;
    }
    let t = workgroup_sum(tm, lane);
    if lid == 0u {
        mix[out_at] = gp_in[gr] + gp_in[gr + 1u] / f32(p.rows) - t / gsum;
    }
}

@compute @workgroup_size(256, 1, 1)
fn gmm_bwd_rows(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_index) lid: u32) {
    let i = grid_index(wg, nwg, lid);
    if i >= p.rows {
        return;
    }
    let k = p.dims;
    let q = 1u + k + k * k;
    var gam: array<f32, MAXK>;
    var dgam: array<f32, MAXK>;
    var dzi: array<f32, MAXD>;
    var mean = 0.0;
    for (var j = 0u; j < p.comps; j++) {
        let mu = mu_at(j);
        let mx = p.mix_off + j * q;
        let gij = gamma(i, j);
        var dg = mix_in[mx];
        for (var a = 0u; a < k; a++) {
            let da = dev(i, a, mu);
            var nd = 0.0;
            var sym = 0.0;
            for (var b = 0u; b < k; b++) {
                let db = dev(i, b, mu);
                nd += mix_in[mx + 1u + k + a * k + b] * db;
                sym += (mix_in[mx + 1u + k + a * k + b] + mix_in[mx + 1u + k + b * k + a]) * db;
            }
            dg += (mix_in[mx + 1u + a] + nd) * da;
            dzi[a] += gij * (mix_in[mx + 1u + a] + sym);
        }
        gam[j] = gij;
        dgam[j] = dg;
        mean += gij * dg;
    }
    if p.dz_off != NONE {
        for (var a = 0u; a < k; a++) {
            let at = p.dz_off + i * k + a;
            var v = dzi[a];
            if (p.accumulate & 1u) != 0u {
                v += dz[at];
            }
            dz[at] = v;
        }
    }
    if p.dl_off != NONE {
        for (var j = 0u; j < p.comps; j++) {
            let at = p.dl_off + i * p.comps + j;
            var v = gam[j] * (dgam[j] - mean);
            if (p.accumulate & 2u) != 0u {
                v += dl[at];
            }
            dl[at] = v;
        }
    }
}
