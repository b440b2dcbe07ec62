// The body of `rowerr.wgsl` and `rowerr16.wgsl` (see `rowerr.wgsl`): every binding but the
// target's and both entry points. The importing file declares the target and
// `fn tgt_at(i: u32) -> f32`, element i of its storage.
struct Params {
    rows: u32,
    cols: u32,
    pred_off: u32,
    target_off: u32,
    out_off: u32,
    mse: u32,
    g_off: u32,
    g_scale: f32,
    accumulate: u32,
    d_off: u32,
    d_rows: u32,
}

const NONE: u32 = 0xffffffffu;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> pred: array<f32>;
@group(0) @binding(3) var<storage, read> g: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
@group(0) @binding(5) var<storage, read_write> dpred: array<f32>;

const WG: u32 = 64u;

#import wgsum

fn scale() -> f32 {
    return select(1.0, 1.0 / f32(p.cols), p.mse != 0u);
}

@compute @workgroup_size(WG, 1, 1)
fn rowerr_fwd(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              lane: Lane) {
    let row = wg.y * nwg.x + wg.x;
    var s = 0.0;
    if row < p.rows {
        let with_grad = p.d_off != NONE;
        let in_loss = row < p.d_rows;
        for (var j = lane.lid; j < p.cols; j += WG) {
            let e = row * p.cols + j;
            let d = pred[p.pred_off + e] - tgt_at(p.target_off + e);
            s = fma(d, d, s);
            if with_grad {
                dpred[p.d_off + e] = select(0.0, p.g_scale * 2.0 * scale() * d, in_loss);
            }
        }
    }
    let total = workgroup_sum(s, lane);
    if lane.lid == 0u && row < p.rows {
        out[p.out_off + row] = total * scale();
    }
}

@compute @workgroup_size(256, 1, 1)
fn rowerr_bwd(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) lid: u32) {
    let e = grid_index(wg, nwg, lid);
    if e >= p.rows * p.cols {
        return;
    }
    let row = e / p.cols;
    var gi = p.g_scale;
    if p.g_off != NONE {
        gi *= g[p.g_off + row];
    }
    var v = gi * 2.0 * scale() * (pred[p.pred_off + e] - tgt_at(p.target_off + e));
    if p.accumulate != 0u {
        v += out[p.out_off + e];
    }
    out[p.out_off + e] = v;
}
