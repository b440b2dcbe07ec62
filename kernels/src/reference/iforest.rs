//! f64 twin of `iforest.wgsl`: every row's isolation-forest score.

use crate::params::IForestParams;

/// `iforest_score`: out[out_off + i] = 2^(-mean normalised path length), walking each tree of
/// `nodes` as the shader does (a walk cut after `npt` nodes adds 0).
pub fn iforest_score(p: &IForestParams, x: &[f64], nodes: &[f64], out: &mut [f64]) {
    for i in 0..p.rows as usize {
        let row = p.x_off as usize + i * p.cols as usize;
        let mut total = 0.0;
        for t in 0..p.trees as usize {
            let tree = p.t_off as usize + 4 * t * p.npt as usize;
            let mut j = 0usize;
            for _ in 0..p.npt {
                let at = tree + 4 * j;
                if nodes[at] < 0.0 {
                    total += nodes[at + 1];
                    break;
                }
                let v = x[row + nodes[at] as usize];
                j = if v < nodes[at + 1] {
                    nodes[at + 2] as usize
                } else {
                    nodes[at + 3] as usize
                };
            }
        }
        out[p.out_off as usize + i] = (-total / f64::from(p.trees)).exp2();
    }
}
