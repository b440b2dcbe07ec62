// `gather.wgsl`'s samplers and gather with the dataset stored as f16, two per u32 word (element
// i in the low half of word i / 2 when i is even, the high half when odd; `Gpu::upload_f16`).
// Every output stays f32; each element unpacks exactly, so the rows equal `gather.wgsl`'s on
// the rounded data bit for bit.
//
// Bindings: as `gather.wgsl`, with 1 data16.

#import rng
#import grid
#import math16
#import gather_body

@group(0) @binding(1) var<storage, read> data16: array<u32>;

fn data_at(i: u32, part_len: u32) -> f32 {
    return half_at(data16[i >> 1u], i);
}
