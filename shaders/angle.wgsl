// The angle between each row of a prediction y and of its target x (data: no gradient), the
// arccos of their cosine similarity, computed stably as
//   theta_i = 2 atan2(|x^ - y^|, |x^ + y^|),  x^ = x / |x|, y^ = y / |y|
// (pi / 2 when either row is all zeros), and its backward
//   d theta / d y = -(x^ - cos(theta) y^) / (sin(theta) |y|)
// (0 where sin(theta) < 1e-12 or a row is all zeros).
//
//   angle_fwd: one workgroup of 64 per row (2-D grid over rows): out[out_off + i] = theta_i.
//   angle_bwd: one workgroup of 64 per row: dpred[i, j] (+)= g_i d theta_i / d y_ij into out at
//              out_off, g_i = g_scale * (g[g_off + i] when g_off != NONE, else 1), theta_i read
//              from ang at a_off (the forward's output).
//
// Bindings: 0 params; 1 pred, 2 tgt, 3 g, 5 ang (read); 4 out (read_write).

const WG: u32 = 64u;
const NONE: u32 = 0xffffffffu;
const HALF_PI: f32 = 1.5707963267948966;
#import wgsum

struct Params {
    rows: u32,
    cols: u32,
    pred_off: u32,
    target_off: u32,
    out_off: u32,
    g_off: u32,
    g_scale: f32,
    accumulate: u32,
    a_off: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> pred: array<f32>;
@group(0) @binding(2) var<storage, read> tgt: array<f32>;
@group(0) @binding(3) var<storage, read> g: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
@group(0) @binding(5) var<storage, read> ang: array<f32>;

// |x| and |y| of row `row` (every lane gets both; rows past the last give 0).
fn norms(row: u32, lane: Lane) -> vec2<f32> {
    var sx = 0.0;
    var sy = 0.0;
    if row < p.rows {
        for (var j = lane.lid; j < p.cols; j += WG) {
            let e = row * p.cols + j;
            let x = tgt[p.target_off + e];
            let y = pred[p.pred_off + e];
            sx = fma(x, x, sx);
            sy = fma(y, y, sy);
        }
    }
    let nx = sqrt(workgroup_sum(sx, lane));
    let ny = sqrt(workgroup_sum(sy, lane));
    return vec2<f32>(nx, ny);
}

@compute @workgroup_size(WG, 1, 1)
fn angle_fwd(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
             lane: Lane) {
    let row = wg.y * nwg.x + wg.x;
    let n = norms(row, lane);
    let zero = n.x == 0.0 || n.y == 0.0;
    var dm = 0.0;
    var dp = 0.0;
    if row < p.rows && !zero {
        for (var j = lane.lid; j < p.cols; j += WG) {
            let e = row * p.cols + j;
            let a = tgt[p.target_off + e] / n.x;
            let b = pred[p.pred_off + e] / n.y;
            dm = fma(a - b, a - b, dm);
            dp = fma(a + b, a + b, dp);
        }
    }
    let minus = workgroup_sum(dm, lane);
    let plus = workgroup_sum(dp, lane);
    if lane.lid == 0u && row < p.rows {
        out[p.out_off + row] = select(2.0 * atan2(sqrt(minus), sqrt(plus)), HALF_PI, zero);
    }
}

@compute @workgroup_size(WG, 1, 1)
fn angle_bwd(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
             lane: Lane) {
    let row = wg.y * nwg.x + wg.x;
    let n = norms(row, lane);
    if row >= p.rows {
        return;
    }
    let theta = ang[p.a_off + row];
    let c = cos(theta);
    let s = sin(theta);
    let live = n.x > 0.0 && n.y > 0.0 && s >= 1e-12;
    var gi = p.g_scale;
    if p.g_off != NONE {
        gi *= g[p.g_off + row];
    }
    for (var j = lane.lid; j < p.cols; j += WG) {
        let e = row * p.cols + j;
        var v = 0.0;
        if live {
            let a = tgt[p.target_off + e] / n.x;
            let b = pred[p.pred_off + e] / n.y;
            v = -gi * (a - c * b) / (s * n.y);
        }
        if p.accumulate != 0u {
            v += out[p.out_off + e];
        }
        out[p.out_off + e] = v;
    }
}
