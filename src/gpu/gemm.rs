//! Which GEMM kernel a product runs on: the device's [`GemmPolicy`], its fixed rules, and the
//! key under which [`GemmPolicy::Tuned`]'s timed choices are kept (the timing itself is
//! `ops::tune`'s). The policy belongs to the device: plans read it when they record.

use oddity_kernels::KernelId;
use oddity_kernels::kernels::gemm;
use oddity_kernels::params::{GemmParams, NONE};

/// Rows and columns of C one `gemm` or `gemm_sliced` workgroup computes (BM = BN in `gemm.wgsl`).
pub const GEMM_TILE: u32 = 32;

/// The same for `gemm_wide` (WM = WN).
pub const GEMM_WIDE_TILE: u32 = 64;

/// The same for `gemm_huge` (HM = HN).
pub const GEMM_HUGE_TILE: u32 = 128;

/// `gemm_wide` is chosen once its grid has at least this many workgroups: a product that
/// fills the GPU several times over even with 64x64 tiles (scoring 60000 rows), while the
/// training step's small products (256 or 320 rows) keep the 32x32 tiles' 4x more
/// workgroups. The two kernels give bit-identical results. Under [`GemmPolicy::Auto`]
/// `gemm_huge` takes over once its own grid reaches this many (scoring 60000 rows at 256 or
/// 784 columns), bit-identical too.
pub const GEMM_WIDE_MIN_GROUPS: u64 = 512;

/// Under [`GemmPolicy::Auto`], a product too small for `gemm_wide` takes `gemm_sliced` (K split
/// four ways inside each 32x32 tile's workgroup) from this K on: two or more of its 64-deep
/// iterations, where `gemm` would chain eight or more 16-deep ones.
pub const GEMM_SLICED_MIN_K: u32 = 128;

/// Which GEMM kernels a device's plans record (`Gpu::set_gemm_policy`, `oddity bench --gemm`,
/// `ODDITY_GEMM`). Every choice computes the same product; they differ in speed and in
/// rounding (`gemm_sliced` adds the K terms in another order than the tiled kernels, which
/// agree to the bit).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GemmPolicy {
    /// `gemm_huge` (128x128 tiles) or `gemm_wide` (64x64) for large grids, `gemm_sliced` for
    /// small grids with K >= 128, else `gemm` (32x32).
    #[default]
    Auto,
    /// `gemm_wide` for large grids, else `gemm`: the tilings the H100 measured on 2026-11-23
    /// (BENCHMARKS.md), for comparison.
    Tiled,
    /// Each kind of product with the kernel that ran it fastest on this device, timed the
    /// first time a plan records it (`ops::tune`); not the default, as the choice between
    /// kernels that round differently then depends on timing.
    Tuned,
    /// Every product with `gemm` (32x32 tiles), whatever its shape: for measuring one kernel
    /// against another on the same products (`oddity bench --sweep`).
    Gemm,
    /// Every product with `gemm_wide` (64x64 tiles).
    Wide,
    /// Every product with `gemm_sliced` (32x32 tiles, K split four ways).
    Sliced,
    /// Every product with `gemm_huge` (128x128 tiles).
    Huge,
}

impl GemmPolicy {
    /// Every policy, in the order messages list them.
    pub const ALL: [GemmPolicy; 7] = [
        GemmPolicy::Auto,
        GemmPolicy::Tiled,
        GemmPolicy::Tuned,
        GemmPolicy::Gemm,
        GemmPolicy::Wide,
        GemmPolicy::Sliced,
        GemmPolicy::Huge,
    ];

    /// The policies that each use one kernel for every product, in `oddity bench --sweep`'s
    /// column order.
    pub const SINGLE: [GemmPolicy; 4] = [
        GemmPolicy::Gemm,
        GemmPolicy::Wide,
        GemmPolicy::Sliced,
        GemmPolicy::Huge,
    ];

