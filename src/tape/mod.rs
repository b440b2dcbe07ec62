//! The autograd tape. Forward operations record their dispatches into a plan and push their
//! backward rule; [`Tape::backward`] walks the rules in reverse, writing each gradient into a
//! scratch buffer made for it (or into the gradient arena for parameters). The whole step
//! (sampling, forward, loss, backward, optimizer, step advance) then becomes one [`Plan`].
//!
//! A gradient is either a buffer or a constant ([`Grad::Const`]): the gradient of a mean is
//! the same number for every element, so it costs no dispatch until a consumer needs a buffer.
//!
//! A buffer may also be known to be zero past its first rows (a loss over the first rows of a
//! batch, and every dense layer below it): the rows past them are then never written, and a
//! rule that can use it ([`Backward::backward_leading`]) does only the leading rows' work;
//! every other rule gets the rows zeroed first.

mod plan;
mod profile;
mod rows;
mod tensor;
pub mod work;

use oddity_kernels::kernels as k;
use std::collections::{HashMap, HashSet};

pub use plan::{Deferred, DispatchReport, Plan, PlanBuilder, run_all};
pub use rows::{DataRows, MAX_PARTS};
pub use tensor::Tensor;
pub(crate) use tensor::TensorKey;

use oddity_kernels::params::{AxpyParams, FillParams};

use crate::error::{Result, invalid};
use crate::gpu::{Gpu, GpuBuffer};

/// The gradient flowing into a tensor: a buffer of the tensor's shape, or one value for all.
#[derive(Clone, Debug)]
pub enum Grad {
    Const(f32),
    Buf(Tensor),
}

/// A backward rule: given the gradient of its output, adds its inputs' gradients.
pub(crate) trait Backward {
    fn output(&self) -> &Tensor;
    fn backward(&self, ctx: &mut BackwardCtx<'_>, grad: Grad) -> Result<()>;

    /// The same for a gradient `grad` whose rows from `rows` on are zero and unwritten; false
    /// (nothing done) when the rule cannot use that, and the walk zeroes them and calls
    /// [`Backward::backward`].
    fn backward_leading(
        &self,
        _ctx: &mut BackwardCtx<'_>,
        _grad: &Tensor,
        _rows: u32,
    ) -> Result<bool> {
        Ok(false)
    }
}

/// The step counter on the GPU (RNG stream, Adam's t), advanced by the `advance` kernel.
#[derive(Clone, Debug)]
pub struct StepState {
    buf: GpuBuffer,
}

impl StepState {
    pub fn new(gpu: &Gpu) -> Result<StepState> {
        Ok(StepState {
            buf: gpu.upload(&[0u32; 4], "step state")?,
        })
    }

    pub fn buffer(&self) -> &GpuBuffer {
        &self.buf
    }

    /// Reads the step counter (blocking).
    pub fn step(&self, gpu: &Gpu) -> Result<u32> {
        Ok(gpu.read_u32(&self.buf, 0, 1)?[0])
    }

    pub fn set_step(&self, gpu: &Gpu, step: u32) -> Result<()> {
        gpu.write(&self.buf, 0, &[step])
    }
}

/// Records a computation for replay; see the module documentation.
pub struct Tape {
    pub(crate) plan: PlanBuilder,
    pub(crate) state: StepState,
    nodes: Vec<Box<dyn Backward>>,
    needs_grad: HashSet<TensorKey>,
    params: Vec<(Tensor, Tensor)>,
}

impl Tape {
    pub fn new(gpu: &Gpu, state: &StepState) -> Tape {
        Tape {
            plan: PlanBuilder::new(gpu),
            state: state.clone(),
            nodes: Vec::new(),
            needs_grad: HashSet::new(),
            params: Vec::new(),
        }
    }

    pub fn gpu(&self) -> &Gpu {
        self.plan.gpu()
    }

    /// Marks `param` as trainable, its gradient to be written to `grad` (same shape).
    pub fn param(&mut self, param: &Tensor, grad: &Tensor) -> Result<()> {
        if (param.rows, param.cols) != (grad.rows, grad.cols) {
            return Err(crate::error::shape(
                "param",
                format!(
                    "parameter {}x{} with gradient {}x{}",
                    param.rows, param.cols, grad.rows, grad.cols
                ),
            ));
        }
        self.needs_grad.insert(param.key());
        self.params.push((param.clone(), grad.clone()));
        Ok(())
    }

    pub fn needs_grad(&self, t: &Tensor) -> bool {
        self.needs_grad.contains(&t.key())
    }

    /// Records an op's output: it needs a gradient when any of its inputs does; its backward
    /// rule is kept only then.
    pub(crate) fn push(&mut self, inputs: &[&Tensor], node: Box<dyn Backward>) {
        if inputs.iter().any(|t| self.needs_grad(t)) {
            self.needs_grad.insert(node.output().key());
            self.nodes.push(node);
        }
    }

