//! What one dispatch asks of the GPU, as a plan reports it ([`super::Plan::report`]): how
//! many workgroups, and how long the busiest invocation works in sequence. A dispatch with
//! few workgroups and a long serial chain leaves most of a large GPU idle however fast each
//! step is; this is the figure that points at it (the small GEMMs' K loop, the head's
//! single-workgroup backward) without a GPU at hand.
//!
//! The serial length is read off each kernel's loops (`shaders/`), from the dispatch's own
//! parameters: the trip counts of the loops one invocation runs one after another (nested
//! loops multiplied), each workgroup-wide sum counted as its tree's levels. It counts steps,
//! not time: a GEMM's K tile is 16 fused multiply-adds between two barriers, a bitonic stage
//! four compare-exchanges and a barrier. Barrier-free loops of independent iterations count
//! the same as dependent ones.

use oddity_kernels::params::{NONE, Params, Value};

/// A dispatch's longest chain of in-order work for one invocation: `steps`, each one of what
/// `of` names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Serial {
    pub steps: u32,
    pub of: &'static str,
}

/// Levels of a 256-wide workgroup sum (`shared/wgsum.wgsl`; the subgroup variant has fewer).
const SUM256: u32 = 8;
/// Levels of a 64-wide one (`rowerr_fwd`).
const SUM64: u32 = 6;
/// Stages of the bitonic sort of a 2048-pair tile (`topk.wgsl`): 1 + 2 + ... + 11.
const BITONIC_2048: u32 = 66;

