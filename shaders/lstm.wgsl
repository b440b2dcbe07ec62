// An LSTM layer over whole sequences: B sequences of T steps, H hidden units, zero initial
// state. The input's contribution to the four gates' pre-activations comes ready-made (a dense
// layer's x W_x + b, one GEMM for every step): zx[zx_off + b zx_row + t zx_step + q H + j] for
// gate q in (i, f, g, o) and unit j (zx_step = 0: the same row for every step, a decoder fed
// one code). The recurrent weights are wh (H x 4H at wh_off, row-major: wh[k, q H + j]).
//
//   z_t = zx_t + h_{t-1} W_h;   i, f, o = sigmoid(z_i, z_f, z_o);  g = tanh(z_g)
//   c_t = f c_{t-1} + i g;      h_t = o tanh(c_t)
//
// What the forward pass keeps (`saved`, at s_off, for the backward pass):
//   h at s_off + (b T + t) H + j, c at s_off + B T H + (b T + t) H + j, the gates (i, f, g, o)
//   at s_off + 2 B T H + (b T + t) 4H + q H + j.
//
//   lstm_fwd: one workgroup of 64 per sequence (2-D grid over sequences), the steps in order,
//             one barrier a step; each invocation owns units j = lid, lid + 64, ... All of the
//             above into out at s_off; h_{T-1} also at last_off + b H + j unless last_off is
//             NONE.
//   lstm_bwd: one workgroup of 64 per sequence, the steps in reverse. The upstream gradient
//             of h_t is g_scale (g[g_off + (b T + t) H + j], or g[g_off + b H + j] at the last
//             step only when g_last is 1; 1 when g_off is NONE, at the last step only when
//             g_last is 1), plus what step t + 1 sends back through W_h. Writes dz_t (the
//             pre-activations' gradient, 4H a step) into out at dz_off + (b T + t) 4H + q H + j
//             and, unless sum_off is NONE, their sum over the steps at sum_off + b 4H + q H + j
//             (the gradient of a zx row shared by every step).
//   lstm_dwh: one invocation per weight (k, m) of W_h (2-D grid): sum over b and t >= 1 of
//             h_{t-1}[k] dz_t[m], from saved (h at s_off) and dz (at dz_off); written (or added
//             with accumulate) into out at o_off + k 4H + m.
//
// Bindings: 0 params; 1 zx, 2 wh, 3 saved, 4 g, 6 dz (read); 5 out (read_write).

const WG: u32 = 64u;
const MAX_H: u32 = 256u;
const NONE: u32 = 0xffffffffu;
#import grid
#import math

