// Additive Gaussian noise from the counter-based RNG:
//   out[out_off + i] = x[x_off + i] + sigma * N(seed, state[0], tag, i)      for i < n
// Same seed, step and tag: the same numbers on every adapter.
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
    sigma: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> state: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(256, 1, 1)
fn gauss_noise(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) lid: u32) {
    let i = grid_index(wg, nwg, lid);
    if i >= p.n {
        return;
    }
    out[p.out_off + i] = x[p.x_off + i] + p.sigma * rng_gauss(p.seed, state[0], p.tag, i);
}
