// Inverted dropout from the counter-based RNG: element i is kept when its uniform
// u = unit(seed, state[0], tag, i) is at least `rate`, and scaled by 1 / (1 - rate), so its
// expectation is the input's.
//   dropout_fwd: out[out_off + i] = kept(i) x[x_off + i] / (1 - rate)                  i < n
//   dropout_bwd: out[out_off + i] (+)= kept(i) x[x_off + i] / (1 - rate), x the upstream
//                gradient: the same mask, redrawn from the same step counter.
// Same seed, step and tag: the same mask on every adapter.
//
// Bindings: 0 params, 1 x, 2 state (read), 3 out (read_write).

#import rng
#import grid

struct Params {
    n: u32,
    x_off: u32,
    out_off: u32,
    seed: u32,
    tag: u32,
    rate: f32,
    accumulate: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> state: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

fn masked(i: u32) -> f32 {
    let u = rng_unit(rng_u32(p.seed, state[0], p.tag, i));
    return select(0.0, x[p.x_off + i] / (1.0 - p.rate), u >= p.rate);
}

@compute @workgroup_size(256, 1, 1)
fn dropout_fwd(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) lid: u32) {
    let i = grid_index(wg, nwg, lid);
    if i >= p.n {
        return;
    }
    out[p.out_off + i] = masked(i);
}

@compute @workgroup_size(256, 1, 1)
fn dropout_bwd(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) lid: u32) {
    let i = grid_index(wg, nwg, lid);
    if i >= p.n {
        return;
    }
    let v = masked(i);
    if p.accumulate != 0u {
        out[p.out_off + i] += v;
    } else {
        out[p.out_off + i] = v;
    }
}
