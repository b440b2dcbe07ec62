// Step-varying state kept on the GPU so a recorded plan replays with no host write:
//   advance: state[0] += 1   (the step number: RNG stream and Adam's t)
//   fill:    out[out_off + i] = value (+ what it held when accumulate != 0), i < n
//   axpy:    out[out_off + i] = a * x[x_off + i] (+ what it held), i < n
//
// Bindings: advance: 2 state (read_write). fill: 0 params, 1 out (read_write).
// axpy: 3 params, 4 x (read), 1 out (read_write).

#import grid

struct Params {
    n: u32,
    out_off: u32,
    value: f32,
    accumulate: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read_write> state: array<u32>;

@compute @workgroup_size(1, 1, 1)
fn advance() {
    state[0] += 1u;
}

@compute @workgroup_size(256, 1, 1)
fn fill(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = grid_index(wg, nwg, lid);
    if i >= p.n {
        return;
    }
    var v = p.value;
    if p.accumulate != 0u {
        v += out[p.out_off + i];
    }
    out[p.out_off + i] = v;
}

// axpy: out[out_off + i] (+)= a * x[x_off + i], i < n  (gradient pass-through and copies).
// Bindings: 3 params, 4 x (read), 1 out (read_write).
struct AxpyParams {
    n: u32,
    x_off: u32,
    out_off: u32,
    a: f32,
    accumulate: u32,
}

@group(0) @binding(3) var<uniform> q: AxpyParams;
@group(0) @binding(4) var<storage, read> x: array<f32>;

@compute @workgroup_size(256, 1, 1)
fn axpy(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = grid_index(wg, nwg, lid);
    if i >= q.n {
        return;
    }
    var v = q.a * x[q.x_off + i];
    if q.accumulate != 0u {
        v += out[q.out_off + i];
    }
    out[q.out_off + i] = v;
}

// copy_cols: a block of columns between row-major matrices (concatenation and its backward):
//   out[o_off + r * o_ld + j] (+)= x[x_off + r * x_ld + j]   for r < rows, j < width
// Bindings: 5 cp (params), 4 x (read), 1 out (read_write).
struct CopyColsParams {
    rows: u32,
    width: u32,
    x_off: u32,
    x_ld: u32,
    o_off: u32,
    o_ld: u32,
    accumulate: u32,
}

@group(0) @binding(5) var<uniform> cp: CopyColsParams;

@compute @workgroup_size(256, 1, 1)
fn copy_cols(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
             @builtin(local_invocation_index) lid: u32) {
    let e = grid_index(wg, nwg, lid);
    if e >= cp.rows * cp.width {
        return;
    }
    let r = e / cp.width;
    let j = e % cp.width;
    let oi = cp.o_off + r * cp.o_ld + j;
    var v = x[cp.x_off + r * cp.x_ld + j];
    if cp.accumulate != 0u {
        v += out[oi];
    }
    out[oi] = v;
}