    /// Dispatches recorded so far, deferred ones included.
    pub fn dispatches(&self) -> usize {
        self.plan.len() + self.plan.deferred()
    }

    /// Records the backward pass of `loss` (a 1x1 tensor) with seed gradient 1. Every
    /// registered parameter's gradient slot is written (zero when `loss` does not depend on it).
    pub fn backward(&mut self, loss: &Tensor) -> Result<()> {
        self.backward_all(&[loss])
    }

    /// Records the backward pass of the sum of `losses` (1x1 tensors), each seeded with 1; the
    /// sum itself is never computed, so a second loss term costs no dispatch of its own.
    pub fn backward_all(&mut self, losses: &[&Tensor]) -> Result<()> {
        for loss in losses {
            if loss.len() != 1 {
                let detail = format!("the loss must be 1x1, got {}x{}", loss.rows, loss.cols);
                return Err(crate::error::shape("backward", detail));
            }
            if !self.needs_grad(loss) {
                return Err(invalid(
                    "backward",
                    "the loss does not depend on any parameter",
                ));
            }
        }
        let nodes = std::mem::take(&mut self.nodes);
        let mut ctx = BackwardCtx {
            plan: &mut self.plan,
            grads: HashMap::new(),
            leading: HashMap::new(),
            needs_grad: &self.needs_grad,
            params: &self.params,
        };
        for loss in losses {
            ctx.add_const(loss, 1.0)?;
        }
        for node in nodes.iter().rev() {
            let key = node.output().key();
            let Some(g) = ctx.grads.remove(&key) else {
                continue;
            };
            if let (Some(rows), Grad::Buf(b)) = (ctx.leading.remove(&key), &g) {
                if node.backward_leading(&mut ctx, b, rows)? {
                    continue;
                }
                ctx.zero_rows(b, rows, b.rows)?;
            }
            node.backward(&mut ctx, g)?;
        }
        for (p, g) in &self.params {
            match ctx.grads.get(&p.key()).cloned() {
                Some(Grad::Buf(_)) => {}
                Some(Grad::Const(c)) => ctx.fill(g, c, false)?,
                None => ctx.fill(g, 0.0, false)?,
            }
        }
        self.nodes = nodes;
        Ok(())
    }

    /// Adds `state[0] += 1` (the step counter) to the plan.
    pub fn advance(&mut self) -> Result<()> {
        let state = self.state.buf.clone();
        self.plan
            .dispatch(k::step::ADVANCE, None, &[("state", &state)], [1, 1, 1])
    }

    /// The recorded plan.
    pub fn finish(self) -> Result<Plan> {
        self.plan.finish()
    }
}

/// What a backward rule sees: the plan to record into and the gradients so far.
pub(crate) struct BackwardCtx<'a> {
    pub plan: &'a mut PlanBuilder,
    grads: HashMap<TensorKey, Grad>,
    /// Gradient buffers whose rows from this one on are zero and not written.
    leading: HashMap<TensorKey, u32>,
    needs_grad: &'a HashSet<TensorKey>,
    params: &'a [(Tensor, Tensor)],
}