/// The serial length of one dispatch of `entry` (an entry point's name, the same for its f16
/// and subgroup variants) with `params`; None for an entry point this table does not know
/// (every entry point of `shaders/` is known: a test walks them all).
pub fn serial(entry: &str, params: Option<&dyn Params>) -> Option<Serial> {
    let fields = params.map(|p| p.fields()).unwrap_or_default();
    // A parameter by name (0 when absent: the formulas below only name their kernel's own).
    let f = |name: &str| -> u32 {
        fields
            .iter()
            .find(|(n, _)| *n == name)
            .map_or(0, |(_, v)| match v {
                Value::U32(x) => *x,
                Value::F32(x) => *x as u32,
            })
    };
    let strided = |n: u32, wg: u32| n.div_ceil(wg);
    let s = |steps: u32, of: &'static str| Some(Serial { steps, of });
    match entry {
        "gemm" | "gemm_wide" | "gemm_huge" => s(
            f("k").div_ceil(16),
            "K tiles of 16 multiply-adds, two barriers each",
        ),
        "gemm_sliced" => s(
            f("k").div_ceil(64),
            "K tiles of 64 (16 per slice), two barriers each",
        ),
        // One element (or row) per invocation, no loop.
        "advance" | "fill" | "axpy" | "copy_cols" | "optim_step" | "gauss_noise"
        | "sample_rows" | "gather_rows" | "sample_labelled" | "binloss_fwd" | "binloss_bwd"
        | "nll_fwd" | "nll_bwd_e" | "vae_bwd_z" | "vae_bwd_kl" | "rowerr_bwd" | "topk_logits" => {
            s(1, "one element per invocation")
        }
        "nll_bwd_s" => s(f("rows"), "rows summed by one invocation"),
        "vae_fwd" => s(f("latent"), "latent units per row"),
        "rowerr_fwd" => s(
            strided(f("cols"), 64) + SUM64,
            "columns strided over 64 lanes, then a 64-wide sum",
        ),
        "reduce_sum" => s(
            strided(f("n"), 256) + SUM256,
            "elements strided over one workgroup, then its sum",
        ),
        "bce_fwd" => s(
            2 * (strided(f("rows"), 256) + SUM256),
            "rows strided over one workgroup, twice, each then summed",
        ),
        "bce_bwd" => s(
            2 * strided(f("rows"), 256) + SUM256,
            "rows strided over one workgroup, twice, one sum",
        ),
        "ce_fwd" | "ce_bwd" => s(3 * f("cols"), "columns per row, three passes"),
        "head_score" => s(f("h") + 2, "head inputs per row"),
        "head_fwd" | "head_bwd" => s(head(entry, &f), "rows and head inputs, one workgroup"),
        "iforest_score" => s(f("trees") * f("npt"), "tree nodes at most (trees x nodes)"),
        "col_stats" => s(
            2 * (strided(f("rows"), 256) + SUM256),
            "rows strided over one workgroup, twice, each then summed",
        ),
        "standardize" => s(1, "one element per invocation"),
        "jacobi" => {
            // Sweeps x rounds, each round three strided passes (the rotations, the columns,
            // the rows), at most; then the sort, each invocation ranking its eigenvalues.
            let d = f("cols");
            let (m, rows) = (d + (d & 1), f("sweeps"));
            let half = m / 2;
            let round = strided(half, 256) + 2 * strided(half * d, 256);
            s(
                rows * m.saturating_sub(1) * round + strided(d, 256) * 2 * d,
                "Jacobi rounds at most (sweeps x (cols - 1)), each three strided passes with a \
                 barrier, one workgroup; then the sort",
            )
        }
        "pca_score" => s(f("k") + f("cols"), "components and columns per row"),
        "gd_estep" => s(
            3 * f("k") * f("cols"),
            "components x columns per row, three passes",
        ),
        "gd_onehot" => s(f("k"), "components per row"),
        "gd_label" => s(f("k") * f("cols"), "components x columns per row"),
        "gd_mstep" => s(
            f("rows") * (1 + 2 * strided(f("cols"), 256)) + SUM256,
            "rows summed, then twice for each column strided over one workgroup, then a sum",
        ),
        "quantile" => s(
            2 * 4 * (strided(f("n"), 256) + 256),
            "two ranks, each four radix passes over the values strided over one workgroup and a \
             256-bin scan",
        ),
        "select_below" => s(
            2 * strided(f("n"), 256) + 256,
            "values strided over one workgroup, twice, and a 256-entry scan",
        ),
        "lookup" => s(1, "one element per invocation"),
        "angle_fwd" => s(
            2 * strided(f("cols"), 64) + 4 * SUM64,
            "columns strided over 64 lanes, twice, each pass then two 64-wide sums",
        ),
        "angle_bwd" => s(
            2 * strided(f("cols"), 64) + 2 * SUM64,
            "columns strided over 64 lanes, twice, and two 64-wide sums",
        ),
        "lstm_fwd" => s(
            f("steps") * strided(f("hidden"), 64) * (f("hidden") + 1),
            "steps, each units strided over 64 lanes, each the hidden units summed",
        ),
        "lstm_bwd" => s(
            f("steps") * strided(f("hidden"), 64) * (4 * f("hidden") + 1),
            "steps, each units strided over 64 lanes twice, once summing 4 H gradients",
        ),
        "lstm_dwh" => s(f("batch") * f("steps"), "sequences x steps per weight"),
        "km_assign" => s(f("k") * f("cols"), "centroids x columns per row"),
        "km_update" => s(
            f("rows") * (1 + strided(f("cols"), 256)) + SUM256,
            "rows counted, then summed for each column strided over one workgroup, then a sum",
        ),
        "km_stats" => s(
            strided(f("rows"), 256) + 2 * SUM256,
            "rows strided over one workgroup, two sums",
        ),
        "km_seed_dist" => s(f("cols"), "columns per row"),
        "km_seed_pick" => s(
            strided(f("rows"), 256) + 256 + 2 * strided(f("rows"), 256) + strided(f("cols"), 256),
            "rows strided over one workgroup, then one invocation's walk over the chunks and \
             a chunk's rows, then the row copied",
        ),
        "sq_norms" => s(f("cols"), "columns per row"),
        "rbf" | "smo_init" => s(1, "one element per invocation"),
        "smo" => {
            // The gradient's recomputation (n^2 strided), then per iteration two strided
            // selections over n, each with a tree of (value, index) pairs, and the update.
            let n = f("rows");
            let pass = strided(n, 256);
            s(
                pass * n + f("iters") * (3 * pass + 2 * SUM256) + 2 * (pass + SUM256),
                "SMO iterations at most, each three strided passes over the multipliers and \
                 two reductions, one workgroup; then rho",
            )
        }
        "decision" => s(f("cols") + f("sv"), "columns and support rows per row"),
        "rff_cos" | "primal_bwd_u" | "primal_score" => s(1, "one element per invocation"),
        "primal_fwd" => s(
            strided(f("rows"), 256) + strided(f("cols"), 256) + 2 * SUM256,
            "rows and weights strided over one workgroup, two sums",
        ),
        "primal_bwd_params" => s(
            strided(f("rows"), 256) + strided(f("cols"), 256) + SUM256,
            "rows and weights strided over one workgroup, one sum",
        ),
        "gmm_fit" => {
            // Two passes of 16-sum blocks over the rows (each row's softmax again, 2 comps
            // steps), each block's sums a tree; then one invocation factors and inverts C.
            let (k, c) = (f("dims"), f("comps"));
            let blocks = (1 + k).div_ceil(16) + (k * k).div_ceil(16);
            s(
                blocks * strided(f("rows"), 256) * (2 * c + 16)
                    + (1 + k + k * k) * SUM256
                    + 2 * k * k * k,
                "rows strided over one workgroup per block of 16 sums, the sums' trees, then the \
                 factoring and inverse (dims^3) by one invocation",
            )
        }
        "gmm_energy" => s(
            f("comps") * f("dims") * f("dims"),
            "components x dims^2 per row",
        ),
        "gmm_energy_bwd_z" => s(
            f("dims") * f("comps") * f("dims"),
            "dims x components x dims per row",
        ),
        "gmm_energy_bwd_params" => {
            let (k, n) = (f("dims"), 1 + f("dims") + f("dims") * f("dims"));
            s(
                n.div_ceil(16) * strided(f("rows"), 256) * 16 * k + n * SUM256,
                "rows strided over one workgroup per block of 16 sums (dims steps each), the \
                 sums' trees",
            )
        }
        "gmm_penalty_bwd" => s(
            3 + 3 * f("dims") + 2 * f("dims") * f("dims"),
            "one record per invocation",
        ),
        "gmm_bwd_mix" => s(
            2 * f("dims") + SUM256,
            "two dims-long products per entry, one sum",
        ),
        "gmm_bwd_rows" => s(
            f("comps") * (2 * f("comps") + 2 * f("dims") * f("dims")),
            "components x (softmax + dims^2) per row",
        ),
        "conv_dact" | "dropout_fwd" | "dropout_bwd" => s(1, "one element per invocation"),
        "conv_small" => s(
            f("cb") * f("kh") * f("kw"),
            "input channels x kernel taps per output element",
        ),
        "conv_big" => s(
            f("cs") * f("kh").div_ceil(f("sh").max(1)) * f("kw").div_ceil(f("sw").max(1)),
            "input channels x the taps a stride reaches, per output element",
        ),
        "conv_wgrad" => s(
            strided(f("rows") * (f("hs") * f("ws")).max(f("hb") * f("wb")), 256) + SUM256,
            "rows x positions strided over one workgroup per weight, then its sum",
        ),
        "recon_fwd" => s(f("cols"), "columns per row"),
        "recon_bwd" => s(2 * f("cols"), "columns per row, twice"),
        "topk_scores" | "topk_pairs" => s(
            8 + BITONIC_2048 + strided(f("k").min(2048), 256),
            "bitonic stages of a 2048 tile (a barrier each), its loads and the best k",
        ),
        _ => None,
    }
}

