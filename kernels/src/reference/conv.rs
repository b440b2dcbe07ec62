//! f64 twins of `conv.wgsl`: the convolution between a "big" and a "small" side in both
//! directions, its weight and bias gradients, and dY act'(Y). Written as plain loops over the
//! kernel taps, the way the shader's comment states each sum.

use super::{act_apply, act_grad_from_y, at};
use crate::params::{ConvParams, NONE};

fn put(p: &ConvParams, out: &mut [f64], o: u32, v: f64) {
    let o = o as usize;
    out[o] = if p.accumulate != 0 { out[o] + v } else { v };
}

fn finish(p: &ConvParams, w: &[f64], acc: f64, c: u32) -> f64 {
    let z = if p.b_off == NONE {
        acc
    } else {
        acc + at(w, p.b_off + c)
    };
    act_apply(p.act, f64::from(p.alpha), z)
}

/// The big position of small position `s` at tap `k` on one axis, if inside `0..len`.
fn big_pos(s: u32, stride: u32, pad: u32, k: u32, len: u32) -> Option<u32> {
    let b = i64::from(s) * i64::from(stride) - i64::from(pad) + i64::from(k);
    (b >= 0 && b < i64::from(len)).then_some(b as u32)
}

/// `conv_small`: every element of the small side from the big side.
pub fn conv_small(p: &ConvParams, big: &[f64], w: &[f64], out: &mut [f64]) {
    for i in 0..p.rows {
        for c in 0..p.cs {
            for y in 0..p.hs {
                for x in 0..p.ws {
                    let mut acc = 0.0;
                    for d in 0..p.cb {
                        for ky in 0..p.kh {
                            let Some(yb) = big_pos(y, p.sh, p.ph, ky, p.hb) else {
                                continue;
                            };
                            for kx in 0..p.kw {
                                let Some(xb) = big_pos(x, p.sw, p.pw, kx, p.wb) else {
                                    continue;
                                };
                                acc += at(w, p.w_off + ((c * p.cb + d) * p.kh + ky) * p.kw + kx)
                                    * at(big, p.big_off + ((i * p.cb + d) * p.hb + yb) * p.wb + xb);
                            }
                        }
                    }
                    let e = ((i * p.cs + c) * p.hs + y) * p.ws + x;
                    put(p, out, p.out_off + e, finish(p, w, acc, c));
                }
            }
        }
    }
}

/// `conv_big`: every element of the big side from the small side, as the scatter of each
/// small element over the taps (the transpose of [`conv_small`]'s gather).
pub fn conv_big(p: &ConvParams, small: &[f64], w: &[f64], out: &mut [f64]) {
    let n = (p.rows * p.cb * p.hb * p.wb) as usize;
    let mut acc = vec![0.0; n];
    for i in 0..p.rows {
        for d in 0..p.cs {
            for ys in 0..p.hs {
                for xs in 0..p.ws {
                    let v = at(
                        small,
                        p.small_off + ((i * p.cs + d) * p.hs + ys) * p.ws + xs,
                    );
                    for c in 0..p.cb {
                        for ky in 0..p.kh {
                            let Some(yb) = big_pos(ys, p.sh, p.ph, ky, p.hb) else {
                                continue;
                            };
                            for kx in 0..p.kw {
                                let Some(xb) = big_pos(xs, p.sw, p.pw, kx, p.wb) else {
                                    continue;
                                };
                                acc[(((i * p.cb + c) * p.hb + yb) * p.wb + xb) as usize] +=
                                    at(w, p.w_off + ((d * p.cb + c) * p.kh + ky) * p.kw + kx) * v;
                            }
                        }
                    }
                }
            }
        }
    }
    for (e, a) in acc.into_iter().enumerate() {
        let c = (e as u32 / (p.hb * p.wb)) % p.cb;
        put(p, out, p.out_off + e as u32, finish(p, w, a, c));
    }
}

/// `conv_wgrad`: the weight gradient (S against B over every row and small position), then,
/// when `b_off != NONE`, each channel's sum of side `bias_side`.
pub fn conv_wgrad(p: &ConvParams, big: &[f64], small: &[f64], out: &mut [f64]) {
    for c in 0..p.cs {
        for d in 0..p.cb {
            for ky in 0..p.kh {
                for kx in 0..p.kw {
                    let mut acc = 0.0;
                    for i in 0..p.rows {
                        for y in 0..p.hs {
                            let Some(yb) = big_pos(y, p.sh, p.ph, ky, p.hb) else {
                                continue;
                            };
                            for x in 0..p.ws {
                                let Some(xb) = big_pos(x, p.sw, p.pw, kx, p.wb) else {
                                    continue;
                                };
                                acc +=
                                    at(small, p.small_off + ((i * p.cs + c) * p.hs + y) * p.ws + x)
                                        * at(
                                            big,
                                            p.big_off + ((i * p.cb + d) * p.hb + yb) * p.wb + xb,
                                        );
                            }
                        }
                    }
                    put(
                        p,
                        out,
                        p.out_off + ((c * p.cb + d) * p.kh + ky) * p.kw + kx,
                        acc,
                    );
                }
            }
        }
    }
    if p.b_off == NONE {
        return;
    }
    let (side, off, channels, plane) = if p.bias_side == 0 {
        (small, p.small_off, p.cs, p.hs * p.ws)
    } else {
        (big, p.big_off, p.cb, p.hb * p.wb)
    };
    for c in 0..channels {
        let mut acc = 0.0;
        for i in 0..p.rows {
            for e in 0..plane {
                acc += at(side, off + (i * channels + c) * plane + e);
            }
        }
        put(p, out, p.b_off + c, acc);
    }
}

/// `conv_dact`: out[out_off + e] = big[big_off + e] act'(small[small_off + e]).
pub fn conv_dact(p: &ConvParams, big: &[f64], small: &[f64], out: &mut [f64]) {
    for e in 0..p.count {
        out[(p.out_off + e) as usize] = at(big, p.big_off + e)
            * act_grad_from_y(p.act, f64::from(p.alpha), at(small, p.small_off + e));
    }
}
