//! Dense layer: y = act(x W + b) in one GEMM dispatch; backward in at most two: dW and db
//! together as [x 1]^T dZ into the layer's arena slot (W rows, then the bias row), and
//! dx = dZ W^T, where dZ = dy * act'(y) is formed while the GEMM loads its operand.

use oddity_kernels::params::GemmParams;

use super::Act;
use crate::error::{Result, shape};
use crate::gpu::GpuBuffer;
use crate::tape::{Backward, BackwardCtx, Grad, PlanBuilder, Tape, Tensor};

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

/// Which GEMM kernels a device's plans record (`Gpu::set_gemm_policy`, `oddity bench --gemm`).
/// Every choice computes the same product; they differ in speed and in rounding (`gemm_sliced`
/// adds the K terms in another order than the tiled kernels, which agree to the bit).
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    serde::Serialize,
    serde::Deserialize,
    clap::ValueEnum,
)]
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
    /// The policies that each use one kernel for every product, in `oddity bench --sweep`'s
    /// column order.
    pub const SINGLE: [GemmPolicy; 4] = [
        GemmPolicy::Gemm,
        GemmPolicy::Wide,
        GemmPolicy::Sliced,
        GemmPolicy::Huge,
    ];

    /// The name `--gemm` and `ODDITY_GEMM` take and JSON prints.
    pub fn name(self) -> String {
        clap::ValueEnum::to_possible_value(&self)
            .map(|v| v.get_name().to_string())
            .unwrap_or_default()
    }

    /// Every policy's name, comma-separated, for messages.
    pub fn names() -> String {
        let all = <GemmPolicy as clap::ValueEnum>::value_variants();
        all.iter().map(|p| p.name()).collect::<Vec<_>>().join(", ")
    }

    /// The kernel and tile of a single-kernel policy ([`GemmPolicy::resolve`] first for the
    /// others, which otherwise answer as `Gemm`).
    pub fn kernel(self) -> (&'static str, u32) {
        match self {
            GemmPolicy::Wide => ("gemm_wide", GEMM_WIDE_TILE),
            GemmPolicy::Sliced => ("gemm_sliced", GEMM_TILE),
            GemmPolicy::Huge => ("gemm_huge", GEMM_HUGE_TILE),
            _ => ("gemm", GEMM_TILE),
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

/// The GEMM entry point and grid for an `m x n x k` product under `policy` (see
/// [`GemmPolicy::resolve`]).
pub fn gemm_kernel(m: u32, n: u32, k: u32, policy: GemmPolicy) -> (&'static str, [u32; 3]) {
    let (entry, tile) = policy.resolve(m, n, k).kernel();
    (entry, [n.div_ceil(tile).max(1), m.div_ceil(tile).max(1), 1])
}

/// A dense layer's parameters: a view of `(inputs + 1) x outputs` words in a parameter arena,
/// the weights W (`inputs x outputs`, row-major) followed by the bias row.
#[derive(Clone, Debug)]
pub struct DenseParams {
    pub param: Tensor,
    pub inputs: u32,
    pub outputs: u32,
}

impl DenseParams {
    pub fn new(param: Tensor) -> Result<DenseParams> {
        if param.rows() < 1 {
            return Err(shape(
                "dense",
                "a dense parameter needs at least the bias row",
            ));
        }
        Ok(DenseParams {
            inputs: param.rows() - 1,
            outputs: param.cols(),
            param,
        })
    }
}

/// Records `c (+)= A B (+ bias, act)` as described by `p`, with the kernel the device's
/// [`GemmPolicy`] picks.
pub(crate) fn gemm(
    plan: &mut PlanBuilder,
    p: &GemmParams,
    a: &Tensor,
    a_aux: Option<&Tensor>,
    b: &Tensor,
    b_aux: Option<&Tensor>,
    c: &Tensor,
) -> Result<()> {
    let gpu = plan.gpu().clone();
    let kernel = match gpu.gemm_policy() {
        GemmPolicy::Tuned => super::tune::tuned_kernel(&gpu, p, a.is_half())?,
        policy => gemm_kernel(p.m, p.n, p.k, policy),
    };
    dispatch_gemm(
        plan,
        p,
        kernel,
        (a.buffer(), a_aux.map(Tensor::buffer)),
        (b.buffer(), b_aux.map(Tensor::buffer)),
        c.buffer(),
    )
}

/// Records one launch of GEMM entry point `entry` on `groups` workgroups (from
/// [`gemm_kernel`]); the A buffer's storage (f32 or f16) picks the shader.
pub(crate) fn dispatch_gemm(
    plan: &mut PlanBuilder,
    p: &GemmParams,
    (entry, groups): (&'static str, [u32; 3]),
    (a, a_aux): (&GpuBuffer, Option<&GpuBuffer>),
    (b, b_aux): (&GpuBuffer, Option<&GpuBuffer>),
    c: &GpuBuffer,
) -> Result<()> {
    let unused = plan.gpu().dummy(false)?;
    let (shader, a_binding) = super::by_storage(a, ("gemm", "a"), ("gemm16", "a16"));
    plan.dispatch(
        (shader, entry),
        Some(p),
        &[
            (a_binding, a),
            ("a_aux", a_aux.unwrap_or(&unused)),
            ("b", b),
            ("b_aux", b_aux.unwrap_or(&unused)),
            ("c", c),
        ],
        groups,
    )?;
    plan.note(format!("{}x{}x{}", p.m, p.n, p.k));
    Ok(())
}

/// Parameters of the forward product y = act(x W + b).
pub fn forward_params(x: &Tensor, w: &DenseParams, act: Act, y: &Tensor) -> GemmParams {
    let (k, n) = (w.inputs, w.outputs);
    GemmParams {
        a_off: x.offset(),
        a_rs: k,
        a_cs: 1,
        b_off: w.param.offset(),
        b_rs: n,
        b_cs: 1,
        bias_off: w.param.offset() + k * n,
        c_off: y.offset(),
        act: act.code(),
        alpha: act.alpha(),
        ..GemmParams::new(x.rows(), n, k)
    }
}

/// Parameters of [dW; db] (+)= [x 1]^T (dy * act'(y)).
pub fn grad_w_params(
    x: &Tensor,
    w: &DenseParams,
    act: Act,
    y: &Tensor,
    dy: &Tensor,
    dw: &Tensor,
    accumulate: bool,
) -> GemmParams {
    let (k, n) = (w.inputs, w.outputs);
    GemmParams {
        a_off: x.offset(),
        a_rs: 1,
        a_cs: k,
        a_ones_row: k,
        b_off: dy.offset(),
        b_rs: n,
        b_cs: 1,
        b_mode: u32::from(act != Act::Identity),
        b_aux_off: y.offset(),
        c_off: dw.offset(),
        dact: act.code(),
        alpha: act.alpha(),
        accumulate: u32::from(accumulate),
        ..GemmParams::new(k + 1, n, x.rows())
    }
}

/// Parameters of dx (+)= (dy * act'(y)) W^T.
pub fn grad_x_params(
    w: &DenseParams,
    act: Act,
    y: &Tensor,
    dy: &Tensor,
    dx: &Tensor,
    accumulate: bool,
) -> GemmParams {
    let (k, n) = (w.inputs, w.outputs);
    GemmParams {
        a_off: dy.offset(),
        a_rs: n,
        a_cs: 1,
        a_mode: u32::from(act != Act::Identity),
        a_aux_off: y.offset(),
        b_off: w.param.offset(),
        b_rs: 1,
        b_cs: n,
        c_off: dx.offset(),
        dact: act.code(),
        alpha: act.alpha(),
        accumulate: u32::from(accumulate),
        ..GemmParams::new(dy.rows(), k, n)
    }
}

struct DenseBackward {
    x: Tensor,
    w: DenseParams,
    act: Act,
    y: Tensor,
}

impl Backward for DenseBackward {
    fn output(&self) -> &Tensor {
        &self.y
    }

    fn backward(&self, ctx: &mut BackwardCtx<'_>, grad: Grad) -> Result<()> {
        let dy = ctx.materialize(grad, &self.y)?;
        self.backward_leading(ctx, &dy, dy.rows()).map(|_| ())
    }

    /// With dy zero from row `rows` on, dW sums over the first `rows` rows only and dx gets
    /// only its first `rows` rows (the rest of dx is zero too).
    fn backward_leading(&self, ctx: &mut BackwardCtx<'_>, dy: &Tensor, rows: u32) -> Result<bool> {
        let aux = (self.act != Act::Identity).then_some(&self.y);
        if let Some((dw, acc)) = ctx.dest(&self.w.param)? {
            let p = GemmParams {
                k: rows,
                ..grad_w_params(&self.x, &self.w, self.act, &self.y, dy, &dw, acc)
            };
            gemm(ctx.plan, &p, &self.x, None, dy, aux, &dw)?;
        }
        if let Some((dx, acc)) = ctx.dest_leading(&self.x, rows)? {
            let p = GemmParams {
                m: rows,
                ..grad_x_params(&self.w, self.act, &self.y, dy, &dx, acc)
            };
            gemm(ctx.plan, &p, dy, aux, &self.w.param, None, &dx)?;
        }
        Ok(true)
    }
}

impl Tape {
    /// y = act(x W + b) for a `rows x inputs` tensor x.
    pub fn dense(&mut self, x: &Tensor, w: &DenseParams, act: Act) -> Result<Tensor> {
        if x.cols() != w.inputs {
            return Err(shape(
                "dense",
                format!(
                    "input has {} columns, the layer takes {}",
                    x.cols(),
                    w.inputs
                ),
            ));
        }
        if let Act::LeakyRelu(a) = act
            && !(a > 0.0 && a.is_finite())
        {
            return Err(crate::error::invalid(
                "activation",
                format!("leaky ReLU slope must be positive, got {a}"),
            ));
        }
        let y = Tensor::new(self.gpu(), x.rows(), w.outputs, "dense out")?;
        gemm(
            &mut self.plan,
            &forward_params(x, w, act, &y),
            x,
            None,
            &w.param,
            None,
            &y,
        )?;
        self.push(
            &[x, &w.param],
            Box::new(DenseBackward {
                x: x.clone(),
                w: w.clone(),
                act,
                y: y.clone(),
            }),
        );
        Ok(y)
    }
}
