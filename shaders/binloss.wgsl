// Supervised binary losses per row (ABC paper, Yamanaka et al.). Labels are u32, y = 1 normal and
// y = 0 known anomaly (the paper's convention); v is one value per row:
//   kind 0 ABC:   l = y v - (1 - y) log(1 - exp(-v))    v = the reconstruction error L >= 0
//   kind 1 LRC:   l = y v - (1 - y) v
//   kind 2 logit: l = softplus(v) - (1 - y) v            v = logit of p(anomaly): sigmoid CE
//   binloss_fwd: out[out_off + i] = l_i
//   binloss_bwd: dv[out_off + i] (+)= g_i dl/dv,  g_i = g_scale * (g[g_off + i] when g_off != NONE)
// ABC: log(1 - exp(-v)) = log(-expm1(-v)) below ln 2 and log1p(-exp(-v)) above, both without
// cancellation; v is clamped below at V_MIN = 1e-12 (the loss is +inf at 0; with the clamp it
// is at most 27.7 and its slope finite), and dl/dv = y - (1 - y) / expm1(v).
// logit: dl/dv = sigmoid(v) - (1 - y), computed as y s(v) - (1 - y) s(-v).
// A label other than 0 or 1 gives NaN.
//
// Bindings: 0 params, 1 v, 2 y, 3 g (bwd only, read), 4 out (read_write).

#import grid
#import math

struct Params {
    rows: u32,
    kind: u32,
    v_off: u32,
    y_off: u32,
    out_off: u32,
    g_off: u32,
    g_scale: f32,
    accumulate: u32,
}

const NONE: u32 = 0xffffffffu;
const V_MIN: f32 = 1e-12;
const LN2: f32 = 0.6931472;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> v: array<f32>;
@group(0) @binding(2) var<storage, read> y: array<u32>;
@group(0) @binding(3) var<storage, read> g: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

// A quiet NaN for a bad label (made from the label so it is not folded at compile time).
fn bad_label(l: u32) -> f32 {
    return bitcast<f32>(0x7fc00000u + 0u * l);
}

// -log(1 - exp(-x)) for x > 0.
fn neg_log1mexp(x: f32) -> f32 {
    if x < LN2 {
        return -log(-expm1(-x));
    }
    return -log1p_unit(-exp(-x));
}

@compute @workgroup_size(256, 1, 1)
fn binloss_fwd(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) lid: u32) {
    let i = grid_index(wg, nwg, lid);
    if i >= p.rows {
        return;
    }
    let yl = y[p.y_off + i];
    let yi = f32(yl);
    let vi = v[p.v_off + i];
    var l: f32;
    switch p.kind {
        case 0u: {
            let x = max(vi, V_MIN);
            // Each term only where its weight is non-zero, so the other's value cannot leak in.
            l = select(0.0, x, yi > 0.0) + select(0.0, neg_log1mexp(x), yi < 1.0);
        }
        case 1u: {
            l = yi * vi - (1.0 - yi) * vi;
        }
        default: {
            l = softplus(vi) - (1.0 - yi) * vi;
        }
    }
    if yl > 1u {
        l = bad_label(yl);
    }
    out[p.out_off + i] = l;
}

@compute @workgroup_size(256, 1, 1)
fn binloss_bwd(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) lid: u32) {
    let i = grid_index(wg, nwg, lid);
    if i >= p.rows {
        return;
    }
    let yl = y[p.y_off + i];
    let yi = f32(yl);
    let vi = v[p.v_off + i];
    var d: f32;
    switch p.kind {
        case 0u: {
            let x = max(vi, V_MIN);
            d = select(0.0, 1.0, yi > 0.0) - select(0.0, 1.0 / expm1(x), yi < 1.0);
        }
        case 1u: {
            d = 2.0 * yi - 1.0;
        }
        default: {
            d = yi * sigmoid(vi) - (1.0 - yi) * sigmoid(-vi);
        }
    }
    if yl > 1u {
        d = bad_label(yl);
    }
    var gi = p.g_scale;
    if p.g_off != NONE {
        gi *= g[p.g_off + i];
    }
    var o = gi * d;
    if p.accumulate != 0u {
        o += out[p.out_off + i];
    }
    out[p.out_off + i] = o;
}
