// Principal component analysis: the standardisation, the eigen-decomposition of the
// covariance and the scores. The covariance itself, Z^T Z, is a GEMM.
//
//   col_stats:   one workgroup per column j of x (rows x cols at x_off, f32):
//                out[st_off + j] = mean_j, out[st_off + cols + j] = sd_j (population: / rows;
//                two passes: the mean, then the squares about it).
//   standardize: z[z_off + e] = (x[x_off + e] - mean_j) / sd_j for e < rows * cols, j = e % cols,
//                the statistics read from stats[st_off ..] (a constant column is refused on the
//                host before it gets here).
//   jacobi:      one workgroup: the symmetric cols x cols matrix a (from word 0, destroyed) is
//                diagonalised by cyclic Jacobi rotations, v (cols x cols, from word 0) holding
//                their product (the eigenvectors in its columns). Each sweep pairs every two
//                indices once, in m - 1 rounds of m / 2 disjoint pairs (m = cols rounded up to
//                even; the circle method, index m - 1 fixed; a pair holding the padding index
//                is skipped). A round computes each pair's rotation from a (tan t of Numerical
//                Recipes: theta = (a_qq - a_pp) / (2 a_pq), t = sgn(theta) / (|theta| +
//                sqrt(theta^2 + 1)), sgn(0) = 1, c = 1 / sqrt(t^2 + 1), s = t c, both times
//                1.5 - (c^2 + s^2) / 2, a Newton step to unit norm), then applies
//                all of them to the columns of a and v, then to the rows of a. Sweeps stop after
//                `sweeps`, or before one when the off-diagonal squares are at most tol^2 times
//                all squares. Then the eigenvalues a_ii * scale, sorted descending (ties by
//                the lower index), the first k with their eigenvectors: out[l_off + r] = lambda_r,
//                out[w_off + i * k + r] = v[i, index of lambda_r] (W, cols x k, row-major).
//   pca_score:   one invocation per row i, with P = Z W (rows x k at p_off, a GEMM):
//                mode 0: out[out_off + i] = sum_r P_ir^2 / lambda_r (lambda from stats[l_off]),
//                over the components with lambda_r > 1e-6 lambda_0 (fewer rows than features
//                leave the rest at rounding noise);
//                mode 1: sum_j z_ij^2 - sum_r P_ir^2, at least 0 (the squared reconstruction
//                error from the k components).
//
// Bindings: 0 params, 1 x, 2 stats, 6 z_in, 7 pr (read); 3 out, 4 a, 5 v, 8 z (read_write).

struct Params {
    rows: u32,
    cols: u32,
    k: u32,
    x_off: u32,
    z_off: u32,
    st_off: u32,
    w_off: u32,
    l_off: u32,
    p_off: u32,
    out_off: u32,
    sweeps: u32,
    mode: u32,
    scale: f32,
    tol: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> stats: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<storage, read_write> a: array<f32>;
@group(0) @binding(5) var<storage, read_write> v: array<f32>;
@group(0) @binding(6) var<storage, read> z_in: array<f32>;
@group(0) @binding(7) var<storage, read> pr: array<f32>;
@group(0) @binding(8) var<storage, read_write> z: array<f32>;

const WG: u32 = 256u;
// Pairs per round at most: cols <= 1024.
const MAX_PAIRS: u32 = 512u;

#import grid
#import wgsum

@compute @workgroup_size(WG, 1, 1)
fn col_stats(@builtin(workgroup_id) wg: vec3<u32>, lane: Lane) {
    let j = wg.x;
    var s = 0.0;
    for (var i = lane.lid; i < p.rows; i += WG) {
        s += x[p.x_off + i * p.cols + j];
    }
    let mean = workgroup_sum(s, lane) / f32(p.rows);
    var q = 0.0;
    for (var i = lane.lid; i < p.rows; i += WG) {
        let d = x[p.x_off + i * p.cols + j] - mean;
        q = fma(d, d, q);
    }
    let sd = sqrt(workgroup_sum(q, lane) / f32(p.rows));
    if lane.lid == 0u {
        out[p.st_off + j] = mean;
        out[p.st_off + p.cols + j] = sd;
    }
}

@compute @workgroup_size(256, 1, 1)
fn standardize(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) lid: u32) {
    let e = grid_index(wg, nwg, lid);
    if e >= p.rows * p.cols {
        return;
    }
    let j = e % p.cols;
    z[p.z_off + e] = (x[p.x_off + e] - stats[p.st_off + j]) / stats[p.st_off + p.cols + j];
}

var<workgroup> pair_c: array<f32, MAX_PAIRS>;
var<workgroup> pair_s: array<f32, MAX_PAIRS>;
var<workgroup> pair_p: array<u32, MAX_PAIRS>;
var<workgroup> pair_q: array<u32, MAX_PAIRS>;
var<workgroup> converged: u32;

// Round s's pair i of m indices (circle method: index m - 1 fixed, the others rotating),
// the lower index first.
fn pair_of(s: u32, i: u32, m: u32) -> vec2<u32> {
    let n = m - 1u;
    var u = m - 1u;
    var w = s % n;
    if i > 0u {
        u = (s + i) % n;
        w = (s + n - i) % n;
    }
    return vec2<u32>(min(u, w), max(u, w));
}