/// `head.wgsl`'s single-workgroup passes: the running statistics (two strided sums over the
/// minibatch's `r0` scores), the mask count, the loss (each row's logit over h + 2 inputs),
/// and in the backward pass the weight gradient, where each of h + 2 invocations walks every
/// row alone, and the latent gradient.
fn head(entry: &str, f: &dyn Fn(&str) -> u32) -> u32 {
    let (rows, inputs) = (f("rows"), f("h") + 2);
    let strided = |n: u32| n.div_ceil(256);
    let stats = match f("r0") >= 2 {
        true => 2 * (strided(f("r0")) + SUM256),
        false => 0,
    };
    let mask = strided(rows) + SUM256;
    let loss = strided(rows) * inputs + SUM256 + strided(f("h") + 1) + SUM256;
    match entry {
        "head_fwd" => stats + mask + loss,
        _ => {
            let loss = if f("loss_off") != NONE { loss } else { 0 };
            let coef = strided(rows) * inputs;
            let dw = strided(inputs) * rows;
            let dl = match f("dl_off") != NONE {
                true => strided(f("l_rows") * f("h")),
                false => 0,
            };
            stats + mask + loss + coef + dw + dl
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oddity_kernels::params::{GemmParams, TopKParams};

    #[test]
    fn every_entry_point_has_a_serial_length() {
        for shader in oddity_kernels::SHADERS {
            for ep in shader.entry_points {
                assert!(
                    serial(ep.name, None).is_some(),
                    "{}::{} has no serial length in tape/work.rs",
                    shader.name,
                    ep.name
                );
            }
        }
        assert_eq!(serial("no_such_kernel", None), None);
    }

    #[test]
    fn lengths_follow_the_parameters() {
        let g = |k| {
            serial("gemm", Some(&GemmParams::new(256, 784, k)))
                .unwrap()
                .steps
        };
        assert_eq!((g(784), g(8), g(17)), (49, 1, 2));
        let sliced = serial("gemm_sliced", Some(&GemmParams::new(256, 784, 256)));
        assert_eq!(sliced.unwrap().steps, 4);
        let t = TopKParams {
            n: 60000,
            k: 10,
            s_off: 0,
            m_off: 0,
            p_off: 0,
            o_off: 0,
        };
        assert_eq!(serial("topk_scores", Some(&t)).unwrap().steps, 8 + 66 + 1);
    }
}
