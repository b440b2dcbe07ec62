//! Dense layer: y = act(x W + b) in one GEMM dispatch; backward in at most two: dW and db
//! together as [x 1]^T dZ into the layer's arena slot (W rows, then the bias row), and
//! dx = dZ W^T, where dZ = dy * act'(y) is formed while the GEMM loads its operand.

use oddity_kernels::params::{GemmParams, NONE};

use super::Act;
use crate::error::{Result, shape};
use crate::gpu::gemm::{GemmPolicy, gemm_kernel};
use crate::gpu::{GpuBuffer, KernelId};
use crate::tape::{Backward, BackwardCtx, Grad, PlanBuilder, Tape, Tensor};

/// A dense layer's parameters: a view of `(inputs + 1) x outputs` words in a parameter arena,
/// the weights W (`inputs x outputs`, row-major) followed by the bias row.
#[derive(Clone, Debug)]
pub struct DenseParams {
    pub param: Tensor,
    pub inputs: u32,
    pub outputs: u32,
    /// False: y = act(x W), and `param` is W alone ([`DenseParams::without_bias`]).
    pub bias: bool,
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
            bias: true,
        })
    }

    /// A layer without a bias (Deep SVDD's networks: a bias would let the network map every
    /// row to the centre): `param` is W alone, `inputs x outputs`.
    pub fn without_bias(param: Tensor) -> Result<DenseParams> {
        Ok(DenseParams {
            inputs: param.rows(),
            outputs: param.cols(),
            param,
            bias: false,
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

/// Records one launch of GEMM `kernel` on `groups` workgroups (from [`gemm_kernel`]); an A
/// buffer stored as f16 takes the kernel's f16 twin.
pub(crate) fn dispatch_gemm(
    plan: &mut PlanBuilder,
    p: &GemmParams,
    (kernel, groups): (KernelId, [u32; 3]),
    (a, a_aux): (&GpuBuffer, Option<&GpuBuffer>),
    (b, b_aux): (&GpuBuffer, Option<&GpuBuffer>),
    c: &GpuBuffer,
) -> Result<()> {
    let unused = plan.gpu().dummy(false)?;
    plan.dispatch(
        kernel,
        Some(p),
        &[
            ("a", a),
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
        bias_off: if w.bias {
            w.param.offset() + k * n
        } else {
            NONE
        },
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
        a_ones_row: if w.bias { k } else { NONE },
        b_off: dy.offset(),
        b_rs: n,
        b_cs: 1,
        b_mode: u32::from(act != Act::Identity),
        b_aux_off: y.offset(),
        c_off: dw.offset(),
        dact: act.code(),
        alpha: act.alpha(),
        accumulate: u32::from(accumulate),
        ..GemmParams::new(k + u32::from(w.bias), n, x.rows())
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
        super::check_act(act)?;
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
