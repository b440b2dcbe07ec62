// The body of `gemm.wgsl` and `gemm16.wgsl` (see `gemm.wgsl`): every binding but A's, the
// tiles and both entry points. The file importing it declares A and `fn a_at(i: u32) -> f32`,
// element i of A's storage.
struct Params {
    m: u32,
    n: u32,
    k: u32,
    a_off: u32,
    a_rs: u32,
    a_cs: u32,
    a_mode: u32,
    a_aux_off: u32,
    a_ones_row: u32,
    b_off: u32,
    b_rs: u32,
    b_cs: u32,
    b_mode: u32,
    b_aux_off: u32,
    bias_off: u32,
    c_off: u32,
    ldc: u32,
    act: u32,
    dact: u32,
    alpha: f32,
    accumulate: u32,
}

const NONE: u32 = 0xffffffffu;
const BM: u32 = 32u;
const BN: u32 = 32u;
const BK: u32 = 16u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(2) var<storage, read> a_aux: array<f32>;
@group(0) @binding(3) var<storage, read> b: array<f32>;
@group(0) @binding(4) var<storage, read> b_aux: array<f32>;
@group(0) @binding(5) var<storage, read_write> c: array<f32>;

var<workgroup> a_tile: array<f32, 512>; // [BK][BM]
var<workgroup> b_tile: array<f32, 512>; // [BK][BN]

fn load_a(m: u32, k: u32) -> f32 {
    if m >= p.m || k >= p.k {
        return 0.0;
    }
    if m == p.a_ones_row {
        return 1.0;
    }
    let rel = m * p.a_rs + k * p.a_cs;
    var v = a_at(p.a_off + rel);
    if p.a_mode == 1u {
        v *= act_grad_from_y(p.dact, p.alpha, a_aux[p.a_aux_off + rel]);
    }
    return v;
}

fn load_b(k: u32, n: u32) -> f32 {
    if k >= p.k || n >= p.n {
        return 0.0;
    }
    let rel = k * p.b_rs + n * p.b_cs;
    var v = b[p.b_off + rel];
    if p.b_mode == 1u {
        v *= act_grad_from_y(p.dact, p.alpha, b_aux[p.b_aux_off + rel]);
    }
    return v;
}

// Where element e of a tile load goes: (x, y) = (row or column within the tile's `width`,
// position along K < BK). With `k_fast` consecutive e walk along K, else along the width, so
// neighbouring threads read neighbouring words of the operand's contiguous dimension.
fn tile_slot(e: u32, k_fast: bool, width: u32) -> vec2<u32> {
    if k_fast {
        return vec2<u32>(e / BK, e % BK);
    }
    return vec2<u32>(e % width, e / width);
}

@compute @workgroup_size(16, 16, 1)
fn gemm(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid3: vec3<u32>) {
    let tx = lid3.x;
    let ty = lid3.y;
    let lid = ty * 16u + tx;
    let m0 = wg.y * BM;
    let n0 = wg.x * BN;
    // The 2x2 register block as two vectors (row ty and row ty + 16; columns tx and tx + 16):
    // named values, never indexed arrays, so no compiler parks them in local memory.
    var acc0 = vec2<f32>(0.0);
    var acc1 = vec2<f32>(0.0);
    // Load order follows the contiguous dimension so neighbouring threads read neighbouring words.
    let a_k_fast = p.a_cs == 1u;
    let b_n_fast = p.b_cs == 1u;
    for (var k0 = 0u; k0 < p.k; k0 += BK) {
        for (var r = 0u; r < 2u; r++) {
            let e = lid + 256u * r;
            let a_at = tile_slot(e, a_k_fast, BM);
            a_tile[a_at.y * BM + a_at.x] = load_a(m0 + a_at.x, k0 + a_at.y);
            let b_at = tile_slot(e, !b_n_fast, BN);
            b_tile[b_at.y * BN + b_at.x] = load_b(k0 + b_at.y, n0 + b_at.x);
        }
        workgroupBarrier();
        for (var kk = 0u; kk < BK; kk++) {
            let bv = vec2<f32>(b_tile[kk * BN + tx], b_tile[kk * BN + tx + 16u]);
            acc0 = fma(vec2<f32>(a_tile[kk * BM + ty]), bv, acc0);
            acc1 = fma(vec2<f32>(a_tile[kk * BM + ty + 16u]), bv, acc1);
        }
        workgroupBarrier();
    }
    store(m0 + ty, n0 + tx, acc0.x);
    store(m0 + ty, n0 + tx + 16u, acc0.y);
    store(m0 + ty + 16u, n0 + tx, acc1.x);
    store(m0 + ty + 16u, n0 + tx + 16u, acc1.y);
}

fn store(m: u32, n: u32, acc: f32) {
    if m >= p.m || n >= p.n {
        return;
    }
    var v = acc;
    if p.bias_off != NONE {
        v += b[p.bias_off + n];
    }
    v = act_apply(p.act, p.alpha, v);
    let ci = p.c_off + m * p.ldc + n;
    if p.accumulate != 0u {
        v += c[ci];
    }
    c[ci] = v;
}

const WM: u32 = 64u;
const WN: u32 = 64u;

var<workgroup> a_wide: array<f32, 1024>; // [BK][WM]
var<workgroup> b_wide: array<f32, 1024>; // [BK][WN]

// Row m of C, columns n0 + 16j for the four lanes of `acc`.
fn store4(m: u32, n0: u32, acc: vec4<f32>) {
    store(m, n0, acc.x);
    store(m, n0 + 16u, acc.y);
    store(m, n0 + 32u, acc.z);
    store(m, n0 + 48u, acc.w);
}

@compute @workgroup_size(16, 16, 1)
fn gemm_wide(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid3: vec3<u32>) {
    let tx = lid3.x;
    let ty = lid3.y;
    let lid = ty * 16u + tx;
    let m0 = wg.y * WM;
    let n0 = wg.x * WN;
    // The 4x4 block: rows ty + 16i (one vector each), columns tx + 16j (the lanes).
    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    let a_k_fast = p.a_cs == 1u;
    let b_n_fast = p.b_cs == 1u;
    for (var k0 = 0u; k0 < p.k; k0 += BK) {
        for (var r = 0u; r < 4u; r++) {
            let e = lid + 256u * r;
            let a_at = tile_slot(e, a_k_fast, WM);
            a_wide[a_at.y * WM + a_at.x] = load_a(m0 + a_at.x, k0 + a_at.y);
            let b_at = tile_slot(e, !b_n_fast, WN);
            b_wide[b_at.y * WN + b_at.x] = load_b(k0 + b_at.y, n0 + b_at.x);
        }
        workgroupBarrier();
        for (var kk = 0u; kk < BK; kk++) {
            let row = kk * WN + tx;
            let bv = vec4<f32>(b_wide[row], b_wide[row + 16u], b_wide[row + 32u], b_wide[row + 48u]);
            let col = kk * WM + ty;
            acc0 = fma(vec4<f32>(a_wide[col]), bv, acc0);
            acc1 = fma(vec4<f32>(a_wide[col + 16u]), bv, acc1);
            acc2 = fma(vec4<f32>(a_wide[col + 32u]), bv, acc2);
            acc3 = fma(vec4<f32>(a_wide[col + 48u]), bv, acc3);
        }
        workgroupBarrier();
    }
    store4(m0 + ty, n0 + tx, acc0);
    store4(m0 + ty + 16u, n0 + tx, acc1);
    store4(m0 + ty + 32u, n0 + tx, acc2);
    store4(m0 + ty + 48u, n0 + tx, acc3);
}
