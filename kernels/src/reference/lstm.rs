//! f64 twins of `lstm.wgsl`.

use crate::params::{LstmParams, NONE};

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

impl LstmParams {
    fn at(&self, b: usize, t: usize, j: usize) -> usize {
        (b * self.steps as usize + t) * self.hidden as usize + j
    }

    fn cells(&self) -> usize {
        self.s_off as usize + (self.batch * self.steps * self.hidden) as usize
    }

    fn gate(&self, b: usize, t: usize, q: usize, j: usize) -> usize {
        let (s, h) = (self.steps as usize, self.hidden as usize);
        self.s_off as usize
            + 2 * (self.batch * self.steps * self.hidden) as usize
            + (b * s + t) * 4 * h
            + q * h
            + j
    }
}

/// `lstm_fwd`: every step's h, c and gates into `out` at `s_off` (and h_{T-1} at `last_off`
/// unless NONE).
pub fn lstm_fwd(p: &LstmParams, zx: &[f64], wh: &[f64], out: &mut [f64]) {
    let (nb, nt, h) = (p.batch as usize, p.steps as usize, p.hidden as usize);
    for b in 0..nb {
        let mut hp = vec![0.0; h];
        let mut cp = vec![0.0; h];
        for t in 0..nt {
            let zrow = (p.zx_off + b as u32 * p.zx_row + t as u32 * p.zx_step) as usize;
            let mut hn = vec![0.0; h];
            for j in 0..h {
                let z: Vec<f64> = (0..4)
                    .map(|q| {
                        zx[zrow + q * h + j]
                            + (0..h)
                                .map(|k| hp[k] * wh[p.wh_off as usize + k * 4 * h + q * h + j])
                                .sum::<f64>()
                    })
                    .collect();
                let (i, f, g, o) = (sigmoid(z[0]), sigmoid(z[1]), z[2].tanh(), sigmoid(z[3]));
                let c = f * cp[j] + i * g;
                hn[j] = o * c.tanh();
                cp[j] = c;
                out[p.s_off as usize + p.at(b, t, j)] = hn[j];
                out[p.cells() + p.at(b, t, j)] = c;
                for (q, v) in [i, f, g, o].into_iter().enumerate() {
                    out[p.gate(b, t, q, j)] = v;
                }
                if t + 1 == nt && p.last_off != NONE {
                    out[p.last_off as usize + b * h + j] = hn[j];
                }
            }
            hp = hn;
        }
    }
}

/// `lstm_bwd`: every step's dz into `out` at `dz_off` (and their sums over the steps at
/// `sum_off` unless NONE), from the forward pass's `saved` and the upstream gradient `g`.
pub fn lstm_bwd(p: &LstmParams, wh: &[f64], saved: &[f64], g: &[f64], out: &mut [f64]) {
    let (nb, nt, h) = (p.batch as usize, p.steps as usize, p.hidden as usize);
    let scale = f64::from(p.g_scale);
    for b in 0..nb {
        let mut dh_next = vec![0.0; h];
        let mut dc_next = vec![0.0; h];
        for t in (0..nt).rev() {
            let last = t + 1 == nt;
            let mut dz = vec![0.0; 4 * h];
            for j in 0..h {
                let up = if p.g_last == 1 && !last {
                    0.0
                } else if p.g_off == NONE {
                    scale
                } else if p.g_last == 1 {
                    scale * g[p.g_off as usize + b * h + j]
                } else {
                    scale * g[p.g_off as usize + p.at(b, t, j)]
                };
                let dh = dh_next[j] + up;
                let gate = |q| saved[p.gate(b, t, q, j)];
                let (i, f, gg, o) = (gate(0), gate(1), gate(2), gate(3));
                let tc = saved[p.cells() + p.at(b, t, j)].tanh();
                let c_prev = if t > 0 {
                    saved[p.cells() + p.at(b, t - 1, j)]
                } else {
                    0.0
                };
                let dc = dh * o * (1.0 - tc * tc) + dc_next[j];
                dz[j] = dc * gg * i * (1.0 - i);
                dz[h + j] = dc * c_prev * f * (1.0 - f);
                dz[2 * h + j] = dc * i * (1.0 - gg * gg);
                dz[3 * h + j] = dh * tc * o * (1.0 - o);
                dc_next[j] = dc * f;
            }
            let row = p.dz_off as usize + (b * nt + t) * 4 * h;
            for (m, v) in dz.iter().enumerate() {
                out[row + m] = *v;
                if p.sum_off != NONE {
                    let e = p.sum_off as usize + b * 4 * h + m;
                    out[e] = if last { 0.0 } else { out[e] } + v;
                }
            }
            for (k, d) in dh_next.iter_mut().enumerate() {
                *d = (0..4 * h)
                    .map(|m| dz[m] * wh[p.wh_off as usize + k * 4 * h + m])
                    .sum();
            }
        }
    }
}

/// `lstm_dwh`: the recurrent weights' gradient, written or added into `out` at `o_off`.
pub fn lstm_dwh(p: &LstmParams, saved: &[f64], dz: &[f64], out: &mut [f64]) {
    let (nb, nt, h) = (p.batch as usize, p.steps as usize, p.hidden as usize);
    for k in 0..h {
        for m in 0..4 * h {
            let mut acc = 0.0;
            for b in 0..nb {
                for t in 1..nt {
                    acc += saved[p.s_off as usize + p.at(b, t - 1, k)]
                        * dz[p.dz_off as usize + (b * nt + t) * 4 * h + m];
                }
            }
            let o = &mut out[p.o_off as usize + k * 4 * h + m];
            *o = if p.accumulate != 0 { *o + acc } else { acc };
        }
    }
}
