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
// position along K < `depth`). With `k_fast` consecutive e walk along K, else along the width,
// so neighbouring threads read neighbouring words of the operand's contiguous dimension.
fn tile_slot(e: u32, k_fast: bool, width: u32, depth: u32) -> vec2<u32> {
    if k_fast {
        return vec2<u32>(e / depth, e % depth);
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
            let a_at = tile_slot(e, a_k_fast, BM, BK);
            a_tile[a_at.y * BM + a_at.x] = load_a(m0 + a_at.x, k0 + a_at.y);
            let b_at = tile_slot(e, !b_n_fast, BN, BK);
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

// Workgroup memory of `gemm_wide` (A [BK][WM] at 0, B [BK][WN] at WIDE_B), `gemm_sliced`
// (A [SK * BK][BM] at 0, B [SK * BK][BN] at SLICED_B; then the partial sums) and `gemm_huge`
// (A [BK][HM] at 0, B [BK][HN] at HUGE_B): one array for all three, 16 KiB, so the module never
// asks for more than WebGPU's default limit whichever way a backend counts it.
var<workgroup> big_tile: array<f32, 4096>;
const WIDE_B: u32 = 1024u;

// Stages the K block at k0 of a `width`-square tile at (m0, n0) in `big_tile`: A's rows m0 ..
// m0 + width as [depth][width] from 0, B's columns n0 .. n0 + width as [depth][width] from
// `b_base`; each of the 256 threads loads every 256th element.
fn stage_big(lid: u32, m0: u32, n0: u32, k0: u32, width: u32, depth: u32, b_base: u32) {
    let a_k_fast = p.a_cs == 1u;
    let b_n_fast = p.b_cs == 1u;
    for (var e = lid; e < width * depth; e += 256u) {
        let a_at = tile_slot(e, a_k_fast, width, depth);
        big_tile[a_at.y * width + a_at.x] = load_a(m0 + a_at.x, k0 + a_at.y);
        let b_at = tile_slot(e, !b_n_fast, width, depth);
        big_tile[b_base + b_at.y * width + b_at.x] = load_b(k0 + b_at.y, n0 + b_at.x);
    }
}

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
    for (var k0 = 0u; k0 < p.k; k0 += BK) {
        stage_big(lid, m0, n0, k0, WM, BK, WIDE_B);
        workgroupBarrier();
        for (var kk = 0u; kk < BK; kk++) {
            let row = kk * WN + tx;
            let bv = vec4<f32>(
                big_tile[WIDE_B + row],
                big_tile[WIDE_B + row + 16u],
                big_tile[WIDE_B + row + 32u],
                big_tile[WIDE_B + row + 48u],
            );
            let col = kk * WM + ty;
            acc0 = fma(vec4<f32>(big_tile[col]), bv, acc0);
            acc1 = fma(vec4<f32>(big_tile[col + 16u]), bv, acc1);
            acc2 = fma(vec4<f32>(big_tile[col + 32u]), bv, acc2);
            acc3 = fma(vec4<f32>(big_tile[col + 48u]), bv, acc3);
        }
        workgroupBarrier();
    }
    store4(m0 + ty, n0 + tx, acc0);
    store4(m0 + ty + 16u, n0 + tx, acc1);
    store4(m0 + ty + 32u, n0 + tx, acc2);
    store4(m0 + ty + 48u, n0 + tx, acc3);
}

// Sliced K: the 32x32 tile of `gemm` for products with few tiles and a long K (the training
// step's 256x784x256 and their transposes, which give 64-200 workgroups each looping over
// hundreds of k). The workgroup's 256 threads form SK = 4 slices of 64; each iteration stages
// SK * BK = 64 values of k, and slice s multiplies its own 16 of them, each thread into a 4x4
// block (rows ty + 8i, cols tx + 8j, tx and ty < 8). So the serial chain of loads, barriers
// and FMAs is a quarter of `gemm`'s, with 16 independent accumulators per thread and twice the
// FMAs per workgroup-memory read. At the end slices 1-3 leave their blocks in workgroup memory
// and slice 0 adds them in slice order: a fixed order, so results are deterministic (though not
// bit-identical to `gemm`, whose k order differs).
const SK: u32 = 4u;
const SKD: u32 = SK * BK; // K staged per iteration
const SLICED_B: u32 = SKD * BM;

fn sliced_store(m: u32, n: u32, acc: vec4<f32>, tx: u32) {
    // Row m of C, columns n + 8j for the lanes of `acc` (slice 0's sums); the partial sums of
    // slices 1-3 sit at (s - 1) * BM * BN, row-major within the tile.
    let r = (m % BM) * BN;
    var v = acc;
    for (var s = 0u; s < SK - 1u; s++) {
        let base = s * BM * BN + r + tx;
        v += vec4<f32>(big_tile[base], big_tile[base + 8u], big_tile[base + 16u], big_tile[base + 24u]);
    }
    store(m, n, v.x);
    store(m, n + 8u, v.y);
    store(m, n + 16u, v.z);
    store(m, n + 24u, v.w);
}

fn sliced_park(s: u32, ty: u32, tx: u32, i: u32, acc: vec4<f32>) {
    let base = (s - 1u) * BM * BN + (ty + 8u * i) * BN + tx;
    big_tile[base] = acc.x;
    big_tile[base + 8u] = acc.y;
    big_tile[base + 16u] = acc.z;
    big_tile[base + 24u] = acc.w;
}

@compute @workgroup_size(64, 4, 1)
fn gemm_sliced(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid3: vec3<u32>) {
    let s = lid3.y;
    let tx = lid3.x % 8u;
    let ty = lid3.x / 8u;
    let lid = s * 64u + lid3.x;
    let m0 = wg.y * BM;
    let n0 = wg.x * BN;
    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    for (var k0 = 0u; k0 < p.k; k0 += SKD) {
        stage_big(lid, m0, n0, k0, BM, SKD, SLICED_B);
        workgroupBarrier();
        for (var kk = s * BK; kk < (s + 1u) * BK; kk++) {
            let row = SLICED_B + kk * BN + tx;
            let bv = vec4<f32>(big_tile[row], big_tile[row + 8u], big_tile[row + 16u], big_tile[row + 24u]);
            let col = kk * BM + ty;
            acc0 = fma(vec4<f32>(big_tile[col]), bv, acc0);
            acc1 = fma(vec4<f32>(big_tile[col + 8u]), bv, acc1);
            acc2 = fma(vec4<f32>(big_tile[col + 16u]), bv, acc2);
            acc3 = fma(vec4<f32>(big_tile[col + 24u]), bv, acc3);
        }
        workgroupBarrier();
    }
    if s > 0u {
        sliced_park(s, ty, tx, 0u, acc0);
        sliced_park(s, ty, tx, 1u, acc1);
        sliced_park(s, ty, tx, 2u, acc2);
        sliced_park(s, ty, tx, 3u, acc3);
    }
    workgroupBarrier();
    if s == 0u {
        sliced_store(m0 + ty, n0 + tx, acc0, tx);
        sliced_store(m0 + ty + 8u, n0 + tx, acc1, tx);
        sliced_store(m0 + ty + 16u, n0 + tx, acc2, tx);
        sliced_store(m0 + ty + 24u, n0 + tx, acc3, tx);
    }
}

// The largest tile: 128x128 per workgroup, an 8x8 block per thread (rows ty + 16i, columns
// tx + 16j, in 16 named vectors), for products with thousands of tiles (scoring every row):
// 4x the FMAs per workgroup-memory read of `gemm_wide`, whose tile measured 11.4 TFLOP/s on the
// H100 against 21.3 for a 128x128 one (../shared/GPU.md). Same K order as `gemm`: bit-identical.
const HM: u32 = 128u;
const HN: u32 = 128u;
const HUGE_B: u32 = BK * HM;

// Row m of C, columns n0 + 16j for the eight lanes of `lo` then `hi`.
fn store8(m: u32, n0: u32, lo: vec4<f32>, hi: vec4<f32>) {
    store4(m, n0, lo);
    store4(m, n0 + 64u, hi);
}

@compute @workgroup_size(16, 16, 1)
fn gemm_huge(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid3: vec3<u32>) {
    let tx = lid3.x;
    let ty = lid3.y;
    let lid = ty * 16u + tx;
    let m0 = wg.y * HM;
    let n0 = wg.x * HN;
    var acc0a = vec4<f32>(0.0);
    var acc0b = vec4<f32>(0.0);
    var acc1a = vec4<f32>(0.0);
    var acc1b = vec4<f32>(0.0);
    var acc2a = vec4<f32>(0.0);
    var acc2b = vec4<f32>(0.0);
    var acc3a = vec4<f32>(0.0);
    var acc3b = vec4<f32>(0.0);
    var acc4a = vec4<f32>(0.0);
    var acc4b = vec4<f32>(0.0);
    var acc5a = vec4<f32>(0.0);
    var acc5b = vec4<f32>(0.0);
    var acc6a = vec4<f32>(0.0);
    var acc6b = vec4<f32>(0.0);
    var acc7a = vec4<f32>(0.0);
    var acc7b = vec4<f32>(0.0);
    for (var k0 = 0u; k0 < p.k; k0 += BK) {
        stage_big(lid, m0, n0, k0, HM, BK, HUGE_B);
        workgroupBarrier();
        for (var kk = 0u; kk < BK; kk++) {
            let row = HUGE_B + kk * HN + tx;
            let b0 = vec4<f32>(big_tile[row], big_tile[row + 16u], big_tile[row + 32u], big_tile[row + 48u]);
            let b1 = vec4<f32>(big_tile[row + 64u], big_tile[row + 80u], big_tile[row + 96u], big_tile[row + 112u]);
            let col = kk * HM + ty;
            let a0 = vec4<f32>(big_tile[col]);
            acc0a = fma(a0, b0, acc0a);
            acc0b = fma(a0, b1, acc0b);
            let a1 = vec4<f32>(big_tile[col + 16u]);
            acc1a = fma(a1, b0, acc1a);
            acc1b = fma(a1, b1, acc1b);
            let a2 = vec4<f32>(big_tile[col + 32u]);
            acc2a = fma(a2, b0, acc2a);
            acc2b = fma(a2, b1, acc2b);
            let a3 = vec4<f32>(big_tile[col + 48u]);
            acc3a = fma(a3, b0, acc3a);
            acc3b = fma(a3, b1, acc3b);
            let a4 = vec4<f32>(big_tile[col + 64u]);
            acc4a = fma(a4, b0, acc4a);
            acc4b = fma(a4, b1, acc4b);
            let a5 = vec4<f32>(big_tile[col + 80u]);
            acc5a = fma(a5, b0, acc5a);
            acc5b = fma(a5, b1, acc5b);
            let a6 = vec4<f32>(big_tile[col + 96u]);
            acc6a = fma(a6, b0, acc6a);
            acc6b = fma(a6, b1, acc6b);
            let a7 = vec4<f32>(big_tile[col + 112u]);
            acc7a = fma(a7, b0, acc7a);
            acc7b = fma(a7, b1, acc7b);
        }
        workgroupBarrier();
    }
    store8(m0 + ty, n0 + tx, acc0a, acc0b);
    store8(m0 + ty + 16u, n0 + tx, acc1a, acc1b);
    store8(m0 + ty + 32u, n0 + tx, acc2a, acc2b);
    store8(m0 + ty + 48u, n0 + tx, acc3a, acc3b);
    store8(m0 + ty + 64u, n0 + tx, acc4a, acc4b);
    store8(m0 + ty + 80u, n0 + tx, acc5a, acc5b);
    store8(m0 + ty + 96u, n0 + tx, acc6a, acc6b);
    store8(m0 + ty + 112u, n0 + tx, acc7a, acc7b);
}
