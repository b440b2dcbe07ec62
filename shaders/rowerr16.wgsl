// `rowerr.wgsl` with the target stored as f16, two per u32 word (element i in the low half of
// word i / 2 when i is even, the high half when odd; `Gpu::upload_f16`), so scoring a dataset
// kept in half precision reads half the target bytes. Sums and outputs stay f32.
//
// Bindings: 0 params, 1 pred, 2 tgt16, 3 g (bwd only, read), 4 out, 5 dpred (fwd only).

#import grid
#import math16
#import rowerr_body

@group(0) @binding(2) var<storage, read> tgt16: array<u32>;

fn tgt_at(i: u32) -> f32 {
    return half_at(tgt16[i >> 1u], i);
}
