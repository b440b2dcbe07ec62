//! [`GemmPolicy::Tuned`]: each GEMM product's kernel chosen by timing every kernel on it, on
//! the adapter at hand. Which tiling wins depends on the adapter as much as on the shape (a
//! GPU with idle SMs wants many small tiles, a CPU adapter few large ones), so measuring beats
//! any fixed rule carried from one adapter to another.
//!
//! The first time a plan records a product of a given kind (shape, operand layouts, fused
//! derivatives, f16 A), each of [`GemmPolicy::SINGLE`]'s kernels runs it on scratch buffers of
//! the same extents, once to warm up and then [`LAUNCHES`] times back to back (GPU timestamps
//! where the device has them, else the host's clock), and the fastest is kept in the device's
//! table for every later plan, unless `Auto`'s own kernel is within [`MARGIN`] of it. Tuning
//! costs two submits and two host waits per kernel tried (the warm-up, the timed launches), at
//! recording time only; replaying a plan never tunes.
//!
//! Kernels that agree to the bit (`gemm`, `gemm_wide`, `gemm_huge`) can be swapped freely;
//! `gemm_sliced` rounds differently, so two processes whose timings rank it differently may
//! train slightly different models. [`GemmPolicy::Auto`]'s fixed rules stay the default for
//! that reason.

use oddity_kernels::params::{GemmParams, NONE};

use super::dense::dispatch_gemm;
use crate::error::{Error, Result};
use crate::gpu::gemm::{GemmKey, GemmPolicy, gemm_kernel};
use crate::gpu::{Gpu, GpuBuffer, KernelId};
use crate::tape::PlanBuilder;

/// Timed launches of each kernel per product.
pub const LAUNCHES: u32 = 3;

/// Another kernel replaces `Auto`'s choice only when it took at most this share of its time:
/// near-ties keep the fixed rule's kernel, so timing noise rarely changes which kernel (and so
/// which rounding) a product gets from one process to the next.
pub const MARGIN: f64 = 0.9;

/// The tuned kernel and grid for `p` (timing the kernels first if this kind of product is new
/// to the device).
pub(crate) fn tuned_kernel(
    gpu: &Gpu,
    p: &GemmParams,
    a_half: bool,
) -> Result<(KernelId, [u32; 3])> {
    let key = GemmKey::of(p, a_half);
    let choice = match gpu.tuned_gemm(&key) {
        Some(c) => c,
        None => {
            // Scratch operands past the adapter's buffer limit (only a product at the limit
            // itself): no timing, Auto's kernel.
            let c = match fastest(gpu, p, a_half) {
                Err(Error::Limit { .. }) => GemmPolicy::Auto.resolve(p.m, p.n, p.k),
                other => other?,
            };
            gpu.set_tuned_gemm(key, c);
            c
        }
    };
    Ok(gemm_kernel(p.m, p.n, p.k, choice))
}

/// Elements an operand spans: the last of `rows x cols` at the given strides, plus one.
fn extent(rows: u32, cols: u32, rs: u32, cs: u32) -> u64 {
    u64::from(rows.max(1) - 1) * u64::from(rs) + u64::from(cols.max(1) - 1) * u64::from(cs) + 1
}

/// Times every single-kernel policy on `p` with scratch operands; the fastest.
fn fastest(gpu: &Gpu, p: &GemmParams, a_half: bool) -> Result<GemmPolicy> {
    let a_len = extent(p.m, p.k, p.a_rs, p.a_cs);
    let b_len = extent(p.k, p.n, p.b_rs, p.b_cs);
    let bias = p.bias_off != NONE;
    let a = if a_half {
        gpu.buffer_f16(a_len, "tuning a")?
    } else {
        gpu.buffer(a_len, "tuning a")?
    };
    let aux = |on: u32, len: u64| -> Result<Option<GpuBuffer>> {
        (on != 0).then(|| gpu.buffer(len, "tuning aux")).transpose()
    };
    let a_aux = aux(p.a_mode, a_len)?;
    let b_aux = aux(p.b_mode, b_len)?;
    let b = gpu.buffer(b_len + if bias { u64::from(p.n) } else { 0 }, "tuning b")?;
    let c = gpu.buffer(extent(p.m, p.n, p.ldc, 1), "tuning c")?;
    let q = GemmParams {
        a_off: 0,
        a_aux_off: 0,
        b_off: 0,
        b_aux_off: 0,
        c_off: 0,
        bias_off: if bias { b_len as u32 } else { NONE },
        ..*p
    };
    let mut times = Vec::with_capacity(GemmPolicy::SINGLE.len());
    for policy in GemmPolicy::SINGLE {
        let mut plan = PlanBuilder::new(gpu);
        let kernel = gemm_kernel(q.m, q.n, q.k, policy);
        dispatch_gemm(
            &mut plan,
            &q,
            kernel,
            (&a, a_aux.as_ref()),
            (&b, b_aux.as_ref()),
            &c,
        )?;
        let plan = plan.finish()?;
        plan.run(1)?;
        gpu.wait()?;
        let us = plan.kernel_times(LAUNCHES)?.0[0].1;
        times.push((policy, us));
    }
    Ok(pick(&times, GemmPolicy::Auto.resolve(p.m, p.n, p.k)))
}

/// The fastest of `times` (microseconds per launch), unless `auto`'s kernel is within
/// [`MARGIN`] of it.
fn pick(times: &[(GemmPolicy, f64)], auto: GemmPolicy) -> GemmPolicy {
    let fastest = times
        .iter()
        .filter(|t| t.1.is_finite())
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .copied();
    let auto_us = times.iter().find(|t| t.0 == auto).map(|t| t.1);
    match (fastest, auto_us) {
        (Some((_, best)), Some(a)) if best >= MARGIN * a => auto,
        (Some((policy, _)), _) => policy,
        (None, _) => auto,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use GemmPolicy::{Gemm, Huge, Sliced, Wide};

    #[test]
    fn a_clear_winner_replaces_auto_and_a_near_tie_keeps_it() {
        let t = |w: f64| [(Gemm, 10.0), (Wide, w), (Sliced, 8.0), (Huge, 30.0)];
        assert_eq!(pick(&t(5.0), Sliced), Wide);
        assert_eq!(pick(&t(7.5), Sliced), Sliced);
        assert_eq!(pick(&t(7.1), Sliced), Wide);
        // Auto's own kernel fastest, or no usable time at all: Auto's.
        assert_eq!(pick(&t(9.0), Sliced), Sliced);
        assert_eq!(pick(&[(Gemm, f64::NAN)], Gemm), Gemm);
        assert_eq!(pick(&[(Gemm, 4.0), (Wide, f64::NAN)], Wide), Gemm);
    }
}
