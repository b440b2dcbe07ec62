// The UAI head as one op: a logistic layer on [l; s] and its masked mean BCE, forward in one
// dispatch and every gradient in another (instead of two column copies, a GEMM, BCE forward and
// backward, two backward GEMMs and a copy back).
//
//   f_i  = (s[r0 + i] - mu) / sd: the score standardised by running statistics, so that the
//          head's weights are in logit units whatever the base network's score scale. The
//          running state at st_off is (mu, sd, n): the statistics and the number of minibatches
//          behind them. Each step takes this minibatch's mean m and population standard
//          deviation v (over rows 0 .. r0 of s; no update when r0 < 2) and sets
//            n' = n + 1,  a = max(1 / n', decay),
//            mu' = (1 - a) mu + a m,  sd' = sqrt((1 - a) sd^2 + a v^2)
//          (a plain average of the first 1 / decay minibatches, then an exponential one;
//          decay = 1: this minibatch's alone), and standardises by (mu', sd'); without a state
//          (st_off == NONE) it starts from (0, 1, 0). sd is taken as 1 where it is not above
//          1e-6 |mu| and 1e-30 (rows that do not vary). head_score reads (mu, sd) from
//          `stats_in` instead and applies the same rule.
//   z_i  = sum_j w[j] l[r0 + i, j] + exp(w[h]) f_i + w[h + 1]          i < rows, j < h
//          (w: the head's h latent weights, the log of its weight on the score, and its bias,
//           at w_off; l: l_rows x h at l_off; s: one score per latent row at s_off, detached:
//           it gets no gradient). The head is increasing in the score: it can weigh the base
//           network's ranking down but never turn it round.
//   head_fwd: out[out_off] = sum_i m_i bce(z_i, y_i) / max(1, sum_i m_i)   (as bce.wgsl)
//                            + inv_var |w[0..=h]|^2 / (2 n)  (the prior, when inv_var > 0, n > 0)
//             (the state read from stats_in, not written)
//   head_bwd: c_i = g m_i (sigmoid(z_i) - y_i) / max(1, sum_i m_i)
//             dw[j] (+)= sum_i c_i l[r0 + i, j],  dw[h] (+)= exp(w[h]) sum_i c_i f_i,
//             dw[h + 1] (+)= sum_i c_i            (dw = out at out_off; dw_acc says (+)=)
//             dw[k] += g inv_var w[k] / n for k <= h  (the prior's gradient; none on the bias)
//             dl[dl_off + r * h + j] (+)= c_{r - r0} w[j] for r0 <= r < r0 + rows, else 0,
//             over all l_rows rows (so the rows outside the head's get a defined zero);
//             no dl when dl_off == NONE.
//             loss[loss_off] = head_fwd's loss, when loss_off != NONE: a training step's
//             head then needs no forward dispatch of its own.
//             stats[st_off .. st_off + 3] = (mu', sd', n') when st_off != NONE: the state,
//             read at the start and updated, for the next step and for head_score.
//            g = g_scale * (g[g_off] when g_off != NONE)
//   One workgroup of 256 threads (sums by `wgsum`); rows <= 1024 (the labelled minibatch).
//   The prior is a Gaussian N(0, I / inv_var) on the latent weights and the log score weight
//   (the head's start: the logit starts as f, the base network's ranking; the bias is free, so
//   labels that are all normal lower it rather than the weight on the score) for
//   n = ym[c_off] labels, as MAP logistic regression whose objective is
//   sum_i bce_i + |w[0..=h]|^2 inv_var / 2, divided by n to match the mean BCE. No prior when
//   inv_var == 0 or n == 0 (no labels).
//   head_score: out[out_off + i] = z_i for every i < rows, with (mu, sd) = stats_in[st_off ..]
//             (scoring: any number of rows, one invocation each, 2-D grid; no labels, no
//             gradient).
//
// Bindings: 0 params, 1 l, 2 s, 3 w, 4 ym (y at y_off, the mask at m_off, the count at c_off), 5 g (read),
// 6 out / dw (read_write), 7 dl (read_write), 8 loss (read_write; head_bwd), 9 stats
// (read_write; head_bwd's state), 10 stats_in (read; head_fwd's state, head_score's (mu, sd)).

