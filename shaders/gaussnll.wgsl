// The Gaussian negative log-likelihood of rows under a decoder whose every output has the
// variance exp(s) (one learned log-variance s), up to the constant D/2 log(2 pi):
//   nll_fwd:   out[i] = (e[i] exp(-s) + D s) / 2      e[i] = ||x_i - x'_i||^2, s = sp[s_off]
//   nll_bwd_e: de[i] (+)= g_i exp(-s) / 2
//   nll_bwd_s: ds (+)= sum_i g_i (D - e[i] exp(-s)) / 2   (one invocation adds the rows in order)
//   g_i = g_scale * (g[g_off + i] when g_off != NONE, else 1)
//
// Bindings: 0 params, 1 e (read), 2 sp (read), 3 out (read_write), 4 g (read),
// 5 de (read_write), 6 ds (read_write).

#import grid

struct Params {
    rows: u32,
    dims: u32,
    e_off: u32,
    s_off: u32,
    out_off: u32,
    g_off: u32,
    g_scale: f32,
    d_off: u32,
    accumulate: u32,
}

const NONE: u32 = 0xffffffffu;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> e: array<f32>;
@group(0) @binding(2) var<storage, read> sp: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<storage, read> g: array<f32>;
@group(0) @binding(5) var<storage, read_write> de: array<f32>;
@group(0) @binding(6) var<storage, read_write> ds: array<f32>;

fn upstream(i: u32) -> f32 {
    if p.g_off == NONE {
        return p.g_scale;
    }
    return p.g_scale * g[p.g_off + i];
}

@compute @workgroup_size(256, 1, 1)
fn nll_fwd(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
    let i = grid_index(wg, nwg, lid);
    if i >= p.rows {
        return;
    }
    let s = sp[p.s_off];
    out[p.out_off + i] = 0.5 * (e[p.e_off + i] * exp(-s) + f32(p.dims) * s);
}

@compute @workgroup_size(256, 1, 1)
fn nll_bwd_e(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
             @builtin(local_invocation_index) lid: u32) {
    let i = grid_index(wg, nwg, lid);
    if i >= p.rows {
        return;
    }
    var v = upstream(i) * 0.5 * exp(-sp[p.s_off]);
    if p.accumulate != 0u {
        v += de[p.d_off + i];
    }
    de[p.d_off + i] = v;
}

// One invocation: the sum over the rows (a training batch) in a fixed order.
@compute @workgroup_size(1, 1, 1)
fn nll_bwd_s() {
    let w = exp(-sp[p.s_off]);
    let d = f32(p.dims);
    var sum = 0.0;
    for (var i = 0u; i < p.rows; i++) {
        sum += upstream(i) * 0.5 * (d - e[p.e_off + i] * w);
    }
    if p.accumulate != 0u {
        sum += ds[p.d_off];
    }
    ds[p.d_off] = sum;
}
