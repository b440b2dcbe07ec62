// One optimizer update over a parameter arena (every parameter of a model in one buffer), or a
// range of it: words first .. first + n of param, grad and opt (a model whose networks train in
// turn, each step updating its own). total is the arena's size (Adam's v starts there).
//
//   kind 0 SGD:      p -= lr * g
//   kind 1 momentum: v = mu * v + g;                        p -= lr * v
//   kind 2 RMSprop:  s = rho * s + (1 - rho) g^2;           p -= lr * g / (sqrt(s) + eps)
//   kind 3 Adam:     m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;  t = state[0] + 1
//                    p -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
// opt holds v (momentum), s (RMSprop) or m then v (Adam, v at offset total).
//
// Bindings: 0 params, 1 grad, 2 state (read), 3 param, 4 opt (read_write).

#import grid

struct Params {
    n: u32,
    first: u32,
    total: u32,
    kind: u32,
    lr: f32,
    beta1: f32,
    beta2: f32,
    eps: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> grad: array<f32>;
@group(0) @binding(2) var<storage, read> state: array<u32>;
@group(0) @binding(3) var<storage, read_write> param: array<f32>;
@group(0) @binding(4) var<storage, read_write> opt: array<f32>;

@compute @workgroup_size(256, 1, 1)
fn optim_step(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) lid: u32) {
    let e = grid_index(wg, nwg, lid);
    if e >= p.n {
        return;
    }
    let i = p.first + e;
    let g = grad[i];
    switch p.kind {
        case 1u: {
            let v = p.beta1 * opt[i] + g;
            opt[i] = v;
            param[i] -= p.lr * v;
        }
        case 2u: {
            let s = p.beta2 * opt[i] + (1.0 - p.beta2) * g * g;
            opt[i] = s;
            param[i] -= p.lr * g / (sqrt(s) + p.eps);
        }
        case 3u: {
            let t = f32(state[0] + 1u);
            let m = p.beta1 * opt[i] + (1.0 - p.beta1) * g;
            let v = p.beta2 * opt[p.total + i] + (1.0 - p.beta2) * g * g;
            opt[i] = m;
            opt[p.total + i] = v;
            let mhat = m / (1.0 - pow(p.beta1, t));
            let vhat = v / (1.0 - pow(p.beta2, t));
            param[i] -= p.lr * mhat / (sqrt(vhat) + p.eps);
        }
        default: {
            param[i] -= p.lr * g;
        }
    }
}
