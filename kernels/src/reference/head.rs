//! f64 twins of `head.wgsl`: the UAI head's scores, loss (with its prior) and gradients.

use super::at;
use crate::params::{HeadParams, NONE};

/// Input k of head row i: a latent column, the score, or 1 (the bias).
fn head_feature(p: &HeadParams, l: &[f64], s: &[f64], k: u32, i: u32) -> f64 {
    let r = p.r0 + i;
    if k < p.h {
        at(l, p.l_off + r * p.h + k)
    } else if k == p.h {
        at(s, p.s_off + r)
    } else {
        1.0
    }
}

fn head_logit(p: &HeadParams, l: &[f64], s: &[f64], w: &[f64], i: u32) -> f64 {
    (0..p.h + 2)
        .map(|k| at(w, p.w_off + k) * head_feature(p, l, s, k, i))
        .sum()
}

fn head_count(p: &HeadParams, ym: &[f64]) -> f64 {
    (0..p.rows)
        .map(|i| at(ym, p.m_off + i))
        .sum::<f64>()
        .max(1.0)
}

/// The head's start, the centre of its prior: 1 on s, 0 elsewhere.
fn head_start(p: &HeadParams, k: u32) -> f64 {
    if k == p.h { 1.0 } else { 0.0 }
}

/// The label count the head's prior is divided by; None when the prior does not act.
fn prior_count(p: &HeadParams, ym: &[f64]) -> Option<f64> {
    if p.inv_var == 0.0 {
        return None;
    }
    Some(at(ym, p.c_off)).filter(|n| *n > 0.0)
}

/// `head.wgsl::head_score`: every row's logit.
pub fn head_score(p: &HeadParams, l: &[f64], s: &[f64], w: &[f64], out: &mut [f64]) {
    for i in 0..p.rows {
        out[(p.out_off + i) as usize] = head_logit(p, l, s, w, i);
    }
}

/// `head.wgsl::head_fwd`.
pub fn head_fwd(p: &HeadParams, l: &[f64], s: &[f64], w: &[f64], ym: &[f64], out: &mut [f64]) {
    out[p.out_off as usize] = head_loss(p, l, s, w, ym);
}

/// The head's masked mean BCE, plus its prior when that acts.
fn head_loss(p: &HeadParams, l: &[f64], s: &[f64], w: &[f64], ym: &[f64]) -> f64 {
    let mut acc = 0.0;
    for i in 0..p.rows {
        let z = head_logit(p, l, s, w, i);
        let loss = z.max(0.0) - z * at(ym, p.y_off + i) + (-z.abs()).exp().ln_1p();
        acc += at(ym, p.m_off + i) * loss;
    }
    let mut loss = acc / head_count(p, ym);
    if let Some(n) = prior_count(p, ym) {
        let sq: f64 = (0..p.h + 2)
            .map(|k| (at(w, p.w_off + k) - head_start(p, k)).powi(2))
            .sum();
        loss += 0.5 * f64::from(p.inv_var) * sq / n;
    }
    loss
}

/// `head.wgsl::head_bwd`: the head's gradient into `dw` (at `out_off`), the latent's into
/// `dl`, and (when `loss_off != NONE`) the loss into `loss`.
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
) {
    if p.loss_off != NONE {
        loss[p.loss_off as usize] = head_loss(p, l, s, w, ym);
    }
    let count = head_count(p, ym);
    let mut gs = f64::from(p.g_scale);
    if p.g_off != NONE {
        gs *= at(g, p.g_off);
    }
    let coef: Vec<f64> = (0..p.rows)
        .map(|i| {
            let sig = 1.0 / (1.0 + (-head_logit(p, l, s, w, i)).exp());
            gs * at(ym, p.m_off + i) * (sig - at(ym, p.y_off + i)) / count
        })
        .collect();
    for k in 0..p.h + 2 {
        let mut v: f64 = (0..p.rows)
            .map(|i| coef[i as usize] * head_feature(p, l, s, k, i))
            .sum();
        let o = (p.out_off + k) as usize;
        if p.dw_acc != 0 {
            v += dw[o];
        }
        if let Some(n) = prior_count(p, ym) {
            v += gs * f64::from(p.inv_var) * (at(w, p.w_off + k) - head_start(p, k)) / n;
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
