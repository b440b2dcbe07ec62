// `gather_parts.wgsl` with the dataset stored as f16 (see `gather16.wgsl`); each part's f16
// pairs start at its own word 0 (part_len is even).
//
// Bindings: as `gather_parts.wgsl`, with 1 data16 and 11-13 data_b16..data_d16.

#import rng
#import grid
#import math16
#import gather_body

@group(0) @binding(1) var<storage, read> data16: array<u32>;
@group(0) @binding(11) var<storage, read> data_b16: array<u32>;
@group(0) @binding(12) var<storage, read> data_c16: array<u32>;
@group(0) @binding(13) var<storage, read> data_d16: array<u32>;

fn data_at(i: u32, part_len: u32) -> f32 {
    if part_len == NONE || i < part_len {
        return half_at(data16[i >> 1u], i);
    }
    let k = i / part_len;
    let j = i - k * part_len;
    if k == 1u {
        return half_at(data_b16[j >> 1u], j);
    }
    if k == 2u {
        return half_at(data_c16[j >> 1u], j);
    }
    return half_at(data_d16[j >> 1u], j);
}
