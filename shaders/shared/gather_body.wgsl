// The body of `gather.wgsl` and `gather16.wgsl` (see `gather.wgsl`): every binding but the
// data's and every entry point. The importing file declares the data (up to four parts) and
// `fn data_at(i: u32, part_len: u32) -> f32`, element i of the rows, reading part i / part_len
// at i % part_len (part_len NONE: one part, i as it is).
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
    cls_off: u32,
    cls_out_off: u32,
    part_len: u32,
}

const NONE: u32 = 0xffffffffu;
const TAG_BATCH: u32 = 1u;
const TAG_NOISE: u32 = 2u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(2) var<storage, read> state: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<storage, read_write> noisy: array<f32>;
@group(0) @binding(5) var<storage, read> idx: array<u32>;
@group(0) @binding(9) var<storage, read> cls: array<u32>;
@group(0) @binding(10) var<storage, read_write> cls_out: array<u32>;

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
    let v = data_at(p.data_off + r * p.cols + j, p.part_len);
    out[p.out_off + e] = v;
    if p.noisy_off != NONE {
        noisy[p.noisy_off + e] = v + p.noise_std * rng_gauss(p.seed, step, TAG_NOISE, e);
    }
    if p.cls_off != NONE && j == 0u {
        cls_out[p.cls_out_off + i] = cls[p.cls_off + r];
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
        v = data_at(p.data_off + r * p.cols + e % p.cols, p.part_len);
    }
    out[p.out_off + e] = v;
}

// sample_labelled: `batch` random rows (as sample_rows, same draws and noise) followed by `rows`
// rows drawn (with replacement) from the labelled set kept on the GPU, in one tensor, so one
// forward pass serves a base loss on the first rows and the head on the rest:
//   lab[0] = count; lab[1 + r] = row index of labelled point r; lab[1 + cap + r] = its label.
//   Output row i < batch: data row rng_u32(seed, step, TAG_BATCH, i) % n_data, noise
//     (TAG_NOISE, i * cols + j), exactly sample_rows' row i.
//   Output row batch + t (t < rows): labelled point r_t = rng_u32(seed, step, TAG_LABELLED, t)
//     % count, noise (TAG_LABELLED_NOISE, t * cols + j); ym[y_off + t] = its label,
//     ym[m_off + t] = 1 (0 for every t while count == 0, the rows then being row 0 of the data,
//     so a plan recorded before any label still runs).
//   ym[c_off] = f32(count) when c_off != NONE (the label count, for the head's prior).
//   With cls_off != NONE every output row's class goes to cls_out[cls_out_off + i].
// Bindings: 8 lp (params), 1 data, 2 state, 3 out, 4 noisy, 6 lab, 9 cls (read), 7 ym, 10 cls_out.
struct LabelledParams {
    batch: u32,
    n_data: u32,
    rows: u32,
    cols: u32,
    cap: u32,
    data_off: u32,
    out_off: u32,
    noisy_off: u32,
    y_off: u32,
    m_off: u32,
    c_off: u32,
    seed: u32,
    noise_std: f32,
    cls_off: u32,
    cls_out_off: u32,
    part_len: u32,
}

const TAG_LABELLED: u32 = 3u;
const TAG_LABELLED_NOISE: u32 = 4u;

@group(0) @binding(8) var<uniform> lp: LabelledParams;
@group(0) @binding(6) var<storage, read> lab: array<u32>;
@group(0) @binding(7) var<storage, read_write> ym: array<f32>;

@compute @workgroup_size(256, 1, 1)
fn sample_labelled(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                   @builtin(local_invocation_index) lid: u32) {
    let e = grid_index(wg, nwg, lid);
    if e >= (lp.batch + lp.rows) * lp.cols {
        return;
    }
    let step = state[0];
    let count = min(lab[0], lp.cap);
    let i = e / lp.cols;
    let j = e % lp.cols;
    var row = 0u;
    var tag = TAG_NOISE;
    var k = e;
    if i < lp.batch {
        row = rng_u32(lp.seed, step, TAG_BATCH, i) % lp.n_data;
    } else {
        let t = i - lp.batch;
        tag = TAG_LABELLED_NOISE;
        k = e - lp.batch * lp.cols;
        var y = 0.0;
        if count > 0u {
            let r = rng_u32(lp.seed, step, TAG_LABELLED, t) % count;
            row = lab[1u + r];
            y = f32(lab[1u + lp.cap + r]);
        }
        if j == 0u {
            ym[lp.y_off + t] = y;
            ym[lp.m_off + t] = select(0.0, 1.0, count > 0u);
        }
    }
    let v = data_at(lp.data_off + row * lp.cols + j, lp.part_len);
    out[lp.out_off + e] = v;
    if lp.noisy_off != NONE {
        noisy[lp.noisy_off + e] = v + lp.noise_std * rng_gauss(lp.seed, step, tag, k);
    }
    if j == 0u && lp.cls_off != NONE {
        cls_out[lp.cls_out_off + i] = cls[lp.cls_off + row];
    }
    if e == 0u && lp.c_off != NONE {
        ym[lp.c_off] = f32(count);
    }
}
