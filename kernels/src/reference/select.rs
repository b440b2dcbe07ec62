//! f64 twins of `select.wgsl`.

use crate::params::SelectParams;

fn values(p: &SelectParams, v: &[f64]) -> Vec<f64> {
    (0..p.n as usize)
        .map(|e| v[p.v_off as usize + e * p.stride as usize])
        .collect()
}

/// `quantile`: the values of ranks `lo` and `hi`, `frac` of the way from one to the other.
pub fn quantile(p: &SelectParams, v: &[f64]) -> f64 {
    let mut s = values(p, v);
    s.sort_by(f64::total_cmp);
    let (a, b) = (s[p.lo as usize], s[p.hi as usize]);
    if p.frac == 0.0 {
        a
    } else {
        a + f64::from(p.frac) * (b - a)
    }
}

/// `select_below`: the indices of the values at or below `t`, in order.
pub fn select_below(p: &SelectParams, v: &[f64], t: f64) -> Vec<u32> {
    values(p, v)
        .iter()
        .enumerate()
        .filter(|(_, x)| **x <= t)
        .map(|(e, _)| e as u32)
        .collect()
}

/// `lookup`: each value's table entry.
pub fn lookup(p: &SelectParams, v: &[f64], w: &[f64]) -> Vec<f64> {
    values(p, v)
        .iter()
        .map(|&i| w[p.w_off as usize + i as usize * p.width as usize + p.col as usize])
        .collect()
}
