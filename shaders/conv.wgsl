// 2-D convolution and its transpose on rows of C x H x W values (channel-major; the tape's
// `rows x (C H W)` tensors). Both are written on a pair of shapes joined by one map: the "big"
// side B (cb x hb x wb per row, at big_off) and the "small" side S (cs x hs x ws, at small_off),
// with, per axis,
//     big position = small position * stride - pad + kernel offset,
// and one weight W[cs, cb, ky, kx] (cs x cb x kh x kw, row-major, at w_off). A convolution
// reads B and writes S (PyTorch's Conv2d, weight [out, in, kh, kw]); a transposed convolution
// reads S and writes B (ConvTranspose2d, weight [in, out, kh, kw]); each one's data gradient is
// the other's forward.
//
//   conv_small: out[out_off + ((i cs + c) hs + y) ws + x] (+)= act(sum_{d, ky, kx}
//                 W[c, d, ky, kx] B[i, d, y sh - ph + ky, x sw - pw + kx] (+ w[b_off + c])),
//               positions outside B reading 0; one invocation per element of S.
//   conv_big:   out[out_off + ((i cb + c) hb + y) wb + x] (+)= act(sum over d < cs and the
//                 (ky, kx) whose small position ((y + ph - ky) / sh, (x + pw - kx) / sw) is
//                 whole and inside S of W[d, c, ky, kx] S[i, d, that position] (+ w[b_off + c]));
//               one invocation per element of B.
//   conv_wgrad: workgroup g < cs cb kh kw, the weight (c, d, ky, kx) = g:
//                 out[out_off + g] (+)= sum over i and small positions (y, x) of S[i, c, y, x]
//                 B[i, d, y sh - ph + ky, x sw - pw + kx] (outside B: 0);
//               workgroup cs cb kh kw + c (when b_off != NONE): the bias gradient of channel c
//                 of side `bias_side` (0: S, whose channels are a convolution's outputs; 1: B),
//                 out[b_off + c] (+)= sum over i and that side's positions of its values.
//   conv_dact:  out[out_off + e] = big[big_off + e] act'(small[small_off + e]) for e < count:
//               dZ = dY act'(Y) from the upstream gradient and the forward output.
// `(+)=`: added to out when accumulate != 0, else written. act and alpha as in shared/act.wgsl.
//
// Bindings: 0 params, 1 big, 2 small, 3 w (read), 4 out (read_write).

struct Params {
    rows: u32,
    cs: u32,
    hs: u32,
    ws: u32,
    cb: u32,
    hb: u32,
    wb: u32,
    kh: u32,
    kw: u32,
    sh: u32,
    sw: u32,
    ph: u32,
    pw: u32,
    big_off: u32,
    small_off: u32,
    w_off: u32,
    b_off: u32,
    out_off: u32,
    bias_side: u32,
    count: u32,
    act: u32,
    alpha: f32,
    accumulate: u32,
}

const NONE: u32 = 0xffffffffu;
const WG: u32 = 256u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> big: array<f32>;
@group(0) @binding(2) var<storage, read> small: array<f32>;
@group(0) @binding(3) var<storage, read> w: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

#import grid
#import act
#import wgsum

// out[o] (+)= v.
fn store(o: u32, v: f32) {
    if p.accumulate != 0u {
        out[o] += v;
    } else {
        out[o] = v;
    }
}

fn put(e: u32, v: f32) {
    store(p.out_off + e, v);
}

fn finish(acc: f32, c: u32) -> f32 {
    var z = acc;
    if p.b_off != NONE {
        z += w[p.b_off + c];
    }
    return act_apply(p.act, p.alpha, z);
}

@compute @workgroup_size(256, 1, 1)
fn conv_small(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) lid: u32) {
    let e = grid_index(wg, nwg, lid);
    let plane = p.hs * p.ws;
    if e >= p.rows * p.cs * plane {
        return;
    }
    let i = e / (p.cs * plane);
    let c = (e / plane) % p.cs;
    let y = (e % plane) / p.ws;
    let x = e % p.ws;
    let y0 = i32(y * p.sh) - i32(p.ph);
    let x0 = i32(x * p.sw) - i32(p.pw);
    var acc = 0.0;
    for (var d = 0u; d < p.cb; d++) {
        let b_base = p.big_off + (i * p.cb + d) * p.hb * p.wb;
        let w_base = p.w_off + (c * p.cb + d) * p.kh * p.kw;
        for (var ky = 0u; ky < p.kh; ky++) {
            let yb = y0 + i32(ky);
            if yb < 0 || yb >= i32(p.hb) {
                continue;
            }
            for (var kx = 0u; kx < p.kw; kx++) {
                let xb = x0 + i32(kx);
                if xb < 0 || xb >= i32(p.wb) {
                    continue;
                }
                acc += w[w_base + ky * p.kw + kx] * big[b_base + u32(yb) * p.wb + u32(xb)];
            }
        }
    }
    put(e, finish(acc, c));
}

