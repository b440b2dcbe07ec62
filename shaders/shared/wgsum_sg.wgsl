// The subgroup twin of `wgsum.wgsl` (same interface): each subgroup adds its values with
// `subgroupAdd`, its first invocation parks the sum in `partial[subgroup_id]`, and after one
// barrier every subgroup adds the parked sums (strided over its invocations, then
// `subgroupAdd`), so all invocations get the same total. Two barriers instead of log2(WG) + 2,
// for any subgroup size (the subgroups need not be full, nor laid out in index order).
// The order of the additions is the hardware's: fixed for a device, not the tree's.

struct Lane {
    @builtin(local_invocation_index) lid: u32,
    @builtin(subgroup_id) sg: u32,
    @builtin(subgroup_invocation_id) sg_lane: u32,
    @builtin(subgroup_size) sg_size: u32,
    @builtin(num_subgroups) sg_count: u32,
}

var<workgroup> partial: array<f32, WG>;

fn workgroup_sum(v: f32, lane: Lane) -> f32 {
    let s = subgroupAdd(v);
    if lane.sg_lane == 0u {
        partial[lane.sg] = s;
    }
    workgroupBarrier();
    var t = 0.0;
    for (var i = lane.sg_lane; i < lane.sg_count; i += lane.sg_size) {
        t += partial[i];
    }
    let total = subgroupAdd(t);
    workgroupBarrier();
    return total;
}