    /// The name `--gemm` and `ODDITY_GEMM` take and JSON prints.
    pub fn name(self) -> &'static str {
        match self {
            GemmPolicy::Auto => "auto",
            GemmPolicy::Tiled => "tiled",
            GemmPolicy::Tuned => "tuned",
            GemmPolicy::Gemm => "gemm",
            GemmPolicy::Wide => "wide",
            GemmPolicy::Sliced => "sliced",
            GemmPolicy::Huge => "huge",
        }
    }

    /// Every policy's name, comma-separated, for messages.
    pub fn names() -> String {
        Self::ALL.map(Self::name).join(", ")
    }

    /// The kernel and tile of a single-kernel policy ([`GemmPolicy::resolve`] first for the
    /// others, which otherwise answer as `Gemm`).
    pub fn kernel(self) -> (KernelId, u32) {
        match self {
            GemmPolicy::Wide => (gemm::GEMM_WIDE, GEMM_WIDE_TILE),
            GemmPolicy::Sliced => (gemm::GEMM_SLICED, GEMM_TILE),
            GemmPolicy::Huge => (gemm::GEMM_HUGE, GEMM_HUGE_TILE),
            _ => (gemm::GEMM, GEMM_TILE),
        }
    }

    /// The single-kernel policy this policy gives an `m x n x k` product: itself for a single
    /// kernel; `Auto`'s and `Tiled`'s fixed rules; [`GemmPolicy::Tuned`] chooses when
    /// recording, by timing, and answers here as `Auto`.
    pub fn resolve(self, m: u32, n: u32, k: u32) -> GemmPolicy {
        use GemmPolicy::*;
        let fills = |tile: u32| {
            let groups = |d: u32| u64::from(d.div_ceil(tile).max(1));
            groups(n) * groups(m) >= GEMM_WIDE_MIN_GROUPS
        };
        match self {
            Gemm | Wide | Sliced | Huge => self,
            Auto | Tuned if fills(GEMM_HUGE_TILE) => Huge,
            _ if fills(GEMM_WIDE_TILE) => Wide,
            Auto | Tuned if k >= GEMM_SLICED_MIN_K => Sliced,
            Auto | Tuned | Tiled => Gemm,
        }
    }
}

impl std::fmt::Display for GemmPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for GemmPolicy {
    type Err = crate::Error;

    /// A policy by its name (any case); anything else is an error listing the names.
    fn from_str(s: &str) -> crate::Result<GemmPolicy> {
        Self::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                crate::error::invalid(
                    "GEMM policy",
                    format!("`{s}` is not one; one of {}", Self::names()),
                )
            })
    }
}

/// The GEMM kernel and grid for an `m x n x k` product under `policy` (see
/// [`GemmPolicy::resolve`]).
pub fn gemm_kernel(m: u32, n: u32, k: u32, policy: GemmPolicy) -> (KernelId, [u32; 3]) {
    let (kernel, tile) = policy.resolve(m, n, k).kernel();
    (
        kernel,
        [n.div_ceil(tile).max(1), m.div_ceil(tile).max(1), 1],
    )
}

/// What a tuned choice is keyed by: everything about a product that can change which kernel
/// is fastest, and nothing (offsets, activation codes) that cannot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct GemmKey {
    m: u32,
    n: u32,
    k: u32,
    a_half: bool,
    a_rs: u32,
    a_cs: u32,
    b_rs: u32,
    b_cs: u32,
    ldc: u32,
    a_mode: u32,
    b_mode: u32,
    bias: bool,
    accumulate: bool,
}

impl GemmKey {
    pub(crate) fn of(p: &GemmParams, a_half: bool) -> GemmKey {
        GemmKey {
            m: p.m,
            n: p.n,
            k: p.k,
            a_half,
            a_rs: p.a_rs,
            a_cs: p.a_cs,
            b_rs: p.b_rs,
            b_cs: p.b_cs,
            ldc: p.ldc,
            a_mode: p.a_mode,
            b_mode: p.b_mode,
            bias: p.bias_off != NONE,
            accumulate: p.accumulate != 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::GemmPolicy::{self, *};

    #[test]
    fn auto_resolves_to_the_single_policy_of_its_kernel() {
        let auto = |m, n, k| Auto.resolve(m, n, k);
        assert_eq!(auto(256, 784, 256), Sliced);
        assert_eq!(auto(60000, 784, 256), Huge);
        assert_eq!(auto(60000, 8, 64), Wide);
        assert_eq!(auto(3, 5, 7), Gemm);
    }

    #[test]
    fn names_parse_back_and_others_are_refused() {
        for p in GemmPolicy::ALL {
            assert_eq!(p.name().parse::<GemmPolicy>().unwrap(), p);
            assert_eq!(p.name().to_uppercase().parse::<GemmPolicy>().unwrap(), p);
        }
        let e = "fast".parse::<GemmPolicy>().unwrap_err().to_string();
        assert!(
            e.contains("`fast`") && e.contains("auto, tiled, tuned"),
            "{e}"
        );
    }
}