struct Params {
    batch: u32,
    steps: u32,
    hidden: u32,
    zx_off: u32,
    zx_row: u32,
    zx_step: u32,
    wh_off: u32,
    s_off: u32,
    last_off: u32,
    g_off: u32,
    g_last: u32,
    g_scale: f32,
    dz_off: u32,
    sum_off: u32,
    o_off: u32,
    accumulate: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> zx: array<f32>;
@group(0) @binding(2) var<storage, read> wh: array<f32>;
@group(0) @binding(3) var<storage, read> saved: array<f32>;
@group(0) @binding(4) var<storage, read> g: array<f32>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;
@group(0) @binding(6) var<storage, read> dz: array<f32>;

// h_{t-1} and h_t (alternating halves) in the forward pass.
var<workgroup> hbuf: array<f32, 512>;
// The step's dz (4H) in the backward pass.
var<workgroup> dzs: array<f32, 1024>;
// What the next step sends back to h_t and c_t, per unit.
var<workgroup> dh_next: array<f32, 256>;
var<workgroup> dc_next: array<f32, 256>;

// tanh without overflow, with f32 relative precision near 0: -expm1(-2|x|) / (2 + expm1(-2|x|)).
fn tanh_acc(x: f32) -> f32 {
    let e = expm1(-2.0 * abs(x));
    return sign(x) * (-e / (2.0 + e));
}

// The offset of (b, t, j) in an H-wide per-step array, from its base.
fn at(b: u32, t: u32, j: u32) -> u32 {
    return (b * p.steps + t) * p.hidden + j;
}

// Where the forward pass keeps c of (b, t, j).
fn cell_at(b: u32, t: u32, j: u32) -> u32 {
    return p.s_off + p.batch * p.steps * p.hidden + at(b, t, j);
}

fn gate_at(b: u32, t: u32, q: u32, j: u32) -> u32 {
    return p.s_off + 2u * p.batch * p.steps * p.hidden + (b * p.steps + t) * 4u * p.hidden
        + q * p.hidden + j;
}

@compute @workgroup_size(WG, 1, 1)
fn lstm_fwd(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
    let b = wg.y * nwg.x + wg.x;
    let live = b < p.batch;
    let h4 = 4u * p.hidden;
    for (var j = lid; j < p.hidden; j += WG) {
        hbuf[j] = 0.0;
    }
    workgroupBarrier();
    for (var t = 0u; t < p.steps; t++) {
        let cur = (t & 1u) * MAX_H;
        let nxt = MAX_H - cur;
        if live {
            let zrow = p.zx_off + b * p.zx_row + t * p.zx_step;
            for (var j = lid; j < p.hidden; j += WG) {
                var z = vec4<f32>(zx[zrow + j], zx[zrow + p.hidden + j],
                                  zx[zrow + 2u * p.hidden + j], zx[zrow + 3u * p.hidden + j]);
                for (var k = 0u; k < p.hidden; k++) {
                    let w = p.wh_off + k * h4 + j;
                    let w4 = vec4<f32>(wh[w], wh[w + p.hidden], wh[w + 2u * p.hidden],
                                       wh[w + 3u * p.hidden]);
                    z = fma(vec4<f32>(hbuf[cur + k]), w4, z);
                }
                let ig = sigmoid(z.x);
                let fg = sigmoid(z.y);
                let gg = tanh_acc(z.z);
                let og = sigmoid(z.w);
                var c_prev = 0.0;
                if t > 0u {
                    c_prev = out[cell_at(b, t - 1u, j)];
                }
                let c = fg * c_prev + ig * gg;
                let h = og * tanh_acc(c);
                out[p.s_off + at(b, t, j)] = h;
                out[cell_at(b, t, j)] = c;
                out[gate_at(b, t, 0u, j)] = ig;
                out[gate_at(b, t, 1u, j)] = fg;
                out[gate_at(b, t, 2u, j)] = gg;
                out[gate_at(b, t, 3u, j)] = og;
                hbuf[nxt + j] = h;
                if t + 1u == p.steps && p.last_off != NONE {
                    out[p.last_off + b * p.hidden + j] = h;
                }
            }
        }
        workgroupBarrier();
    }
}

// The upstream gradient of h_t[j] of sequence b.
fn upstream(b: u32, t: u32, j: u32) -> f32 {
    let last = t + 1u == p.steps;
    if p.g_last == 1u && !last {
        return 0.0;
    }
    if p.g_off == NONE {
        return p.g_scale;
    }
    if p.g_last == 1u {
        return p.g_scale * g[p.g_off + b * p.hidden + j];
    }
    return p.g_scale * g[p.g_off + at(b, t, j)];
}

@compute @workgroup_size(WG, 1, 1)
fn lstm_bwd(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
    let b = wg.y * nwg.x + wg.x;
    let live = b < p.batch;
    let h4 = 4u * p.hidden;
    for (var j = lid; j < p.hidden; j += WG) {
        dh_next[j] = 0.0;
        dc_next[j] = 0.0;
    }
    for (var s = 0u; s < p.steps; s++) {
        let t = p.steps - 1u - s;
        if live {
            for (var j = lid; j < p.hidden; j += WG) {
                let dh = dh_next[j] + upstream(b, t, j);
                let ig = saved[gate_at(b, t, 0u, j)];
                let fg = saved[gate_at(b, t, 1u, j)];
                let gg = saved[gate_at(b, t, 2u, j)];
                let og = saved[gate_at(b, t, 3u, j)];
                let tc = tanh_acc(saved[cell_at(b, t, j)]);
                var c_prev = 0.0;
                if t > 0u {
                    c_prev = saved[cell_at(b, t - 1u, j)];
                }
                let dc = dh * og * (1.0 - tc * tc) + dc_next[j];
                let d = vec4<f32>(dc * gg * ig * (1.0 - ig), dc * c_prev * fg * (1.0 - fg),
                                  dc * ig * (1.0 - gg * gg), dh * tc * og * (1.0 - og));
                dc_next[j] = dc * fg;
                let row = p.dz_off + (b * p.steps + t) * h4;
                for (var q = 0u; q < 4u; q++) {
                    dzs[q * p.hidden + j] = d[q];
                    out[row + q * p.hidden + j] = d[q];
                    if p.sum_off != NONE {
                        let e = p.sum_off + b * h4 + q * p.hidden + j;
                        out[e] = select(0.0, out[e], s > 0u) + d[q];
                    }
                }
            }
        }
        workgroupBarrier();
        if live {
            for (var k = lid; k < p.hidden; k += WG) {
                var acc = 0.0;
                let w = p.wh_off + k * h4;
                for (var m = 0u; m < h4; m++) {
                    acc = fma(dzs[m], wh[w + m], acc);
                }
                dh_next[k] = acc;
            }
        }
        workgroupBarrier();
    }
}

@compute @workgroup_size(256, 1, 1)
fn lstm_dwh(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
    let e = grid_index(wg, nwg, lid);
    let h4 = 4u * p.hidden;
    if e >= p.hidden * h4 {
        return;
    }
    let k = e / h4;
    let m = e % h4;
    var acc = 0.0;
    for (var b = 0u; b < p.batch; b++) {
        for (var t = 1u; t < p.steps; t++) {
            let h = saved[p.s_off + at(b, t - 1u, k)];
            acc = fma(h, dz[p.dz_off + (b * p.steps + t) * h4 + m], acc);
        }
    }
    let o = p.o_off + e;
    out[o] = select(0.0, out[o], p.accumulate != 0u) + acc;
}
