// k-means on rows x (rows x cols at x_off) with k centroids c (k x cols at c_off).
//
//   km_assign:    one invocation per row i: a_i = the nearest centroid (squared Euclidean
//                 distance, ties to the lower index) and d_i = that squared distance, into
//                 out[a_off + i] (as an f32 index; not written when a_off is NONE) and
//                 out[d_off + i].
//   km_update:    one workgroup per centroid j (an invocation per column, striding): the mean
//                 of the rows assigned to j (aux[a_off + i] == j), summed in row order; a
//                 centroid with no rows keeps its value. out[c_off ..] holds the centroids (read
//                 and written); out[s_off + j] gets the squared distance the centroid moved
//                 (0 when it kept its value).
//   km_stats:     one workgroup per centroid j: out[s_off + 2 j] = the rows assigned to j and
//                 out[s_off + 2 j + 1] = their mean squared distance to it (the cluster's
//                 variance; 0 with no rows), from aux's assignments (a_off) and distances
//                 (d_off).
//   km_seed_dist: k-means++ seeding, one invocation per row: the squared distance from row i
//                 to centroid `idx` (cent at c_off), into out[m_off + i] (mode 0) or kept as the
//                 smaller of it and what is there (mode 1).
//   km_seed_pick: one workgroup: row r of x becomes centroid `idx` (out at c_off), r drawn
//                 with probability aux[m_off + r] / sum (mode 0; uniformly when the sum is 0)
//                 or uniformly (mode 1), by the uniform u = rng_unit(rng_u32(seed, 0, tag, idx)):
//                 with s the sum, r is the first row whose running sum passes u s (rows of
//                 weight 0 are never drawn), and floor(u rows) for a uniform draw.
//
// Bindings: 0 params; 1 x, 2 cent, 3 aux (read); 4 out (read_write).

#import rng
#import grid

const WG: u32 = 256u;
const NONE: u32 = 0xffffffffu;
#import wgsum

struct Params {
    rows: u32,
    cols: u32,
    k: u32,
    x_off: u32,
    c_off: u32,
    a_off: u32,
    d_off: u32,
    s_off: u32,
    m_off: u32,
    idx: u32,
    mode: u32,
    seed: u32,
    tag: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> cent: array<f32>;
@group(0) @binding(3) var<storage, read> aux: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

fn sq_dist_to(row: u32, cj: u32) -> f32 {
    var s = 0.0;
    for (var t = 0u; t < p.cols; t++) {
        let e = x[p.x_off + row * p.cols + t] - cent[cj + t];
        s += e * e;
    }
    return s;
}

@compute @workgroup_size(256, 1, 1)
fn km_assign(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
             @builtin(local_invocation_index) lid: u32) {
    let i = grid_index(wg, nwg, lid);
    if i >= p.rows {
        return;
    }
    var best = 0u;
    var bd = sq_dist_to(i, p.c_off);
    for (var j = 1u; j < p.k; j++) {
        let d = sq_dist_to(i, p.c_off + j * p.cols);
        if d < bd {
            bd = d;
            best = j;
        }
    }
    if p.a_off != NONE {
        out[p.a_off + i] = f32(best);
    }
    out[p.d_off + i] = bd;
}

@compute @workgroup_size(256, 1, 1)
fn km_update(@builtin(workgroup_id) wg: vec3<u32>, lane: Lane) {
    let j = wg.x;
    let lid = lane.lid;
    var count = 0u;
    for (var i = 0u; i < p.rows; i++) {
        if u32(aux[p.a_off + i]) == j {
            count++;
        }
    }
    var moved = 0.0;
    if count > 0u {
        let base = p.c_off + j * p.cols;
        for (var t = lid; t < p.cols; t += WG) {
            var s = 0.0;
            for (var i = 0u; i < p.rows; i++) {
                if u32(aux[p.a_off + i]) == j {
                    s += x[p.x_off + i * p.cols + t];
                }
            }
            let m = s / f32(count);
            let e = m - out[base + t];
            moved += e * e;
            out[base + t] = m;
        }
    }
    let total = workgroup_sum(moved, lane);
    if lid == 0u {
        out[p.s_off + j] = total;
    }
}

@compute @workgroup_size(256, 1, 1)
fn km_stats(@builtin(workgroup_id) wg: vec3<u32>, lane: Lane) {
    let j = wg.x;
    let lid = lane.lid;
    var n = 0.0;
    var s = 0.0;
    for (var i = lid; i < p.rows; i += WG) {
        if u32(aux[p.a_off + i]) == j {
            n += 1.0;
            s += aux[p.d_off + i];
        }
    }
    let count = workgroup_sum(n, lane);
    let sum = workgroup_sum(s, lane);
    if lid == 0u {
        out[p.s_off + 2u * j] = count;
        out[p.s_off + 2u * j + 1u] = select(0.0, sum / max(count, 1.0), count > 0.0);
    }
}

@compute @workgroup_size(256, 1, 1)
fn km_seed_dist(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_index) lid: u32) {
    let i = grid_index(wg, nwg, lid);
    if i >= p.rows {
        return;
    }
    let d = sq_dist_to(i, p.c_off + p.idx * p.cols);
    if p.mode == 0u {
        out[p.m_off + i] = d;
    } else {
        out[p.m_off + i] = min(out[p.m_off + i], d);
    }
}

var<workgroup> chunk_sum: array<f32, 256>;
var<workgroup> picked: u32;

@compute @workgroup_size(256, 1, 1)
fn km_seed_pick(lane: Lane) {
    let lid = lane.lid;
    let n = p.rows;
    let chunk = (n + WG - 1u) / WG;
    let lo = min(lid * chunk, n);
    let hi = min(lo + chunk, n);
    var s = 0.0;
    if p.mode == 0u {
        for (var i = lo; i < hi; i++) {
            s += aux[p.m_off + i];
        }
    }
    chunk_sum[lid] = s;
    workgroupBarrier();
    if lid == 0u {
        let u = rng_unit(rng_u32(p.seed, 0u, p.tag, p.idx));
        var total = 0.0;
        for (var t = 0u; t < WG; t++) {
            total += chunk_sum[t];
        }
        var r = min(u32(u * f32(n)), n - 1u);
        if p.mode == 0u && total > 0.0 {
            let goal = u * total;
            var acc = 0.0;
            var done = false;
            for (var t = 0u; t < WG; t++) {
                if acc + chunk_sum[t] > goal {
                    // The row that passes the goal, or (rounding) the chunk's last weighted
                    // row.
                    for (var i = min(t * chunk, n); i < min(t * chunk + chunk, n); i++) {
                        let w = aux[p.m_off + i];
                        if w > 0.0 {
                            r = i;
                            acc += w;
                            if acc > goal {
                                break;
                            }
                        }
                    }
                    done = true;
                    break;
                }
                acc += chunk_sum[t];
            }
            if !done {
                // u s rounded up to s: the last weighted row.
                for (var i = n; i > 0u; i--) {
                    if aux[p.m_off + i - 1u] > 0.0 {
                        r = i - 1u;
                        break;
                    }
                }
            }
        }
        picked = r;
    }
    workgroupBarrier();
    let r = picked;
    let dst = p.c_off + p.idx * p.cols;
    for (var t = lid; t < p.cols; t += WG) {
        out[dst + t] = x[p.x_off + r * p.cols + t];
    }
}
