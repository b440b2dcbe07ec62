// Softmax cross-entropy of each row's logits against its class (the Class model's loss and
// anomaly score), and its backward.
//
//   ce_fwd: out[out_off + i] = logsumexp(z[i, :]) - z[i, c_i]           c_i = cls[cls_off + i]
//   ce_bwd: dz[i, j] (+)= g_i * (softmax(z[i, :])_j - [j == c_i]),
//           g_i = g_scale * (g[g_off + i] when g_off != NONE)
//   ce_fwd with d_off != NONE also writes the gradient of g_scale * sum_{i < d_rows} out[i]
//   (the mean over the first d_rows rows when g_scale = 1 / d_rows) in the same pass:
//           dz[d_off + i * cols + j] = g_scale * (softmax_j - [j == c_i]) for i < d_rows, else 0.
//   One invocation per row (classes are few); a class index >= cols gives a NaN loss.
//   The forward computes (m - z_c) + log(1 + r) (see row_softmax), with log(1 + r) by a series
//   when r <= 1, and the backward 1 - softmax_c as r / (1 + r) when c is the top class: a
//   confident prediction's loss and gradient are tiny, and WGSL's log near 1 has only an
//   absolute error bound, so the direct formulas would lose them to cancellation.
//
// Bindings: 0 params, 1 z, 2 cls, 3 g (bwd only, read), 4 out, 5 dz (fwd only) (read_write).

#import grid
#import math

struct Params {
    rows: u32,
    cols: u32,
    z_off: u32,
    cls_off: u32,
    out_off: u32,
    g_off: u32,
    g_scale: f32,
    accumulate: u32,
    d_off: u32,
    d_rows: u32,
}

const NONE: u32 = 0xffffffffu;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> z: array<f32>;
@group(0) @binding(2) var<storage, read> cls: array<u32>;
@group(0) @binding(3) var<storage, read> g: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
@group(0) @binding(5) var<storage, read_write> dz: array<f32>;

// The row's maximum logit (first index on ties) and r = sum of exp(z_j - m) over the others:
// softmax_j = exp(z_j - m) / (1 + r), and 1 - softmax_top = r / (1 + r) without cancellation.
struct RowSoftmax {
    top: u32,
    m: f32,
    rest: f32,
}

fn row_softmax(base: u32) -> RowSoftmax {
    var top = 0u;
    for (var j = 1u; j < p.cols; j++) {
        if z[base + j] > z[base + top] {
            top = j;
        }
    }
    let m = z[base + top];
    var rest = 0.0;
    for (var j = 0u; j < p.cols; j++) {
        if j != top {
            rest += exp(z[base + j] - m);
        }
    }
    return RowSoftmax(top, m, rest);
}

// d CE / d z_j = softmax_j - [j == c].
fn ce_slope(base: u32, c: u32, r: RowSoftmax, j: u32) -> f32 {
    let denom = 1.0 + r.rest;
    if j == c && j == r.top {
        return -r.rest / denom;
    } else if j == r.top {
        return 1.0 / denom;
    }
    return exp(z[base + j] - r.m) / denom - select(0.0, 1.0, j == c);
}

@compute @workgroup_size(256, 1, 1)
fn ce_fwd(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_index) lid: u32) {
    let i = grid_index(wg, nwg, lid);
    if i >= p.rows {
        return;
    }
    let base = p.z_off + i * p.cols;
    let c = cls[p.cls_off + i];
    let r = row_softmax(base);
    if p.d_off != NONE {
        for (var j = 0u; j < p.cols; j++) {
            dz[p.d_off + i * p.cols + j] = select(0.0, p.g_scale * ce_slope(base, c, r, j), i < p.d_rows);
        }
    }
    if c >= p.cols {
        out[p.out_off + i] = bitcast<f32>(0x7fc00000u);
        return;
    }
    let log_sum = select(log(1.0 + r.rest), log1p_unit(r.rest), r.rest <= 1.0);
    out[p.out_off + i] = (r.m - z[base + c]) + log_sum;
}

@compute @workgroup_size(256, 1, 1)
fn ce_bwd(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_index) lid: u32) {
    let i = grid_index(wg, nwg, lid);
    if i >= p.rows {
        return;
    }
    let base = p.z_off + i * p.cols;
    let c = cls[p.cls_off + i];
    let r = row_softmax(base);
    var gi = p.g_scale;
    if p.g_off != NONE {
        gi *= g[p.g_off + i];
    }
    for (var j = 0u; j < p.cols; j++) {
        let o = p.out_off + i * p.cols + j;
        var v = gi * ce_slope(base, c, r, j);
        if p.accumulate != 0u {
            v += out[o];
        }
        out[o] = v;
    }
}
