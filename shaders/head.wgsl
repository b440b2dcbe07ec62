// The UAI head as one op: a logistic layer on [l; s] and its masked mean BCE, forward in one
// dispatch and every gradient in another (instead of two column copies, a GEMM, BCE forward and
// backward, two backward GEMMs and a copy back).
//
//   z_i  = sum_j w[j] l[r0 + i, j] + w[h] s[r0 + i] + w[h + 1]           i < rows, j < h
//          (w: the head's h + 1 weights then its bias, at w_off; l: l_rows x h at l_off;
//           s: one score per latent row at s_off, detached: it gets no gradient)
//   head_fwd: out[out_off] = sum_i m_i bce(z_i, y_i) / max(1, sum_i m_i)   (as bce.wgsl)
//   head_bwd: c_i = g m_i (sigmoid(z_i) - y_i) / max(1, sum_i m_i)
//             dw[j] (+)= sum_i c_i l[r0 + i, j],  dw[h] (+)= sum_i c_i s[r0 + i],
//             dw[h + 1] (+)= sum_i c_i            (dw = out at out_off; dw_acc says (+)=)
//             dl[dl_off + r * h + j] (+)= c_{r - r0} w[j] for r0 <= r < r0 + rows, else 0,
//             over all l_rows rows (so the rows outside the head's get a defined zero);
//             no dl when dl_off == NONE.
//            g = g_scale * (g[g_off] when g_off != NONE)
// One workgroup of 256 threads (fixed-order sums); rows <= 1024 (the labelled minibatch).
//
// Bindings: 0 params, 1 l, 2 s, 3 w, 4 ym (y at y_off, the mask at m_off), 5 g (read),
// 6 out / dw (read_write), 7 dl (read_write).

#import math
#import wgsum

struct Params {
    rows: u32,
    h: u32,
    l_off: u32,
    l_rows: u32,
    r0: u32,
    s_off: u32,
    w_off: u32,
    y_off: u32,
    m_off: u32,
    out_off: u32,
    g_off: u32,
    g_scale: f32,
    dw_acc: u32,
    dl_off: u32,
    dl_acc: u32,
}

const NONE: u32 = 0xffffffffu;
const MAX_ROWS: u32 = 1024u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> l: array<f32>;
@group(0) @binding(2) var<storage, read> s: array<f32>;
@group(0) @binding(3) var<storage, read> w: array<f32>;
@group(0) @binding(4) var<storage, read> ym: array<f32>;
@group(0) @binding(5) var<storage, read> g: array<f32>;
@group(0) @binding(6) var<storage, read_write> out: array<f32>;
@group(0) @binding(7) var<storage, read_write> dl: array<f32>;

var<workgroup> coef: array<f32, MAX_ROWS>;

fn mask_count(lid: u32) -> f32 {
    var c = 0.0;
    for (var i = lid; i < p.rows; i += 256u) {
        c += ym[p.m_off + i];
    }
    partial[lid] = c;
    return max(1.0, reduce_partial(lid));
}

// Input k of row i: a latent column, the score, or 1 for the bias.
fn feature(k: u32, i: u32) -> f32 {
    let r = p.r0 + i;
    if k < p.h {
        return l[p.l_off + r * p.h + k];
    }
    if k == p.h {
        return s[p.s_off + r];
    }
    return 1.0;
}

fn logit(i: u32) -> f32 {
    var z = 0.0;
    for (var k = 0u; k < p.h + 2u; k++) {
        z = fma(w[p.w_off + k], feature(k, i), z);
    }
    return z;
}

@compute @workgroup_size(256, 1, 1)
fn head_fwd(@builtin(local_invocation_index) lid: u32) {
    let count = mask_count(lid);
    var acc = 0.0;
    for (var i = lid; i < p.rows; i += 256u) {
        acc += ym[p.m_off + i] * bce_loss(logit(i), ym[p.y_off + i]);
    }
    partial[lid] = acc;
    let total = reduce_partial(lid);
    if lid == 0u {
        out[p.out_off] = total / count;
    }
}

@compute @workgroup_size(256, 1, 1)
fn head_bwd(@builtin(local_invocation_index) lid: u32) {
    let count = mask_count(lid);
    var gs = p.g_scale;
    if p.g_off != NONE {
        gs *= g[p.g_off];
    }
    for (var i = lid; i < p.rows; i += 256u) {
        let diff = bce_slope(logit(i), ym[p.y_off + i]);
        coef[i] = gs * ym[p.m_off + i] * diff / count;
    }
    workgroupBarrier();
    for (var k = lid; k < p.h + 2u; k += 256u) {
        var acc = 0.0;
        for (var i = 0u; i < p.rows; i++) {
            acc = fma(coef[i], feature(k, i), acc);
        }
        let o = p.out_off + k;
        if p.dw_acc != 0u {
            acc += out[o];
        }
        out[o] = acc;
    }
    if p.dl_off == NONE {
        return;
    }
    for (var e = lid; e < p.l_rows * p.h; e += 256u) {
        let r = e / p.h;
        var v = 0.0;
        if r >= p.r0 && r < p.r0 + p.rows {
            v = coef[r - p.r0] * w[p.w_off + e % p.h];
        }
        let o = p.dl_off + e;
        if p.dl_acc != 0u {
            v += dl[o];
        }
        dl[o] = v;
    }
}