@compute @workgroup_size(256, 1, 1)
fn conv_big(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
    let e = grid_index(wg, nwg, lid);
    let plane = p.hb * p.wb;
    if e >= p.rows * p.cb * plane {
        return;
    }
    let i = e / (p.cb * plane);
    let c = (e / plane) % p.cb;
    let y = (e % plane) / p.wb;
    let x = e % p.wb;
    var acc = 0.0;
    // Only the taps whose small position is whole: ky = (y + ph) mod sh, then every sh-th.
    for (var ky = (y + p.ph) % p.sh; ky < p.kh; ky += p.sh) {
        let ty = i32(y + p.ph) - i32(ky);
        if ty < 0 || u32(ty) / p.sh >= p.hs {
            continue;
        }
        let ys = u32(ty) / p.sh;
        for (var kx = (x + p.pw) % p.sw; kx < p.kw; kx += p.sw) {
            let tx = i32(x + p.pw) - i32(kx);
            if tx < 0 || u32(tx) / p.sw >= p.ws {
                continue;
            }
            let xs = u32(tx) / p.sw;
            for (var d = 0u; d < p.cs; d++) {
                acc += w[p.w_off + ((d * p.cb + c) * p.kh + ky) * p.kw + kx]
                    * small[p.small_off + ((i * p.cs + d) * p.hs + ys) * p.ws + xs];
            }
        }
    }
    put(e, finish(acc, c));
}

@compute @workgroup_size(256, 1, 1)
fn conv_wgrad(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              lane: Lane) {
    let g = wg.y * nwg.x + wg.x;
    let lid = lane.lid;
    let taps = p.kh * p.kw;
    let weights = p.cs * p.cb * taps;
    let channels = select(p.cb, p.cs, p.bias_side == 0u);
    var acc = 0.0;
    if g < weights {
        let c = g / (p.cb * taps);
        let d = (g / taps) % p.cb;
        let ky = (g % taps) / p.kw;
        let kx = g % p.kw;
        let plane = p.hs * p.ws;
        for (var e = lid; e < p.rows * plane; e += WG) {
            let i = e / plane;
            let y = (e % plane) / p.ws;
            let x = e % p.ws;
            let yb = i32(y * p.sh + ky) - i32(p.ph);
            let xb = i32(x * p.sw + kx) - i32(p.pw);
            if yb >= 0 && yb < i32(p.hb) && xb >= 0 && xb < i32(p.wb) {
                acc += small[p.small_off + (i * p.cs + c) * plane + e % plane]
                    * big[p.big_off + ((i * p.cb + d) * p.hb + u32(yb)) * p.wb + u32(xb)];
            }
        }
    } else if g - weights < channels {
        let c = g - weights;
        if p.bias_side == 0u {
            let plane = p.hs * p.ws;
            for (var e = lid; e < p.rows * plane; e += WG) {
                acc += small[p.small_off + ((e / plane) * p.cs + c) * plane + e % plane];
            }
        } else {
            let plane = p.hb * p.wb;
            for (var e = lid; e < p.rows * plane; e += WG) {
                acc += big[p.big_off + ((e / plane) * p.cb + c) * plane + e % plane];
            }
        }
    }
    // Every invocation of the workgroup takes part (uniform control flow); a workgroup past
    // the last output has nothing to write.
    let total = workgroup_sum(acc, lane);
    if lid == 0u {
        if g < weights {
            put(g, total);
        } else if p.b_off != NONE && g - weights < channels {
            store(p.b_off + g - weights, total);
        }
    }
}

@compute @workgroup_size(256, 1, 1)
fn conv_dact(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
             @builtin(local_invocation_index) lid: u32) {
    let e = grid_index(wg, nwg, lid);
    if e >= p.count {
        return;
    }
    out[p.out_off + e] = big[p.big_off + e] * act_grad_from_y(p.act, p.alpha, small[p.small_off + e]);
}
