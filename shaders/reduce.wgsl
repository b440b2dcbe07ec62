// Sum of a contiguous range times a scale: out[out_off] = scale * sum_{i < n} x[x_off + i].
// scale = 1 is a sum, 1/n a mean. One workgroup, 256 threads, fixed-order tree reduction, so
// the result is the same bits on every run.
//
// Bindings: 0 params, 1 x (read), 2 out (read_write).

struct Params {
    n: u32,
    x_off: u32,
    out_off: u32,
    scale: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

var<workgroup> partial: array<f32, 256>;

@compute @workgroup_size(256, 1, 1)
fn reduce_sum(@builtin(local_invocation_index) lid: u32) {
    var s = 0.0;
    for (var i = lid; i < p.n; i += 256u) {
        s += x[p.x_off + i];
    }
    partial[lid] = s;
    workgroupBarrier();
    for (var w = 128u; w > 0u; w >>= 1u) {
        if lid < w {
            partial[lid] += partial[lid + w];
        }
        workgroupBarrier();
    }
    if lid == 0u {
        out[p.out_off] = partial[0] * p.scale;
    }
}