impl BackwardCtx<'_> {
    pub fn gpu(&self) -> Gpu {
        self.plan.gpu().clone()
    }

    fn param_grad(&self, t: &Tensor) -> Option<Tensor> {
        self.params
            .iter()
            .find(|(p, _)| p.key() == t.key())
            .map(|(_, g)| g.clone())
    }

    /// Where to write `t`'s gradient and whether to add to what is there; `None` when `t`
    /// needs no gradient. A constant gradient already recorded is first made a buffer.
    pub fn dest(&mut self, t: &Tensor) -> Result<Option<(Tensor, bool)>> {
        if !self.needs_grad.contains(&t.key()) {
            return Ok(None);
        }
        match self.grads.get(&t.key()).cloned() {
            Some(Grad::Buf(b)) => {
                if let Some(rows) = self.leading.remove(&t.key()) {
                    self.zero_rows(&b, rows, b.rows)?;
                }
                Ok(Some((b, true)))
            }
            prior => {
                let buf = match self.param_grad(t) {
                    Some(g) => g,
                    None => Tensor::new(self.plan.gpu(), t.rows, t.cols, "grad")?,
                };
                let accumulate = if let Some(Grad::Const(c)) = prior {
                    self.fill(&buf, c, false)?;
                    true
                } else {
                    false
                };
                self.grads.insert(t.key(), Grad::Buf(buf.clone()));
                Ok(Some((buf, accumulate)))
            }
        }
    }

    /// Where to add a gradient that is zero from row `rows` on, and whether to add to what
    /// is there; the caller writes (or adds) the first `rows` rows only. A new buffer is then
    /// recorded as zero past them, unwritten; a parameter's first gradient, or one that was a
    /// constant, gets the rest zeroed or kept. `None` when `t` needs no gradient.
    pub fn dest_leading(&mut self, t: &Tensor, rows: u32) -> Result<Option<(Tensor, bool)>> {
        let key = t.key();
        if !self.needs_grad.contains(&key) {
            return Ok(None);
        }
        if rows >= t.rows {
            return self.dest(t);
        }
        match (self.grads.get(&key).cloned(), self.param_grad(t)) {
            (Some(Grad::Buf(b)), _) => {
                if let Some(&done) = self.leading.get(&key)
                    && done < rows
                {
                    self.zero_rows(&b, done, rows)?;
                    self.leading.insert(key, rows);
                }
                Ok(Some((b, true)))
            }
            (None, None) => {
                let b = Tensor::new(self.plan.gpu(), t.rows, t.cols, "grad")?;
                self.grads.insert(key, Grad::Buf(b.clone()));
                self.leading.insert(key, rows);
                Ok(Some((b, false)))
            }
            _ => {
                let Some((b, acc)) = self.dest(t)? else {
                    return Ok(None);
                };
                if !acc {
                    self.zero_rows(&b, rows, t.rows)?;
                }
                Ok(Some((b, acc)))
            }
        }
    }

    /// Adds the constant `c` to every element of `t`'s gradient.
    pub fn add_const(&mut self, t: &Tensor, c: f32) -> Result<()> {
        if !self.needs_grad.contains(&t.key()) {
            return Ok(());
        }
        match self.grads.get(&t.key()).cloned() {
            None => {
                self.grads.insert(t.key(), Grad::Const(c));
                Ok(())
            }
            Some(Grad::Const(c0)) => {
                self.grads.insert(t.key(), Grad::Const(c0 + c));
                Ok(())
            }
            // `dest` zeroes any unwritten rows first.
            Some(Grad::Buf(_)) => match self.dest(t)? {
                Some((b, _)) => self.fill(&b, c, true),
                None => Ok(()),
            },
        }
    }

    /// Passes `g` (the gradient of something equal to `t` elementwise) on to `t`.
    pub fn pass_through(&mut self, t: &Tensor, g: Grad) -> Result<()> {
        match g {
            Grad::Const(c) => self.add_const(t, c),
            Grad::Buf(src) => self.add_scaled(t, &src, 1.0),
        }
    }

    /// Adds `a * src` (shaped like `t`) to `t`'s gradient.
    pub fn add_scaled(&mut self, t: &Tensor, src: &Tensor, a: f32) -> Result<()> {
        let Some((dst, accumulate)) = self.dest(t)? else {
            return Ok(());
        };
        let p = AxpyParams {
            n: dst.len(),
            x_off: src.offset,
            out_off: dst.offset,
            a,
            accumulate: u32::from(accumulate),
        };
        let groups = self.plan.gpu().grid_1d(dst.len().div_ceil(256))?;
        self.plan.dispatch(
            k::step::AXPY,
            Some(&p),
            &[("x", &src.buf), ("out", &dst.buf)],
            groups,
        )
    }

    /// Makes `buf` (shaped like `t`, written by the forward pass, zero from row `rows` on)
    /// `t`'s gradient without a dispatch, when `t` is not a parameter and has no gradient yet;
    /// false (nothing done) otherwise, and the caller adds it in. True, too, when `t` needs no
    /// gradient.
    pub fn adopt(&mut self, t: &Tensor, buf: &Tensor, rows: u32) -> bool {
        if !self.needs_grad.contains(&t.key()) {
            return true;
        }
        if self.grads.contains_key(&t.key()) || self.param_grad(t).is_some() {
            return false;
        }
        self.grads.insert(t.key(), Grad::Buf(buf.clone()));
        if rows < t.rows {
            self.leading.insert(t.key(), rows);
        }
        true
    }

    /// Zeroes rows `from .. to` of `t`.
    fn zero_rows(&mut self, t: &Tensor, from: u32, to: u32) -> Result<()> {
        if from >= to {
            return Ok(());
        }
        let rows = Tensor::view(&t.buf, t.offset + from * t.cols, to - from, t.cols)?;
        self.fill(&rows, 0.0, false)
    }

    /// A buffer holding gradient `g` for a tensor shaped like `like`.
    pub fn materialize(&mut self, g: Grad, like: &Tensor) -> Result<Tensor> {
        match g {
            Grad::Buf(b) => Ok(b),
            Grad::Const(c) => {
                let b = Tensor::new(self.plan.gpu(), like.rows, like.cols, "grad const")?;
                self.fill(&b, c, false)?;
                Ok(b)
            }
        }
    }

    pub fn fill(&mut self, t: &Tensor, value: f32, accumulate: bool) -> Result<()> {
        let p = FillParams {
            n: t.len(),
            out_off: t.offset,
            value,
            accumulate: u32::from(accumulate),
        };
        let groups = self.plan.gpu().grid_1d(t.len().div_ceil(256))?;
        self.plan
            .dispatch(k::step::FILL, Some(&p), &[("out", &t.buf)], groups)
    }
}
