// `gemm.wgsl`'s product with A stored as f16, two per u32 word (element i in the low half of
// word i / 2 when i is even, the high half when odd), as `Gpu::upload_f16` packs a dataset:
// scoring reads half the bytes. Every other operand, the sums and C stay f32; each element
// unpacks exactly, so the product equals `gemm` on the rounded values bit for bit.
//
// Bindings: 0 params (uniform), 1 a16, 2 a_aux, 3 b, 4 b_aux (read), 5 c (read_write).

#import act
#import math16
#import gemm_body

@group(0) @binding(1) var<storage, read> a16: array<u32>;

fn a_at(i: u32) -> f32 {
    return half_at(a16[i >> 1u], i);
}
