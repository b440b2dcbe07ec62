//! f64 twins of `head.wgsl`: the UAI head's scores, loss (with its prior) and gradients.

use super::at;
use crate::params::{HEAD_STATS_START, HeadParams, NONE};

/// The head's running state after this step's minibatch (`head.wgsl`'s top): `old` is (mean,
/// standard deviation, minibatches behind them); unchanged with fewer than two rows.
pub fn head_update_stats(p: &HeadParams, s: &[f64], old: [f64; 3]) -> [f64; 3] {
    let n = p.r0;
    if n < 2 {
        return old;
    }
    let m = (0..n).map(|r| at(s, p.s_off + r)).sum::<f64>() / f64::from(n);
    let var = (0..n)
        .map(|r| (at(s, p.s_off + r) - m).powi(2))
        .sum::<f64>()
        / f64::from(n);
    let count = old[2] + 1.0;
    let a = (1.0 / count).max(f64::from(p.decay));
    let sd = ((1.0 - a) * old[1] * old[1] + a * var).sqrt();
    [(1.0 - a) * old[0] + a * m, sd, count.min(1e7)]
}

/// The (mean, standard deviation) a state standardises by: the deviation taken as 1 where it
/// is not above 1e-6 |mean| and 1e-30.
pub fn head_used_stats(st: [f64; 3]) -> (f64, f64) {
    let sd = if st[1] > 1e-6 * st[0].abs() && st[1] > 1e-30 {
        st[1]
    } else {
        1.0
    };
    (st[0], sd)
}

/// The state at `st_off` of `stats`, or the start when `st_off == NONE`.
fn head_state(p: &HeadParams, stats: &[f64]) -> [f64; 3] {
    if p.st_off == NONE {
        return HEAD_STATS_START.map(f64::from);
    }
    [0, 1, 2].map(|k| at(stats, p.st_off + k))
}

/// Input k of head row i: a latent column, the standardised score, or 1 (the bias).
fn head_feature(p: &HeadParams, l: &[f64], s: &[f64], st: (f64, f64), k: u32, i: u32) -> f64 {
    let r = p.r0 + i;
    if k < p.h {
        at(l, p.l_off + r * p.h + k)
    } else if k == p.h {
        (at(s, p.s_off + r) - st.0) / st.1
    } else {
        1.0
    }
}

/// The weight on input k: the score's is exp of its parameter.
fn head_weight(p: &HeadParams, w: &[f64], k: u32) -> f64 {
    let v = at(w, p.w_off + k);
    if k == p.h { v.exp() } else { v }
}

fn head_logit(p: &HeadParams, l: &[f64], s: &[f64], st: (f64, f64), w: &[f64], i: u32) -> f64 {
    (0..p.h + 2)
        .map(|k| head_weight(p, w, k) * head_feature(p, l, s, st, k, i))
        .sum()
}

fn head_count(p: &HeadParams, ym: &[f64]) -> f64 {
    (0..p.rows)
        .map(|i| at(ym, p.m_off + i))
        .sum::<f64>()
        .max(1.0)
}

/// The label count the head's prior is divided by; None when the prior does not act.
fn prior_count(p: &HeadParams, ym: &[f64]) -> Option<f64> {
    if p.inv_var == 0.0 {
        return None;
    }
    Some(at(ym, p.c_off)).filter(|n| *n > 0.0)
}

/// `head.wgsl::head_score`: every row's logit, standardising by `stats[st_off ..]`.
pub fn head_score(p: &HeadParams, l: &[f64], s: &[f64], w: &[f64], stats: &[f64], out: &mut [f64]) {
    let st = head_used_stats([at(stats, p.st_off), at(stats, p.st_off + 1), 0.0]);
    for i in 0..p.rows {
        out[(p.out_off + i) as usize] = head_logit(p, l, s, st, w, i);
    }
}

/// `head.wgsl::head_fwd`, the running state read from `stats` (not written).
pub fn head_fwd(
    p: &HeadParams,
    l: &[f64],
    s: &[f64],
    w: &[f64],
    ym: &[f64],
    stats: &[f64],
    out: &mut [f64],
) {
    let st = head_used_stats(head_update_stats(p, s, head_state(p, stats)));
    out[p.out_off as usize] = head_loss(p, l, s, w, ym, st);
}

/// The head's masked mean BCE, plus its prior when that acts, standardising by `st`.
fn head_loss(p: &HeadParams, l: &[f64], s: &[f64], w: &[f64], ym: &[f64], st: (f64, f64)) -> f64 {
    let mut acc = 0.0;
    for i in 0..p.rows {
        let z = head_logit(p, l, s, st, w, i);
        let loss = z.max(0.0) - z * at(ym, p.y_off + i) + (-z.abs()).exp().ln_1p();
        acc += at(ym, p.m_off + i) * loss;
    }
    let mut loss = acc / head_count(p, ym);
    if let Some(n) = prior_count(p, ym) {
        let sq: f64 = (0..=p.h).map(|k| at(w, p.w_off + k).powi(2)).sum();
        loss += 0.5 * f64::from(p.inv_var) * sq / n;
    }
    loss
}

/// `head.wgsl::head_bwd`: the head's gradient into `dw` (at `out_off`), the latent's into
/// `dl`, (when `loss_off != NONE`) the loss into `loss`, and (when `st_off != NONE`) the
/// running state read from `stats` and updated there.
#[allow(clippy::too_many_arguments)]
pub fn head_bwd(
    p: &HeadParams,
    l: &[f64],
    s: &[f64],
    w: &[f64],
    ym: &[f64],
    g: &[f64],
    dw: &mut [f64],
    dl: &mut [f64],
    loss: &mut [f64],
    stats: &mut [f64],
) {
    let state = head_update_stats(p, s, head_state(p, stats));
    let st = head_used_stats(state);
    if p.loss_off != NONE {
        loss[p.loss_off as usize] = head_loss(p, l, s, w, ym, st);
    }
    if p.st_off != NONE {
        let o = p.st_off as usize;
        stats[o..o + 3].copy_from_slice(&state);
    }
    let count = head_count(p, ym);
    let mut gs = f64::from(p.g_scale);
    if p.g_off != NONE {
        gs *= at(g, p.g_off);
    }
    let coef: Vec<f64> = (0..p.rows)
        .map(|i| {
            let sig = 1.0 / (1.0 + (-head_logit(p, l, s, st, w, i)).exp());
            gs * at(ym, p.m_off + i) * (sig - at(ym, p.y_off + i)) / count
        })
        .collect();
    for k in 0..p.h + 2 {
        let mut v: f64 = (0..p.rows)
            .map(|i| coef[i as usize] * head_feature(p, l, s, st, k, i))
            .sum();
        if k == p.h {
            v *= head_weight(p, w, k);
        }
        let o = (p.out_off + k) as usize;
        if p.dw_acc != 0 {
            v += dw[o];
        }
        if let Some(n) = prior_count(p, ym)
            && k <= p.h
        {
            v += gs * f64::from(p.inv_var) * at(w, p.w_off + k) / n;
        }
        dw[o] = v;
    }
    if p.dl_off == NONE {
        return;
    }
    for e in 0..p.l_rows * p.h {
        let r = e / p.h;
        let mut v = if r >= p.r0 && r < p.r0 + p.rows {
            coef[(r - p.r0) as usize] * at(w, p.w_off + e % p.h)
        } else {
            0.0
        };
        let o = (p.dl_off + e) as usize;
        if p.dl_acc != 0 {
            v += dl[o];
        }
        dl[o] = v;
    }
}
