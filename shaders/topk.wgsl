// Top-k selection: the k highest scores whose row is not excluded, ties broken by the lower
// index, as (key, index) pairs sorted best first.
//
//   key(s) = order-preserving u32 of the f32 score (higher score, higher key); 0 = no candidate
//   (excluded rows and NaN scores become 0, and 0 sorts below every real score, -inf included).
//   topk_scores: block b of 2048 rows (scores[s_off + i], excluded when mask[m_off + i] != 0)
//                is sorted in workgroup memory; its best min(k, 2048) pairs go to
//                out[o_off + b * kk ...] (kk = min(k, 2048)).
//   topk_pairs:  the same over `count` candidate pairs from a previous pass (pairs[p_off + i]).
// Each pass shrinks n candidates to ceil(n / 2048) * kk; when n <= 2048 one workgroup leaves
// the final k. A pair is vec2(key, index); order: key descending, then index ascending.
//   topk_logits: for each of a finished selection's k pairs (pairs[p_off + i], i < k), the
//                score of its row in another score vector, scores[s_off + index], into
//                logits[o_off + i]; 0 for a pair that holds no candidate (key 0) or a row
//                index not below n. (The hedged query shows the base network's picks with
//                the head's logits; one invocation per pair.)
//
// Bindings: 0 params, 1 scores, 2 mask, 3 pairs (read), 4 out (read_write), 5 logits
// (read_write).

struct Params {
    n: u32,
    k: u32,
    s_off: u32,
    m_off: u32,
    p_off: u32,
    o_off: u32,
}

const BLOCK: u32 = 2048u;
const NONE: u32 = 0xffffffffu;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> scores: array<f32>;
@group(0) @binding(2) var<storage, read> mask: array<u32>;
@group(0) @binding(3) var<storage, read> pairs: array<vec2<u32>>;
@group(0) @binding(4) var<storage, read_write> out: array<vec2<u32>>;
@group(0) @binding(5) var<storage, read_write> logits: array<f32>;

var<workgroup> tile: array<vec2<u32>, 2048>;

fn order_key(s: f32) -> u32 {
    // NaN tested on the bits: WGSL lets compilers assume floats are never NaN.
    let b = bitcast<u32>(s);
    if (b & 0x7fffffffu) > 0x7f800000u {
        return 0u;
    }
    return select(b | 0x80000000u, ~b, (b & 0x80000000u) != 0u);
}

// True when a ranks before b.
fn before(a: vec2<u32>, b: vec2<u32>) -> bool {
    return a.x > b.x || (a.x == b.x && a.y < b.y);
}

// Bitonic sort of the tile, best first; 256 invocations, 4 compare-exchanges each per step.
fn sort_tile(lid: u32) {
    for (var size = 2u; size <= BLOCK; size <<= 1u) {
        for (var stride = size >> 1u; stride > 0u; stride >>= 1u) {
            workgroupBarrier();
            for (var r = 0u; r < 4u; r++) {
                let t = lid + 256u * r;
                let i = 2u * t - (t & (stride - 1u));
                let j = i + stride;
                let up = (i & size) == 0u;
                let a = tile[i];
                let b = tile[j];
                if before(b, a) == up {
                    tile[i] = b;
                    tile[j] = a;
                }
            }
        }
    }
    workgroupBarrier();
}

fn write_best(wg: u32, lid: u32) {
    let kk = min(p.k, BLOCK);
    for (var i = lid; i < kk; i += 256u) {
        out[p.o_off + wg * kk + i] = tile[i];
    }
}

@compute @workgroup_size(256, 1, 1)
fn topk_scores(@builtin(workgroup_id) wg3: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let base = wg3.x * BLOCK;
    for (var r = 0u; r < 8u; r++) {
        let i = base + lid + 256u * r;
        var e = vec2<u32>(0u, NONE);
        if i < p.n {
            var excluded = false;
            if p.m_off != NONE {
                excluded = mask[p.m_off + i] != 0u;
            }
            if !excluded {
                e = vec2<u32>(order_key(scores[p.s_off + i]), i);
            }
            if e.x == 0u {
                e.y = NONE;
            }
        }
        tile[lid + 256u * r] = e;
    }
    sort_tile(lid);
    write_best(wg3.x, lid);
}

@compute @workgroup_size(256, 1, 1)
fn topk_pairs(@builtin(workgroup_id) wg3: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let base = wg3.x * BLOCK;
    for (var r = 0u; r < 8u; r++) {
        let i = base + lid + 256u * r;
        var e = vec2<u32>(0u, NONE);
        if i < p.n {
            e = pairs[p.p_off + i];
        }
        tile[lid + 256u * r] = e;
    }
    sort_tile(lid);
    write_best(wg3.x, lid);
}

@compute @workgroup_size(256, 1, 1)
fn topk_logits(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    if i >= p.k {
        return;
    }
    let e = pairs[p.p_off + i];
    var v = 0.0;
    if e.x != 0u && e.y < p.n {
        v = scores[p.s_off + e.y];
    }
    logits[p.o_off + i] = v;
}
