// Binary cross-entropy with logits, optionally masked, as a mean over the rows that count.
//
//   l_i  = max(z_i, 0) - z_i * y_i + log(1 + exp(-|z_i|))        (stable for any z)
//   bce_fwd: out[out_off] = sum_i m_i l_i / max(1, sum_i m_i)     m_i = mask[i] (1 when no mask)
//   bce_bwd: dz[i] (+)= g * m_i * (sigmoid(z_i) - y_i) / max(1, sum_i m_i)
//   log(1 + exp(-|z|)) by a series and sigmoid(z) - y as (1 - y) s(z) - y s(-z), so both stay
//   accurate to f32 relative precision when the prediction is confident (no cancellation).
//            g = g_scale * (g_buf[g_off] when g_off != NONE)
// One workgroup of 256 threads each (sums by `wgsum`); rows is a minibatch, not a dataset.
//
// Bindings: 0 params, 1 z, 2 y, 3 mask, 4 g (bwd only, read), 5 out (read_write).

#import math
#import wgsum

struct Params {
    rows: u32,
    z_off: u32,
    y_off: u32,
    mask_off: u32,
    out_off: u32,
    g_off: u32,
    g_scale: f32,
    accumulate: u32,
}

const NONE: u32 = 0xffffffffu;
const WG: u32 = 256u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> z: array<f32>;
@group(0) @binding(2) var<storage, read> y: array<f32>;
@group(0) @binding(3) var<storage, read> mask: array<f32>;
@group(0) @binding(4) var<storage, read> g: array<f32>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;


fn weight(i: u32) -> f32 {
    if p.mask_off == NONE {
        return 1.0;
    }
    return mask[p.mask_off + i];
}

fn mask_count(lane: Lane) -> f32 {
    var s = 0.0;
    for (var i = lane.lid; i < p.rows; i += WG) {
        s += weight(i);
    }
    return max(1.0, workgroup_sum(s, lane));
}

@compute @workgroup_size(WG, 1, 1)
fn bce_fwd(lane: Lane) {
    let count = mask_count(lane);
    var s = 0.0;
    for (var i = lane.lid; i < p.rows; i += WG) {
        let zi = z[p.z_off + i];
        s += weight(i) * bce_loss(zi, y[p.y_off + i]);
    }
    let total = workgroup_sum(s, lane);
    if lane.lid == 0u {
        out[p.out_off] = total / count;
    }
}

@compute @workgroup_size(WG, 1, 1)
fn bce_bwd(lane: Lane) {
    let count = mask_count(lane);
    var gs = p.g_scale;
    if p.g_off != NONE {
        gs *= g[p.g_off];
    }
    for (var i = lane.lid; i < p.rows; i += WG) {
        let zi = z[p.z_off + i];
        let diff = bce_slope(zi, y[p.y_off + i]);
        var v = gs * weight(i) * diff / count;
        if p.accumulate != 0u {
            v += out[p.out_off + i];
        }
        out[p.out_off + i] = v;
    }
}
