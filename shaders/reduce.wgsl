// Sum of a contiguous range times a scale: out[out_off] = scale * sum_{i < n} x[x_off + i].
// scale = 1 is a sum, 1/n a mean. One workgroup, 256 threads, each adding a strided share, then
// `wgsum` (a fixed-order tree, or subgroup sums in `reduce_sg`): the same bits on every run on
// one device.
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

const WG: u32 = 256u;

#import wgsum

@compute @workgroup_size(WG, 1, 1)
fn reduce_sum(lane: Lane) {
    var s = 0.0;
    for (var i = lane.lid; i < p.n; i += WG) {
        s += x[p.x_off + i];
    }
    let total = workgroup_sum(s, lane);
    if lane.lid == 0u {
        out[p.out_off] = total * p.scale;
    }
}
