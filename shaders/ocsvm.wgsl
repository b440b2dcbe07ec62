// One-class SVM with the RBF kernel k(x, y) = exp(-gamma ||x - y||^2) (Schoelkopf et al.), in
// LIBSVM's form: minimise 1/2 a^T K a subject to 0 <= a_i <= 1 and sum_i a_i = nu n; a row's
// decision value is f(x) = sum_i a_i k(x_i, x) - rho (negative outside the support).
//
//   sq_norms:  one invocation per row i of x (rows x cols at x_off):
//              out[out_off + i] = sum_j x_ij^2.
//   rbf:       one invocation per element e < rows * cols of the Gram matrix g (rows x cols at
//              g_off, g_ij = x_i . y_j): out[out_off + e] = exp(-gamma max(0, na_i + nb_j -
//              2 g_ij)), na at a_off and nb at b_off of `norms`. g and out may not alias.
//   smo_init:  one invocation per i < rows (= n): state[al_off + i] = 1 for i < floor(nu n),
//              the remainder nu n - floor(nu n) at i = floor(nu n), 0 after (LIBSVM's start);
//              the status words (below) zeroed.
//   smo:       one workgroup: sequential minimal optimisation on the n x n kernel matrix kmat
//              (at k_off, from rbf), the multipliers a at state[al_off], the gradient G = K a at
//              state[gr_off], the status at state[st_off]: [converged, iterations, rho, gap].
//              Nothing is done once converged. Otherwise G is first recomputed from a (so f32
//              rounding in its updates does not build up over dispatches), then up to `iters`
//              iterations of LIBSVM's solver without shrinking:
//                i = argmax over a_t < 1 of -G_t (gmax the value);
//                gmax2 = max over a_t > 0 of G_t; j = argmax over a_t > 0 with b_t = gmax + G_t
//                > 0 of b_t^2 / q_t, q_t = K_ii + K_tt - 2 K_it (TAU when not positive);
//                stop when gmax + gmax2 < eps or no j (ties: the lowest index);
//                delta = (G_i - G_j) / q_ij, a_i -= delta, a_j += delta, clipped to the box
//                keeping a_i + a_j; G_t += K_ti da_i + K_tj da_j.
//              Then rho: the mean of G over 0 < a < 1, else the midpoint of max G over a = 1 and
//              min G over a = 0 (LIBSVM's calculate_rho); gap = gmax + gmax2 at the stop.
//   decision:  one invocation per row i, with g the Gram of the rows x (rows x cols at x_off)
//              and the n = sv support rows (rows x n at g_off): out[out_off + i] = rho -
//              sum_j a_j exp(-gamma max(0, |x_i|^2 + nb_j - 2 g_ij)): the negated decision
//              value, higher = more anomalous. The support rows' squared norms nb from
//              `norms` at b_off; from `model`, a at al_off and rho at st_off.
//
// Bindings: 0 params, 1 x, 2 g, 3 norms, 5 kmat, 7 model (read); 4 out, 6 state (read_write).

