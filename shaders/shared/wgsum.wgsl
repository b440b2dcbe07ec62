// The sum over a workgroup of 256 invocations, for kernels that run as one workgroup: each
// invocation writes its value to `partial[lid]`, then all call `reduce_partial` (a fixed-order
// tree, so the result does not depend on timing). `partial` is free again when it returns.

var<workgroup> partial: array<f32, 256>;

fn reduce_partial(lid: u32) -> f32 {
    workgroupBarrier();
    for (var w = 128u; w > 0u; w >>= 1u) {
        if lid < w {
            partial[lid] += partial[lid + w];
        }
        workgroupBarrier();
    }
    let total = partial[0];
    workgroupBarrier();
    return total;
}
