//! f64 twin of `dropout.wgsl`: inverted dropout at step counter `step` (both entry points:
//! the backward is the forward's mask applied to the upstream gradient).

use super::{at, rng_u32, rng_unit};
use crate::params::DropoutParams;

/// Whether element `i` is kept at `step`.
pub fn dropout_kept(p: &DropoutParams, step: u32, i: u32) -> bool {
    rng_unit(rng_u32(p.seed, step, p.tag, i)) >= f64::from(p.rate)
}

/// `dropout_fwd` (accumulate 0) or `dropout_bwd` (accumulate as set) on `x`.
pub fn dropout(p: &DropoutParams, x: &[f64], step: u32, out: &mut [f64]) {
    // The shader divides in f32 by the f32 1 - rate.
    let keep = f64::from(1.0f32 - p.rate);
    for i in 0..p.n {
        let v = if dropout_kept(p, step, i) {
            at(x, p.x_off + i) / keep
        } else {
            0.0
        };
        let o = (p.out_off + i) as usize;
        out[o] = if p.accumulate != 0 { out[o] + v } else { v };
    }
}
