// General matrix product with fused operand transforms and epilogue; every dense forward and
// backward product is one dispatch of `gemm`.
//
//   C[m, n] (+)= act( sum_k A(m, k) * B(k, n) + bias[n] )       for m < M, n < N
//
//   A(m, k) = a[a_off + m * a_rs + k * a_cs]        (strides give the transposes)
//             * act'(a_aux[a_aux_off + m * a_rs + k * a_cs])   when a_mode == 1 (dZ = dY * f'(Y))
//             = 1.0 when m == a_ones_row            (the bias row of [X 1]^T dZ)
//   B(k, n) = b[b_off + k * b_rs + n * b_cs]  (* act'(b_aux[...]) when b_mode == 1)
//   bias    = b[bias_off + n] when bias_off != NONE (the bias row sits after W in the arena)
//   C       = c[c_off + m * ldc + n]; accumulate != 0 adds to what C holds.
//
// Bindings: 0 params (uniform), 1 a, 2 a_aux, 3 b, 4 b_aux (read), 5 c (read_write).
// `gemm16.wgsl` is the same product with A stored as f16 (a dataset kept in half precision).
// Tiling: a 32x32 tile of C per workgroup of 16x16 threads, K in slices of 16 staged in
// workgroup memory, each thread accumulating a 2x2 register block (rows ty + 16i, cols tx + 16j,
// so workgroup reads are broadcast or consecutive) held in vectors, not arrays. Tails are masked, every shape is valid.
// (32x32 rather than 64x64: small-batch shapes such as 256x784x256 get 4x more workgroups.)
// gemm_wide: the same product with a 64x64 tile per workgroup and a 4x4 block per thread, for
// shapes with workgroups to spare (scoring every row): 4x the FMAs per workgroup-memory read.
// Both entry points add the K terms in the same order (ascending k, one fma each), so they give
// bit-identical results; the choice between them is speed only.
// gemm_sliced: the 32x32 tile with K split four ways inside the workgroup (256 threads in four
// slices, each a 4x4 block per thread), for few tiles and a long K; the slices' sums are added
// in a fixed order at the end, so its results are deterministic but round differently.
// gemm_huge: a 128x128 tile and an 8x8 block per thread, for products with thousands of tiles;
// bit-identical to gemm and gemm_wide.

#import act
#import gemm_body

@group(0) @binding(1) var<storage, read> a: array<f32>;

fn a_at(i: u32) -> f32 {
    return a[i];
}
