// Order statistics and row selection for the iterative detector: a percentile of n values
// on the GPU (so the host reads back one number, not the values), the rows at or below a
// threshold gathered into a row list, and a per-row lookup into a small table.
//
// The values are v[v_off + e stride], e < n.
//
//   quantile:     one workgroup: out[o_off] = a + frac (b - a), a and b the values of rank
//                 `lo` and `hi` (0-based, ascending: numpy's linear percentile with lo =
//                 floor(q (n - 1)), hi = ceil, frac = q (n - 1) - lo, worked out on the host).
//                 Each rank by radix select on the values' order-preserving 32-bit keys,
//                 eight bits a pass from the top, a workgroup histogram per pass.
//   select_below: one workgroup: the rows e with v[e] <= thr[t_off], in order, into the row
//                 list lab: lab[l_off] = their count, lab[l_off + 1 + r] = row r's index.
//   lookup:       one invocation per row e: out[o_off + e] = w[w_off + u32(v[e]) width + col]
//                 (a row's cluster statistic from its cluster's index).
//
// Bindings: 0 params; 1 v, 2 w, 3 thr (read); 4 out, 5 lab (read_write).

#import grid

struct Params {
    n: u32,
    v_off: u32,
    stride: u32,
    lo: u32,
    hi: u32,
    frac: f32,
    o_off: u32,
    t_off: u32,
    l_off: u32,
    w_off: u32,
    width: u32,
    col: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> v: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read> thr: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
@group(0) @binding(5) var<storage, read_write> lab: array<u32>;

fn value(e: u32) -> f32 {
    return v[p.v_off + e * p.stride];
}

// A key whose unsigned order is the values' order (negatives reversed below the positives).
fn key_of(x: f32) -> u32 {
    let b = bitcast<u32>(x);
    return select(b ^ 0x80000000u, ~b, (b & 0x80000000u) != 0u);
}

fn value_of(k: u32) -> f32 {
    return bitcast<f32>(select(~k, k ^ 0x80000000u, (k & 0x80000000u) != 0u));
}

var<workgroup> hist: array<atomic<u32>, 256>;
// The key's bits found so far and the rank left within them.
var<workgroup> found: vec2<u32>;

// The key of the value of rank `rank`.
fn select_rank(rank: u32, lid: u32) -> u32 {
    var prefix = 0u;
    var mask = 0u;
    var left = rank;
    for (var round = 0u; round < 4u; round++) {
        let shift = 24u - 8u * round;
        atomicStore(&hist[lid], 0u);
        workgroupBarrier();
        for (var e = lid; e < p.n; e += 256u) {
            let k = key_of(value(e));
            if (k & mask) == prefix {
                atomicAdd(&hist[(k >> shift) & 255u], 1u);
            }
        }
        workgroupBarrier();
        if lid == 0u {
            var acc = 0u;
            var bin = 255u;
            for (var b = 0u; b < 256u; b++) {
                let c = atomicLoad(&hist[b]);
                if acc + c > left {
                    bin = b;
                    break;
                }
                acc += c;
            }
            found = vec2<u32>(prefix | (bin << shift), left - acc);
        }
        workgroupBarrier();
        prefix = found.x;
        left = found.y;
        mask |= 255u << shift;
        workgroupBarrier();
    }
    return prefix;
}

@compute @workgroup_size(256, 1, 1)
fn quantile(@builtin(local_invocation_index) lid: u32) {
    let a = value_of(select_rank(p.lo, lid));
    var b = a;
    if p.hi != p.lo {
        b = value_of(select_rank(p.hi, lid));
    }
    if lid == 0u {
        out[p.o_off] = select(a + p.frac * (b - a), a, p.frac == 0.0);
    }
}

var<workgroup> below: array<u32, 256>;

@compute @workgroup_size(256, 1, 1)
fn select_below(@builtin(local_invocation_index) lid: u32) {
    let t = thr[p.t_off];
    let chunk = (p.n + 255u) / 256u;
    let lo = min(lid * chunk, p.n);
    let hi = min(lo + chunk, p.n);
    var c = 0u;
    for (var e = lo; e < hi; e++) {
        if value(e) <= t {
            c++;
        }
    }
    below[lid] = c;
    workgroupBarrier();
    if lid == 0u {
        var acc = 0u;
        for (var s = 0u; s < 256u; s++) {
            let here = below[s];
            below[s] = acc;
            acc += here;
        }
        lab[p.l_off] = acc;
    }
    workgroupBarrier();
    var at = p.l_off + 1u + below[lid];
    for (var e = lo; e < hi; e++) {
        if value(e) <= t {
            lab[at] = e;
            at++;
        }
    }
}

@compute @workgroup_size(256, 1, 1)
fn lookup(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_index) lid: u32) {
    let e = grid_index(wg, nwg, lid);
    if e >= p.n {
        return;
    }
    out[p.o_off + e] = w[p.w_off + u32(value(e)) * p.width + p.col];
}