#import grid
#import math
#import wgsum

struct Params {
    rows: u32,
    h: u32,
    l_off: u32,
    l_rows: u32,
    r0: u32,
    s_off: u32,
    w_off: u32,
    y_off: u32,
    m_off: u32,
    out_off: u32,
    g_off: u32,
    g_scale: f32,
    dw_acc: u32,
    dl_off: u32,
    dl_acc: u32,
    inv_var: f32,
    c_off: u32,
    loss_off: u32,
    st_off: u32,
    decay: f32,
}

const NONE: u32 = 0xffffffffu;
const MAX_ROWS: u32 = 1024u;
const WG: u32 = 256u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> l: array<f32>;
@group(0) @binding(2) var<storage, read> s: array<f32>;
@group(0) @binding(3) var<storage, read> w: array<f32>;
@group(0) @binding(4) var<storage, read> ym: array<f32>;
@group(0) @binding(5) var<storage, read> g: array<f32>;
@group(0) @binding(6) var<storage, read_write> out: array<f32>;
@group(0) @binding(7) var<storage, read_write> dl: array<f32>;
@group(0) @binding(8) var<storage, read_write> loss: array<f32>;
@group(0) @binding(9) var<storage, read_write> stats: array<f32>;
@group(0) @binding(10) var<storage, read> stats_in: array<f32>;

var<workgroup> coef: array<f32, MAX_ROWS>;
// The score's standardisation (see the top), set first by every entry point.
var<private> mu: f32 = 0.0;
var<private> sd: f32 = 1.0;

fn mask_count(lane: Lane) -> f32 {
    var c = 0.0;
    for (var i = lane.lid; i < p.rows; i += WG) {
        c += ym[p.m_off + i];
    }
    return max(1.0, workgroup_sum(c, lane));
}

// The running state after this step's minibatch (see the top): `old` is (mu, sd, n).
fn update_stats(lane: Lane, old: vec3<f32>) -> vec3<f32> {
    let n = p.r0;
    if n < 2u {
        return old;
    }
    // This minibatch's mean, then the squares about it.
    var acc = 0.0;
    for (var r = lane.lid; r < n; r += WG) {
        acc += s[p.s_off + r];
    }
    let m = workgroup_sum(acc, lane) / f32(n);
    var sq = 0.0;
    for (var r = lane.lid; r < n; r += WG) {
        let d = s[p.s_off + r] - m;
        sq = fma(d, d, sq);
    }
    let var_b = workgroup_sum(sq, lane) / f32(n);
    let count = old.z + 1.0;
    let a = max(1.0 / count, p.decay);
    // Written out rather than mix(), so that a = 1 gives this minibatch's statistics exactly.
    let b = 1.0 - a;
    let sd_new = sqrt(b * (old.y * old.y) + a * var_b);
    return vec3<f32>(b * old.x + a * m, sd_new, min(count, 1e7));
}

// Standardise by the state's (mu, sd), sd taken as 1 for rows that do not vary.
fn use_stats(st: vec3<f32>) {
    mu = st.x;
    sd = select(1.0, st.y, st.y > 1e-6 * abs(st.x) && st.y > 1e-30);
}

// Input k of row i: a latent column, the standardised score, or 1 for the bias.
fn feature(k: u32, i: u32) -> f32 {
    let r = p.r0 + i;
    if k < p.h {
        return l[p.l_off + r * p.h + k];
    }
    if k == p.h {
        return (s[p.s_off + r] - mu) / sd;
    }
    return 1.0;
}

// The weight on input k: the score's is exp of its parameter (positive).
fn weight(k: u32) -> f32 {
    let v = w[p.w_off + k];
    return select(v, exp(v), k == p.h);
}

// The label count the prior is divided by; 0 when the prior does not act.
fn prior_count() -> f32 {
    if p.inv_var == 0.0 {
        return 0.0;
    }
    return max(0.0, ym[p.c_off]);
}