struct Params {
    rows: u32,
    cols: u32,
    sv: u32,
    x_off: u32,
    g_off: u32,
    a_off: u32,
    b_off: u32,
    out_off: u32,
    k_off: u32,
    al_off: u32,
    gr_off: u32,
    st_off: u32,
    iters: u32,
    nu: f32,
    gamma: f32,
    eps: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> g: array<f32>;
@group(0) @binding(3) var<storage, read> norms: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
@group(0) @binding(5) var<storage, read> kmat: array<f32>;
@group(0) @binding(6) var<storage, read_write> state: array<f32>;
@group(0) @binding(7) var<storage, read> model: array<f32>;

const WG: u32 = 256u;
const NO_INDEX: u32 = 0xffffffffu;
const LOWEST: f32 = -3.0e38;
// LIBSVM's TAU: the curvature taken when K_ii + K_jj - 2 K_ij is not positive.
const TAU: f32 = 1e-12;

#import grid
#import wgsum

@compute @workgroup_size(256, 1, 1)
fn sq_norms(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
    let i = grid_index(wg, nwg, lid);
    if i >= p.rows {
        return;
    }
    var s = 0.0;
    for (var j = 0u; j < p.cols; j++) {
        let v = x[p.x_off + i * p.cols + j];
        s = fma(v, v, s);
    }
    out[p.out_off + i] = s;
}

@compute @workgroup_size(256, 1, 1)
fn rbf(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
       @builtin(local_invocation_index) lid: u32) {
    let e = grid_index(wg, nwg, lid);
    if e >= p.rows * p.cols {
        return;
    }
    let i = e / p.cols;
    let j = e % p.cols;
    let d2 = norms[p.a_off + i] + norms[p.b_off + j] - 2.0 * g[p.g_off + e];
    out[p.out_off + e] = exp(-p.gamma * max(d2, 0.0));
}

@compute @workgroup_size(256, 1, 1)
fn smo_init(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
    let i = grid_index(wg, nwg, lid);
    if i < 4u {
        state[p.st_off + i] = 0.0;
    }
    if i >= p.rows {
        return;
    }
    let total = p.nu * f32(p.rows);
    let full = u32(floor(total));
    var a = 0.0;
    if i < full {
        a = 1.0;
    } else if i == full {
        a = total - f32(full);
    }
    state[p.al_off + i] = a;
}

var<workgroup> best_v: array<f32, WG>;
var<workgroup> best_i: array<u32, WG>;
var<workgroup> top_v: array<f32, WG>;
var<workgroup> pick: vec2<u32>;
var<workgroup> done: u32;
var<workgroup> step_a: vec2<f32>;

// The largest `v` over the workgroup with its index (ties: the lower index; NO_INDEX loses to
// any index), and the largest `w`: every invocation gets (v, index bits, w).
fn workgroup_best(v: f32, i: u32, w: f32, lid: u32) -> vec3<f32> {
    best_v[lid] = v;
    best_i[lid] = i;
    top_v[lid] = w;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
        if lid < s {
            let ov = best_v[lid + s];
            let oi = best_i[lid + s];
            if ov > best_v[lid] || (ov == best_v[lid] && oi < best_i[lid]) {
                best_v[lid] = ov;
                best_i[lid] = oi;
            }
            top_v[lid] = max(top_v[lid], top_v[lid + s]);
        }
        workgroupBarrier();
    }
    let r = vec3<f32>(best_v[0], bitcast<f32>(best_i[0]), top_v[0]);
    workgroupBarrier();
    return r;
}

fn kij(i: u32, j: u32) -> f32 {
    return kmat[p.k_off + i * p.rows + j];
}

