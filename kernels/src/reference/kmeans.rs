//! f64 twins of `kmeans.wgsl`.

use crate::params::KmeansParams;

fn sq_dist(p: &KmeansParams, x: &[f64], row: usize, c: &[f64], at: usize) -> f64 {
    let d = p.cols as usize;
    (0..d)
        .map(|t| (x[p.x_off as usize + row * d + t] - c[at + t]).powi(2))
        .sum()
}

/// `km_assign`: each row's nearest centroid (ties to the lower index; not written when `a_off`
/// is NONE) and squared distance.
pub fn km_assign(p: &KmeansParams, x: &[f64], cent: &[f64], out: &mut [f64]) {
    let d = p.cols as usize;
    for i in 0..p.rows as usize {
        let (mut best, mut bd) = (0, f64::INFINITY);
        for j in 0..p.k as usize {
            let dist = sq_dist(p, x, i, cent, p.c_off as usize + j * d);
            if dist < bd {
                (best, bd) = (j, dist);
            }
        }
        if p.a_off != crate::params::NONE {
            out[p.a_off as usize + i] = best as f64;
        }
        out[p.d_off as usize + i] = bd;
    }
}

/// `km_update`: each centroid the mean of its rows (kept with none), and how far it moved
/// (squared) into `out[s_off + j]`.
pub fn km_update(p: &KmeansParams, x: &[f64], aux: &[f64], out: &mut [f64]) {
    let d = p.cols as usize;
    for j in 0..p.k as usize {
        let rows: Vec<usize> = (0..p.rows as usize)
            .filter(|&i| aux[p.a_off as usize + i] as usize == j)
            .collect();
        let mut moved = 0.0;
        if !rows.is_empty() {
            for t in 0..d {
                let m = rows
                    .iter()
                    .map(|&i| x[p.x_off as usize + i * d + t])
                    .sum::<f64>()
                    / rows.len() as f64;
                let at = p.c_off as usize + j * d + t;
                moved += (m - out[at]).powi(2);
                out[at] = m;
            }
        }
        out[p.s_off as usize + j] = moved;
    }
}

/// `km_stats`: each cluster's row count and mean squared distance.
pub fn km_stats(p: &KmeansParams, aux: &[f64], out: &mut [f64]) {
    for j in 0..p.k as usize {
        let d: Vec<f64> = (0..p.rows as usize)
            .filter(|&i| aux[p.a_off as usize + i] as usize == j)
            .map(|i| aux[p.d_off as usize + i])
            .collect();
        let n = d.len() as f64;
        out[p.s_off as usize + 2 * j] = n;
        out[p.s_off as usize + 2 * j + 1] = if n > 0.0 {
            d.iter().sum::<f64>() / n
        } else {
            0.0
        };
    }
}

/// `km_seed_dist`: the squared distance to centroid `idx`, written (mode 0) or the smaller kept.
pub fn km_seed_dist(p: &KmeansParams, x: &[f64], cent: &[f64], out: &mut [f64]) {
    let at = p.c_off as usize + p.idx as usize * p.cols as usize;
    for i in 0..p.rows as usize {
        let d = sq_dist(p, x, i, cent, at);
        let o = &mut out[p.m_off as usize + i];
        *o = if p.mode == 0 { d } else { o.min(d) };
    }
}

/// `km_seed_pick`'s draw: the uniform u and, for a weighted draw (mode 0), the running sums
/// of the weights `aux[m_off ..]` before and after each row; the kernel's row r must have
/// weight > 0 and `before[r] <= u total <= after[r]` (up to f32 rounding); for a uniform
/// draw (mode 1, or weights summing to 0) r = floor(u rows).
pub struct SeedDraw {
    pub u: f64,
    pub total: f64,
    pub before: Vec<f64>,
    pub after: Vec<f64>,
}

pub fn km_seed_draw(p: &KmeansParams, aux: &[f64]) -> SeedDraw {
    let u = super::rng_unit(super::rng_u32(p.seed, 0, p.tag, p.idx));
    let (mut before, mut after) = (Vec::new(), Vec::new());
    let mut acc = 0.0;
    for i in 0..p.rows as usize {
        before.push(acc);
        if p.mode == 0 {
            acc += aux[p.m_off as usize + i];
        }
        after.push(acc);
    }
    SeedDraw {
        u,
        total: acc,
        before,
        after,
    }
}