fn logit(i: u32) -> f32 {
    var z = 0.0;
    for (var k = 0u; k < p.h + 2u; k++) {
        z = fma(weight(k), feature(k, i), z);
    }
    return z;
}

@compute @workgroup_size(256, 1, 1)
fn head_score(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) lid: u32) {
    let i = grid_index(wg, nwg, lid);
    use_stats(vec3<f32>(stats_in[p.st_off], stats_in[p.st_off + 1u], 0.0));
    if i < p.rows {
        out[p.out_off + i] = logit(i);
    }
}

// The head's loss (see the top), the same in every invocation; `count` from `mask_count`.
fn loss_value(lane: Lane, count: f32) -> f32 {
    var acc = 0.0;
    for (var i = lane.lid; i < p.rows; i += WG) {
        acc += ym[p.m_off + i] * bce_loss(logit(i), ym[p.y_off + i]);
    }
    let total = workgroup_sum(acc, lane);
    let n = prior_count();
    var sq = 0.0;
    for (var k = lane.lid; k <= p.h; k += WG) {
        let d = w[p.w_off + k];
        sq = fma(d, d, sq);
    }
    let sq_total = workgroup_sum(sq, lane);
    var value = total / count;
    if n > 0.0 {
        value += 0.5 * p.inv_var * sq_total / n;
    }
    return value;
}

@compute @workgroup_size(WG, 1, 1)
fn head_fwd(lane: Lane) {
    var old = vec3<f32>(0.0, 1.0, 0.0);
    if p.st_off != NONE {
        old = vec3<f32>(stats_in[p.st_off], stats_in[p.st_off + 1u], stats_in[p.st_off + 2u]);
    }
    use_stats(update_stats(lane, old));
    let value = loss_value(lane, mask_count(lane));
    if lane.lid == 0u {
        out[p.out_off] = value;
    }
}

@compute @workgroup_size(WG, 1, 1)
fn head_bwd(lane: Lane) {
    let lid = lane.lid;
    var old = vec3<f32>(0.0, 1.0, 0.0);
    if p.st_off != NONE {
        old = vec3<f32>(stats[p.st_off], stats[p.st_off + 1u], stats[p.st_off + 2u]);
    }
    let state = update_stats(lane, old);
    use_stats(state);
    let count = mask_count(lane);
    if p.loss_off != NONE {
        let value = loss_value(lane, count);
        if lid == 0u {
            loss[p.loss_off] = value;
        }
    }
    // Every invocation has read the old state before it is overwritten.
    storageBarrier();
    if p.st_off != NONE && lid == 0u {
        stats[p.st_off] = state.x;
        stats[p.st_off + 1u] = state.y;
        stats[p.st_off + 2u] = state.z;
    }
    var gs = p.g_scale;
    if p.g_off != NONE {
        gs *= g[p.g_off];
    }
    for (var i = lid; i < p.rows; i += WG) {
        let diff = bce_slope(logit(i), ym[p.y_off + i]);
        coef[i] = gs * ym[p.m_off + i] * diff / count;
    }
    workgroupBarrier();
    let n = prior_count();
    for (var k = lid; k < p.h + 2u; k += WG) {
        var acc = 0.0;
        for (var i = 0u; i < p.rows; i++) {
            acc = fma(coef[i], feature(k, i), acc);
        }
        if k == p.h {
            acc *= weight(k);
        }
        let o = p.out_off + k;
        if p.dw_acc != 0u {
            acc += out[o];
        }
        if n > 0.0 && k <= p.h {
            acc += gs * (p.inv_var * w[p.w_off + k] / n);
        }
        out[o] = acc;
    }
    if p.dl_off == NONE {
        return;
    }
    for (var e = lid; e < p.l_rows * p.h; e += WG) {
        let r = e / p.h;
        var v = 0.0;
        if r >= p.r0 && r < p.r0 + p.rows {
            v = coef[r - p.r0] * w[p.w_off + e % p.h];
        }
        let o = p.dl_off + e;
        if p.dl_acc != 0u {
            v += dl[o];
        }
        dl[o] = v;
    }
}
