// The one-class SVM's approximation for large sets: random Fourier features (Rahimi and Recht)
// of the RBF kernel and the linear one-class SVM on them, trained in its primal form
// (Schoelkopf et al.'s nu formulation):
//   J(w, rho) = 1/2 |w|^2 + 1/(nu B) sum_i max(0, rho - u_i) - rho,   u_i = w . phi(x_i)
// over a minibatch of B rows; the score is scale (rho - u).
//
//   rff_cos:      one invocation per element e < rows * cols: out[out_off + e] =
//                 scale cos(x[x_off + e]) (phi = sqrt(2 / D) cos(z Omega + b), the GEMM before).
//   primal_fwd:   one workgroup: out[out_off] = J, u (rows x 1 at u_off), w (cols values at
//                 w_off) and rho (at r_off) read from `u` and `model`.
//   primal_bwd_u: one invocation per row i: du[out_off + i] (+)= -g / (nu B) when rho > u_i,
//                 else 0; g = g_scale (g[g_off] when g_off != NONE).
//   primal_bwd_params: one workgroup: out[out_off + j] (+)= g w_j for j < cols (dJ/dw, the
//                 hinge's part arrives through u), out[r_out] (+)= g (c / (nu B) - 1), c the
//                 rows with rho > u_i ((+)=: when accumulate, and r_acc for rho's).
//   primal_score: one invocation per row i: out[out_off + i] = scale (rho - u_i).
//
// Bindings: 0 params, 1 x, 2 u, 3 model, 4 g (read); 5 out (read_write).

struct Params {
    rows: u32,
    cols: u32,
    x_off: u32,
    u_off: u32,
    w_off: u32,
    r_off: u32,
    out_off: u32,
    r_out: u32,
    g_off: u32,
    g_scale: f32,
    accumulate: u32,
    r_acc: u32,
    nu: f32,
    scale: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> u: array<f32>;
@group(0) @binding(3) var<storage, read> model: array<f32>;
@group(0) @binding(4) var<storage, read> g: array<f32>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;

const WG: u32 = 256u;
const NONE: u32 = 0xffffffffu;

#import grid
#import wgsum

fn upstream() -> f32 {
    if p.g_off == NONE {
        return p.g_scale;
    }
    return p.g_scale * g[p.g_off];
}

fn put(at: u32, v: f32, acc: u32) {
    if acc != 0u {
        out[at] += v;
    } else {
        out[at] = v;
    }
}

@compute @workgroup_size(256, 1, 1)
fn rff_cos(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
    let e = grid_index(wg, nwg, lid);
    if e >= p.rows * p.cols {
        return;
    }
    out[p.out_off + e] = p.scale * cos(x[p.x_off + e]);
}

@compute @workgroup_size(WG, 1, 1)
fn primal_fwd(lane: Lane) {
    let lid = lane.lid;
    let rho = model[p.r_off];
    var ww = 0.0;
    for (var j = lid; j < p.cols; j += WG) {
        let wj = model[p.w_off + j];
        ww = fma(wj, wj, ww);
    }
    var hinge = 0.0;
    for (var i = lid; i < p.rows; i += WG) {
        hinge += max(rho - u[p.u_off + i], 0.0);
    }
    let w_sum = workgroup_sum(ww, lane);
    let h_sum = workgroup_sum(hinge, lane);
    if lid == 0u {
        out[p.out_off] = 0.5 * w_sum + h_sum / (p.nu * f32(p.rows)) - rho;
    }
}

@compute @workgroup_size(256, 1, 1)
fn primal_bwd_u(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_index) lid: u32) {
    let i = grid_index(wg, nwg, lid);
    if i >= p.rows {
        return;
    }
    var d = 0.0;
    if model[p.r_off] > u[p.u_off + i] {
        d = -upstream() / (p.nu * f32(p.rows));
    }
    put(p.out_off + i, d, p.accumulate);
}

@compute @workgroup_size(WG, 1, 1)
fn primal_bwd_params(lane: Lane) {
    let lid = lane.lid;
    let gs = upstream();
    let rho = model[p.r_off];
    var c = 0.0;
    for (var i = lid; i < p.rows; i += WG) {
        c += select(0.0, 1.0, rho > u[p.u_off + i]);
    }
    for (var j = lid; j < p.cols; j += WG) {
        put(p.out_off + j, gs * model[p.w_off + j], p.accumulate);
    }
    let count = workgroup_sum(c, lane);
    if lid == 0u {
        put(p.r_out, gs * (count / (p.nu * f32(p.rows)) - 1.0), p.r_acc);
    }
}

@compute @workgroup_size(256, 1, 1)
fn primal_score(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_index) lid: u32) {
    let i = grid_index(wg, nwg, lid);
    if i >= p.rows {
        return;
    }
    out[p.out_off + i] = p.scale * (model[p.r_off] - u[p.u_off + i]);
}
