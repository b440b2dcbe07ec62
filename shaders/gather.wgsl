// Row gathers: a minibatch drawn on the GPU, and rows picked by an index list.
//
//   sample_rows: r_i = rng_u32(seed, step, TAG_BATCH, i) % n_data   (with replacement)
//                out[i, j]   = data[data_off + r_i * cols + j]
//                noisy[i, j] = out[i, j] + noise_std * N(seed, step, TAG_NOISE, i * cols + j)
//                (noisy written when noisy_off != NONE); step = state[0], advanced by `advance`.
//   gather_rows: out[i, j] = data[data_off + idx[idx_off + i] * cols + j]; an index past n_data
//                writes NaN so a bad index cannot pass unseen.
//
// Bindings: 0 params, 1 data, 2 state (sample) / idx (gather) (read), 3 out, 4 noisy (read_write).

#import rng
#import grid

struct Params {
    rows: u32,
    cols: u32,
    n_data: u32,
    data_off: u32,
    out_off: u32,
    noisy_off: u32,
    idx_off: u32,
    seed: u32,
    noise_std: f32,
}

const NONE: u32 = 0xffffffffu;
const TAG_BATCH: u32 = 1u;
const TAG_NOISE: u32 = 2u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> data: array<f32>;
@group(0) @binding(2) var<storage, read> state: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<storage, read_write> noisy: array<f32>;
@group(0) @binding(5) var<storage, read> idx: array<u32>;

@compute @workgroup_size(256, 1, 1)
fn sample_rows(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) lid: u32) {
    let e = grid_index(wg, nwg, lid);
    if e >= p.rows * p.cols {
        return;
    }
    let step = state[0];
    let i = e / p.cols;
    let j = e % p.cols;
    let r = rng_u32(p.seed, step, TAG_BATCH, i) % p.n_data;
    let v = data[p.data_off + r * p.cols + j];
    out[p.out_off + e] = v;
    if p.noisy_off != NONE {
        noisy[p.noisy_off + e] = v + p.noise_std * rng_gauss(p.seed, step, TAG_NOISE, e);
    }
}

@compute @workgroup_size(256, 1, 1)
fn gather_rows(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) lid: u32) {
    let e = grid_index(wg, nwg, lid);
    if e >= p.rows * p.cols {
        return;
    }
    let r = idx[p.idx_off + e / p.cols];
    var v = bitcast<f32>(0x7fc00000u);
    if r < p.n_data {
        v = data[p.data_off + r * p.cols + e % p.cols];
    }
    out[p.out_off + e] = v;
}
