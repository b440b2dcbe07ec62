// The sum over one workgroup of WG invocations (WG a power of two, a const the importing file
// declares; the entry point has a 1-D workgroup of WG and takes `lane: Lane`). Every invocation
// calls `workgroup_sum(v, lane)` from uniform control flow and gets the total of all the v.
// `partial` is free again when it returns.
//
// This version is a fixed-order tree in workgroup memory (log2(WG) barriers), for any adapter.
// Its twin `wgsum_sg.wgsl` adds within subgroups first; the shaders importing this module are
// built both ways (`X` and `X_sg`) and the runtime picks by the device's features.

struct Lane {
    @builtin(local_invocation_index) lid: u32,
}

var<workgroup> partial: array<f32, WG>;

fn workgroup_sum(v: f32, lane: Lane) -> f32 {
    let lid = lane.lid;
    partial[lid] = v;
    workgroupBarrier();
    for (var w = WG / 2u; w > 0u; w >>= 1u) {
        if lid < w {
            partial[lid] += partial[lid + w];
        }
        workgroupBarrier();
    }
    let total = partial[0];
    workgroupBarrier();
    return total;
}