@compute @workgroup_size(WG, 1, 1)
fn smo(lane: Lane) {
    let lid = lane.lid;
    let n = p.rows;
    if lid == 0u {
        done = u32(state[p.st_off] != 0.0);
    }
    if workgroupUniformLoad(&done) != 0u {
        return;
    }
    // G = K a.
    for (var t = lid; t < n; t += WG) {
        var s = 0.0;
        for (var u = 0u; u < n; u++) {
            let a = state[p.al_off + u];
            if a != 0.0 {
                s = fma(kij(t, u), a, s);
            }
        }
        state[p.gr_off + t] = s;
    }
    storageBarrier();
    workgroupBarrier();
    var it = 0u;
    var gap = 0.0;
    var converged = 0u;
    loop {
        // i: the most violating multiplier that can grow.
        var bv = LOWEST;
        var bi = NO_INDEX;
        for (var t = lid; t < n; t += WG) {
            let v = -state[p.gr_off + t];
            if state[p.al_off + t] < 1.0 && v > bv {
                bv = v;
                bi = t;
            }
        }
        let first = workgroup_best(bv, bi, LOWEST, lid);
        let gmax = first.x;
        let i = bitcast<u32>(first.y);
        // j: the one that can shrink with the largest second-order gain; gmax2 beside it.
        var jv = LOWEST;
        var ji = NO_INDEX;
        var g2 = LOWEST;
        if i != NO_INDEX {
            let kii = kij(i, i);
            for (var t = lid; t < n; t += WG) {
                if state[p.al_off + t] > 0.0 {
                    let gt = state[p.gr_off + t];
                    g2 = max(g2, gt);
                    let b = gmax + gt;
                    if b > 0.0 {
                        var q = kii + kij(t, t) - 2.0 * kij(i, t);
                        if q <= 0.0 {
                            q = TAU;
                        }
                        let v = b * b / q;
                        if v > jv {
                            jv = v;
                            ji = t;
                        }
                    }
                }
            }
        }
        let second = workgroup_best(jv, ji, g2, lid);
        let j = bitcast<u32>(second.y);
        gap = 0.0;
        if i != NO_INDEX {
            gap = gmax + second.z;
        }
        if lid == 0u {
            var stop = 0u;
            if i == NO_INDEX || j == NO_INDEX || gap < p.eps {
                stop = 1u;
                converged = 1u;
            } else if it >= p.iters {
                stop = 1u;
            }
            if stop == 0u {
                let ai = state[p.al_off + i];
                let aj = state[p.al_off + j];
                var q = kij(i, i) + kij(j, j) - 2.0 * kij(i, j);
                if q <= 0.0 {
                    q = TAU;
                }
                let delta = (state[p.gr_off + i] - state[p.gr_off + j]) / q;
                let sum = ai + aj;
                var ni = ai - delta;
                var nj = aj + delta;
                if sum > 1.0 {
                    if ni > 1.0 {
                        ni = 1.0;
                        nj = sum - 1.0;
                    }
                } else if nj < 0.0 {
                    nj = 0.0;
                    ni = sum;
                }
                if sum > 1.0 {
                    if nj > 1.0 {
                        nj = 1.0;
                        ni = sum - 1.0;
                    }
                } else if ni < 0.0 {
                    ni = 0.0;
                    nj = sum;
                }
                state[p.al_off + i] = ni;
                state[p.al_off + j] = nj;
                step_a = vec2<f32>(ni - ai, nj - aj);
                pick = vec2<u32>(i, j);
            }
            done = stop;
        }
        if workgroupUniformLoad(&done) != 0u {
            break;
        }
        let ij = pick;
        let da = step_a;
        for (var t = lid; t < n; t += WG) {
            let gt = state[p.gr_off + t];
            state[p.gr_off + t] = fma(kij(t, ij.x), da.x, fma(kij(t, ij.y), da.y, gt));
        }
        storageBarrier();
        workgroupBarrier();
        it++;
    }
    storageBarrier();
    // rho (LIBSVM's calculate_rho for one class).
    var free_sum = 0.0;
    var free_n = 0.0;
    var lb = LOWEST;
    var ub = -LOWEST;
    for (var t = lid; t < n; t += WG) {
        let a = state[p.al_off + t];
        let gt = state[p.gr_off + t];
        if a >= 1.0 {
            lb = max(lb, gt);
        } else if a <= 0.0 {
            ub = min(ub, gt);
        } else {
            free_sum += gt;
            free_n += 1.0;
        }
    }
    let fs = workgroup_sum(free_sum, lane);
    let free_count = workgroup_sum(free_n, lane);
    let lb_all = workgroup_best(lb, 0u, -ub, lid);
    if lid == 0u {
        var rho = (lb_all.x - lb_all.z) * 0.5;
        if free_count > 0.0 {
            rho = fs / free_count;
        }
        state[p.st_off] = f32(converged);
        state[p.st_off + 1u] += f32(it);
        state[p.st_off + 2u] = rho;
        state[p.st_off + 3u] = gap;
    }
}

@compute @workgroup_size(256, 1, 1)
fn decision(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
    let i = grid_index(wg, nwg, lid);
    if i >= p.rows {
        return;
    }
    var xx = 0.0;
    for (var c = 0u; c < p.cols; c++) {
        let v = x[p.x_off + i * p.cols + c];
        xx = fma(v, v, xx);
    }
    let n = p.sv;
    var s = 0.0;
    for (var j = 0u; j < n; j++) {
        let d2 = xx + norms[p.b_off + j] - 2.0 * g[p.g_off + i * n + j];
        s = fma(model[p.al_off + j], exp(-p.gamma * max(d2, 0.0)), s);
    }
    out[p.out_off + i] = model[p.st_off] - s;
}
