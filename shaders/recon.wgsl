// DAGMM's reconstruction features: for each row of x and its reconstruction y (rows x cols, at
// x_off and y_off), out[2 i] = ||x - y|| / ||x|| (the relative Euclidean distance) and
// out[2 i + 1] = x . y / (||x|| ||y||) (the cosine similarity). Norms in a denominator are
// taken at least NORM_MIN; the distance is sqrt(||x - y||^2 + DIST_EPS), so its gradient is
// finite at y = x.
//
//   recon_fwd: one invocation per row.
//   recon_bwd: one invocation per row, from the features' gradient (g_i = g_scale * g[g_off +
//              2 i + f], or g_scale when g_off is NONE), with n = ||x||, m = ||y||, e = the
//              distance, rel and cos the features:
//              dy_c (+)= -g_rel (x_c - y_c) / (e n) + g_cos (x_c / (n m) - cos y_c / m^2)
//              dx_c (+)= g_rel ((x_c - y_c) / (e n) - rel x_c / n^2)
//                        + g_cos (y_c / (n m) - cos x_c / n^2)
//              (a 1 / n^2 or 1 / m^2 term is 0 where that norm is under NORM_MIN); dx when
//              dx_off is not NONE (accumulate bit 0), dy when dy_off is not NONE (bit 1).
//
// Bindings: 0 params; 1 x, 2 y, 3 g (read); 4 out, 5 dx, 6 dy (read_write).

struct Params {
    rows: u32,
    cols: u32,
    x_off: u32,
    y_off: u32,
    out_off: u32,
    g_off: u32,
    g_scale: f32,
    dx_off: u32,
    dy_off: u32,
    accumulate: u32,
}

const NONE: u32 = 0xffffffffu;
const NORM_MIN: f32 = 1e-8;
const DIST_EPS: f32 = 1e-12;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> y: array<f32>;
@group(0) @binding(3) var<storage, read> g: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
@group(0) @binding(5) var<storage, read_write> dx: array<f32>;
@group(0) @binding(6) var<storage, read_write> dy: array<f32>;

#import grid

// [||x||, ||y||, e, x . y] of row i.
fn terms(i: u32) -> vec4<f32> {
    var xx = 0.0;
    var yy = 0.0;
    var ee = 0.0;
    var xy = 0.0;
    for (var c = 0u; c < p.cols; c++) {
        let a = x[p.x_off + i * p.cols + c];
        let b = y[p.y_off + i * p.cols + c];
        xx = fma(a, a, xx);
        yy = fma(b, b, yy);
        ee = fma(a - b, a - b, ee);
        xy = fma(a, b, xy);
    }
    return vec4<f32>(sqrt(xx), sqrt(yy), sqrt(ee + DIST_EPS), xy);
}

@compute @workgroup_size(256, 1, 1)
fn recon_fwd(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
             @builtin(local_invocation_index) lid: u32) {
    let i = grid_index(wg, nwg, lid);
    if i >= p.rows {
        return;
    }
    let t = terms(i);
    let n = max(t.x, NORM_MIN);
    let m = max(t.y, NORM_MIN);
    out[p.out_off + 2u * i] = t.z / n;
    out[p.out_off + 2u * i + 1u] = t.w / (n * m);
}

fn upstream(e: u32) -> f32 {
    if p.g_off == NONE {
        return p.g_scale;
    }
    return p.g_scale * g[p.g_off + e];
}

@compute @workgroup_size(256, 1, 1)
fn recon_bwd(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
             @builtin(local_invocation_index) lid: u32) {
    let i = grid_index(wg, nwg, lid);
    if i >= p.rows {
        return;
    }
    let t = terms(i);
    let n = max(t.x, NORM_MIN);
    let m = max(t.y, NORM_MIN);
    let g_rel = upstream(2u * i);
    let g_cos = upstream(2u * i + 1u);
    let rel = t.z / n;
    let cos = t.w / (n * m);
    let kx = select(0.0, 1.0 / (t.x * t.x), t.x > NORM_MIN);
    let ky = select(0.0, 1.0 / (t.y * t.y), t.y > NORM_MIN);
    for (var c = 0u; c < p.cols; c++) {
        let a = x[p.x_off + i * p.cols + c];
        let b = y[p.y_off + i * p.cols + c];
        let e = (a - b) / (t.z * n);
        if p.dx_off != NONE {
            let at = p.dx_off + i * p.cols + c;
            var v = g_rel * (e - rel * a * kx) + g_cos * (b / (n * m) - cos * a * kx);
            if (p.accumulate & 1u) != 0u {
                v += dx[at];
            }
            dx[at] = v;
        }
        if p.dy_off != NONE {
            let at = p.dy_off + i * p.cols + c;
            var v = -g_rel * e + g_cos * (a / (n * m) - cos * b * ky);
            if (p.accumulate & 2u) != 0u {
                v += dy[at];
            }
            dy[at] = v;
        }
    }
}