@compute @workgroup_size(WG, 1, 1)
fn jacobi(lane: Lane) {
    let d = p.cols;
    let lid = lane.lid;
    let m = d + (d & 1u);
    let half = m / 2u;
    for (var e = lid; e < d * d; e += WG) {
        v[e] = select(0.0, 1.0, e / d == e % d);
    }
    storageBarrier();
    for (var sweep = 0u; sweep < p.sweeps; sweep++) {
        var off = 0.0;
        var all = 0.0;
        for (var e = lid; e < d * d; e += WG) {
            let q = a[e] * a[e];
            all += q;
            off += select(0.0, q, e / d != e % d);
        }
        let off_sum = workgroup_sum(off, lane);
        let all_sum = workgroup_sum(all, lane);
        if lid == 0u {
            converged = u32(off_sum <= p.tol * p.tol * all_sum);
        }
        if workgroupUniformLoad(&converged) != 0u {
            break;
        }
        for (var s = 0u; s + 1u < m; s++) {
            for (var i = lid; i < half; i += WG) {
                let pq = pair_of(s, i, m);
                var c = 1.0;
                var sn = 0.0;
                if pq.y < d {
                    let apq = a[pq.x * d + pq.y];
                    if apq != 0.0 {
                        let theta = (a[pq.y * d + pq.y] - a[pq.x * d + pq.x]) / (2.0 * apq);
                        let sg = select(-1.0, 1.0, theta >= 0.0);
                        let t = sg / (abs(theta) + sqrt(theta * theta + 1.0));
                        c = 1.0 / sqrt(t * t + 1.0);
                        sn = t * c;
                        // One Newton step on 1 / sqrt(c^2 + s^2): an approximate sqrt or
                        // division (llvmpipe's) leaves the rotation a hair off orthogonal, and
                        // thousands of rotations turn that into a bias on every eigenvalue.
                        let g = 1.5 - 0.5 * (c * c + sn * sn);
                        c *= g;
                        sn *= g;
                    }
                }
                pair_c[i] = c;
                pair_s[i] = sn;
                pair_p[i] = pq.x;
                pair_q[i] = pq.y;
            }
            workgroupBarrier();
            // The columns of a and v.
            for (var e = lid; e < half * d; e += WG) {
                let i = e / d;
                let r = e % d;
                let q = pair_q[i];
                if q < d {
                    let pp = pair_p[i];
                    let c = pair_c[i];
                    let sn = pair_s[i];
                    let ap = a[r * d + pp];
                    let aq = a[r * d + q];
                    a[r * d + pp] = c * ap - sn * aq;
                    a[r * d + q] = sn * ap + c * aq;
                    let vp = v[r * d + pp];
                    let vq = v[r * d + q];
                    v[r * d + pp] = c * vp - sn * vq;
                    v[r * d + q] = sn * vp + c * vq;
                }
            }
            storageBarrier();
            // The rows of a.
            for (var e = lid; e < half * d; e += WG) {
                let i = e / d;
                let k = e % d;
                let q = pair_q[i];
                if q < d {
                    let pp = pair_p[i];
                    let c = pair_c[i];
                    let sn = pair_s[i];
                    let ap = a[pp * d + k];
                    let aq = a[q * d + k];
                    a[pp * d + k] = c * ap - sn * aq;
                    a[q * d + k] = sn * ap + c * aq;
                }
            }
            storageBarrier();
            workgroupBarrier();
        }
    }
    storageBarrier();
    // The k largest eigenvalues, descending, and their vectors.
    for (var i = lid; i < d; i += WG) {
        let li = a[i * d + i];
        var rank = 0u;
        for (var j = 0u; j < d; j++) {
            let lj = a[j * d + j];
            rank += u32(lj > li || (lj == li && j < i));
        }
        if rank < p.k {
            out[p.l_off + rank] = li * p.scale;
            for (var r = 0u; r < d; r++) {
                out[p.w_off + r * p.k + rank] = v[r * d + i];
            }
        }
    }
}

@compute @workgroup_size(256, 1, 1)
fn pca_score(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
             @builtin(local_invocation_index) lid: u32) {
    let i = grid_index(wg, nwg, lid);
    if i >= p.rows {
        return;
    }
    var proj = 0.0;
    var weighted = 0.0;
    for (var r = 0u; r < p.k; r++) {
        let pv = pr[p.p_off + i * p.k + r];
        proj = fma(pv, pv, proj);
        let lam = stats[p.l_off + r];
        if lam > 1e-6 * stats[p.l_off] {
            weighted += pv * pv / lam;
        }
    }
    if p.mode == 0u {
        out[p.out_off + i] = weighted;
        return;
    }
    var all = 0.0;
    for (var j = 0u; j < p.cols; j++) {
        let zv = z_in[p.z_off + i * p.cols + j];
        all = fma(zv, zv, all);
    }
    out[p.out_off + i] = max(all - proj, 0.0);
}
