//! f64 twins of `angle.wgsl`.

use crate::params::{AngleParams, NONE};

fn row(p: &AngleParams, v: &[f64], off: u32, i: usize) -> Vec<f64> {
    let d = p.cols as usize;
    v[off as usize + i * d..off as usize + (i + 1) * d].to_vec()
}

fn norm(v: &[f64]) -> f64 {
    v.iter().map(|x| x * x).sum::<f64>().sqrt()
}

/// The angle between two rows (pi / 2 when either is all zeros), by the kernel's formula
/// 2 atan2(|x^ - y^|, |x^ + y^|) (in f64, where arccos of the cosine loses small angles and
/// those near pi).
pub fn angle_between(x: &[f64], y: &[f64]) -> f64 {
    let (nx, ny) = (norm(x), norm(y));
    if nx == 0.0 || ny == 0.0 {
        return std::f64::consts::FRAC_PI_2;
    }
    let (mut minus, mut plus) = (0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        let (a, b) = (a / nx, b / ny);
        minus += (a - b) * (a - b);
        plus += (a + b) * (a + b);
    }
    2.0 * minus.sqrt().atan2(plus.sqrt())
}

/// `angle_fwd`: each row's angle between prediction and target.
pub fn angle_fwd(p: &AngleParams, pred: &[f64], tgt: &[f64], out: &mut [f64]) {
    for i in 0..p.rows as usize {
        let (x, y) = (row(p, tgt, p.target_off, i), row(p, pred, p.pred_off, i));
        out[p.out_off as usize + i] = angle_between(&x, &y);
    }
}

/// `angle_bwd`: the gradient with respect to the prediction, scaled by the upstream gradient
/// (written, or added with `accumulate`).
pub fn angle_bwd(p: &AngleParams, pred: &[f64], tgt: &[f64], g: &[f64], out: &mut [f64]) {
    let d = p.cols as usize;
    for i in 0..p.rows as usize {
        let (x, y) = (row(p, tgt, p.target_off, i), row(p, pred, p.pred_off, i));
        let (nx, ny) = (norm(&x), norm(&y));
        let theta = angle_between(&x, &y);
        let (c, s) = (theta.cos(), theta.sin());
        let gi = f64::from(p.g_scale)
            * if p.g_off == NONE {
                1.0
            } else {
                g[p.g_off as usize + i]
            };
        for j in 0..d {
            let v = if nx > 0.0 && ny > 0.0 && s >= 1e-12 {
                -gi * (x[j] / nx - c * y[j] / ny) / (s * ny)
            } else {
                0.0
            };
            let o = &mut out[p.out_off as usize + i * d + j];
            *o = if p.accumulate != 0 { *o + v } else { v };
        }
    }
}
