// A Gaussian mixture with diagonal covariances over rows x (rows x cols at x_off): k
// components, component j's record at p_off + j P, P = 1 + 2 cols:
//   [log w_j, mu_j (cols), var_j (cols)].
//
//   gd_estep:  one invocation per row i:
//              l_ij = log w_j - sum_t (log(2 pi var_jt) + (x_it - mu_jt)^2 / var_jt) / 2;
//              out[e_off + i] = -logsumexp_j l_ij (the row's negative log-likelihood) and,
//              unless r_off is NONE, out[r_off + i k + j] = exp(l_ij - logsumexp) (the
//              responsibilities). Parameters from prm.
//   gd_label:  one invocation per row i: out[a_off + i] = the component j of the largest l_ij
//              (the most responsible one; ties to the lower index), as an f32 index.
//   gd_onehot: one invocation per row i: out[r_off + i k + j] = 1 where aux[a_off + i] == j,
//              else 0 (hard assignments, k-means' labels, as responsibilities).
//   gd_mstep:  one workgroup per component j (an invocation per column, striding), from the
//              responsibilities aux[r_off ..]: N_j = sum_i r_ij (in row order); with N_j > 0,
//              mu_jt = sum_i r_ij x_it / N_j and var_jt = sum_i r_ij (x_it - mu_jt)^2 / N_j + reg
//              (two passes); with N_j = 0 the mean and variances are kept. log w_j =
//              log(max(N_j, 1e-30) / rows). The record is written in out at p_off; out[s_off +
//              2 j] = N_j and out[s_off + 2 j + 1] = sum_t (var_jt - reg) (the component's
//              variance: its rows' expected squared distance to its mean).
//
// Bindings: 0 params; 1 x, 2 prm, 3 aux (read); 4 out (read_write).

const WG: u32 = 256u;
const NONE: u32 = 0xffffffffu;
const LOG_2PI: f32 = 1.8378770664093453;
#import grid
#import wgsum

struct Params {
    rows: u32,
    cols: u32,
    k: u32,
    x_off: u32,
    p_off: u32,
    r_off: u32,
    e_off: u32,
    a_off: u32,
    s_off: u32,
    reg: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> prm: array<f32>;
@group(0) @binding(3) var<storage, read> aux: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

fn log_density(i: u32, j: u32) -> f32 {
    let rec = p.p_off + j * (1u + 2u * p.cols);
    var q = 0.0;
    for (var t = 0u; t < p.cols; t++) {
        let v = prm[rec + 1u + p.cols + t];
        let e = x[p.x_off + i * p.cols + t] - prm[rec + 1u + t];
        q += LOG_2PI + log(v) + e * e / v;
    }
    return prm[rec] - 0.5 * q;
}

@compute @workgroup_size(256, 1, 1)
fn gd_estep(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
    let i = grid_index(wg, nwg, lid);
    if i >= p.rows {
        return;
    }
    var m = log_density(i, 0u);
    for (var j = 1u; j < p.k; j++) {
        m = max(m, log_density(i, j));
    }
    var s = 0.0;
    for (var j = 0u; j < p.k; j++) {
        s += exp(log_density(i, j) - m);
    }
    let lse = m + log(s);
    out[p.e_off + i] = -lse;
    if p.r_off != NONE {
        for (var j = 0u; j < p.k; j++) {
            out[p.r_off + i * p.k + j] = exp(log_density(i, j) - lse);
        }
    }
}

@compute @workgroup_size(256, 1, 1)
fn gd_label(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
    let i = grid_index(wg, nwg, lid);
    if i >= p.rows {
        return;
    }
    var best = 0u;
    var bl = log_density(i, 0u);
    for (var j = 1u; j < p.k; j++) {
        let l = log_density(i, j);
        if l > bl {
            bl = l;
            best = j;
        }
    }
    out[p.a_off + i] = f32(best);
}

@compute @workgroup_size(256, 1, 1)
fn gd_onehot(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
             @builtin(local_invocation_index) lid: u32) {
    let i = grid_index(wg, nwg, lid);
    if i >= p.rows {
        return;
    }
    let a = u32(aux[p.a_off + i]);
    for (var j = 0u; j < p.k; j++) {
        out[p.r_off + i * p.k + j] = select(0.0, 1.0, a == j);
    }
}

@compute @workgroup_size(256, 1, 1)
fn gd_mstep(@builtin(workgroup_id) wg: vec3<u32>, lane: Lane) {
    let j = wg.x;
    let lid = lane.lid;
    var nj = 0.0;
    for (var i = 0u; i < p.rows; i++) {
        nj += aux[p.r_off + i * p.k + j];
    }
    let rec = p.p_off + j * (1u + 2u * p.cols);
    var spread = 0.0;
    for (var t = lid; t < p.cols; t += WG) {
        if nj > 0.0 {
            var s = 0.0;
            for (var i = 0u; i < p.rows; i++) {
                s += aux[p.r_off + i * p.k + j] * x[p.x_off + i * p.cols + t];
            }
            let mu = s / nj;
            var v = 0.0;
            for (var i = 0u; i < p.rows; i++) {
                let e = x[p.x_off + i * p.cols + t] - mu;
                v += aux[p.r_off + i * p.k + j] * e * e;
            }
            out[rec + 1u + t] = mu;
            out[rec + 1u + p.cols + t] = v / nj + p.reg;
        }
        spread += out[rec + 1u + p.cols + t] - p.reg;
    }
    let total = workgroup_sum(spread, lane);
    if lid == 0u {
        out[rec] = log(max(nj, 1e-30) / f32(p.rows));
        out[p.s_off + 2u * j] = nj;
        out[p.s_off + 2u * j + 1u] = total;
    }
}
