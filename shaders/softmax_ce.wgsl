// Softmax cross-entropy of each row's logits against its class (the Class model's loss and
// anomaly score), and its backward.
//
//   ce_fwd: out[out_off + i] = logsumexp(z[i, :]) - z[i, c_i]           c_i = cls[cls_off + i]
//   ce_bwd: dz[i, j] (+)= g_i * (softmax(z[i, :])_j - [j == c_i]),
//           g_i = g_scale * (g[g_off + i] when g_off != NONE)
//   One invocation per row (classes are few); a class index >= cols gives a NaN loss.
//
// Bindings: 0 params, 1 z, 2 cls, 3 g (bwd only, read), 4 out (read_write).

#import grid

struct Params {
    rows: u32,
    cols: u32,
    z_off: u32,
    cls_off: u32,
    out_off: u32,
    g_off: u32,
    g_scale: f32,
    accumulate: u32,
}

const NONE: u32 = 0xffffffffu;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> z: array<f32>;
@group(0) @binding(2) var<storage, read> cls: array<u32>;
@group(0) @binding(3) var<storage, read> g: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

fn row_max(base: u32) -> f32 {
    var m = z[base];
    for (var j = 1u; j < p.cols; j++) {
        m = max(m, z[base + j]);
    }
    return m;
}

fn row_sum_exp(base: u32, m: f32) -> f32 {
    var s = 0.0;
    for (var j = 0u; j < p.cols; j++) {
        s += exp(z[base + j] - m);
    }
    return s;
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
    if c >= p.cols {
        out[p.out_off + i] = bitcast<f32>(0x7fc00000u);
        return;
    }
    let m = row_max(base);
    out[p.out_off + i] = m + log(row_sum_exp(base, m)) - z[base + c];
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
    let m = row_max(base);
    let s = row_sum_exp(base, m);
    var gi = p.g_scale;
    if p.g_off != NONE {
        gi *= g[p.g_off + i];
    }
    for (var j = 0u; j < p.cols; j++) {
        let o = p.out_off + i * p.cols + j;
        var v = gi * (exp(z[base + j] - m) / s - select(0.0, 1.0, j == c));
        if p.accumulate != 0u {
            v += out[o];
        }
        out[o] = v;
    }
}
