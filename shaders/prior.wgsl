// Gradient of a Gaussian prior N(anchor, var I) on a slice of a parameter arena, for a logistic
// head fit to `count` labels. The head's full objective is sum_i BCE_i + |theta - anchor|^2 / (2 var)
// (MAP logistic regression); a step's BCE is the mean over labelled rows, so the prior enters
// divided by the label count:
//   grad[off + i] += inv_var * (param[off + i] - anchor[i]) / count,   i < n,
//   count = min(lab[0], cap) (the label layout of `sample_labelled`); nothing when count == 0.
//
// Bindings: 0 params, 1 param (read), 2 anchor (read), 3 lab (read), 4 grad (read_write).

#import grid

struct Params {
    n: u32,
    off: u32,
    inv_var: f32,
    cap: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> param: array<f32>;
@group(0) @binding(2) var<storage, read> anchor: array<f32>;
@group(0) @binding(3) var<storage, read> lab: array<u32>;
@group(0) @binding(4) var<storage, read_write> grad: array<f32>;

@compute @workgroup_size(256, 1, 1)
fn prior_grad(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) lid: u32) {
    let i = grid_index(wg, nwg, lid);
    let count = min(lab[0], p.cap);
    if i >= p.n || count == 0u {
        return;
    }
    let k = p.off + i;
    grad[k] += p.inv_var * (param[k] - anchor[i]) / f32(count);
}
