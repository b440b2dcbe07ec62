//! Optimizers over a whole parameter arena: one `optim_step` dispatch per training step.

use oddity_kernels::kernels as k;
use oddity_kernels::params::OptimParams;
use serde::{Deserialize, Serialize};

use super::ParamArena;
use crate::error::{Result, invalid};
use crate::gpu::{Gpu, GpuBuffer};
use crate::ops::groups_1d;
use crate::tape::Tape;

/// An optimizer and its hyper-parameters.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum Optimizer {
    Sgd {
        lr: f32,
    },
    Momentum {
        lr: f32,
        momentum: f32,
    },
    /// PyTorch's RMSprop: s = rho s + (1 - rho) g^2; p -= lr g / (sqrt(s) + eps).
    RmsProp {
        lr: f32,
        rho: f32,
        eps: f32,
    },
    Adam {
        lr: f32,
        beta1: f32,
        beta2: f32,
        eps: f32,
    },
}

impl Optimizer {
    /// The learning rate.
    pub fn lr(&self) -> f32 {
        match *self {
            Optimizer::Sgd { lr }
            | Optimizer::Momentum { lr, .. }
            | Optimizer::RmsProp { lr, .. }
            | Optimizer::Adam { lr, .. } => lr,
        }
    }

    /// The same optimizer at learning rate `lr` (a schedule's later phase).
    pub fn with_lr(self, lr: f32) -> Self {
        match self {
            Optimizer::Sgd { .. } => Optimizer::Sgd { lr },
            Optimizer::Momentum { momentum, .. } => Optimizer::Momentum { lr, momentum },
            Optimizer::RmsProp { rho, eps, .. } => Optimizer::RmsProp { lr, rho, eps },
            Optimizer::Adam {
                beta1, beta2, eps, ..
            } => Optimizer::Adam {
                lr,
                beta1,
                beta2,
                eps,
            },
        }
    }

    pub fn sgd(lr: f32) -> Self {
        Optimizer::Sgd { lr }
    }
    pub fn momentum(lr: f32) -> Self {
        Optimizer::Momentum { lr, momentum: 0.9 }
    }
    /// PyTorch's defaults: rho 0.99, eps 1e-8.
    pub fn rmsprop(lr: f32) -> Self {
        Optimizer::RmsProp {
            lr,
            rho: 0.99,
            eps: 1e-8,
        }
    }
    /// beta1 0.9, beta2 0.999, eps 1e-8.
    pub fn adam(lr: f32) -> Self {
        Optimizer::Adam {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
        }
    }

    /// Parses `sgd`, `momentum`, `rmsprop` or `adam` with learning rate `lr`.
    pub fn parse(name: &str, lr: f32) -> Option<Self> {
        match name.to_lowercase().as_str() {
            "sgd" => Some(Self::sgd(lr)),
            "momentum" => Some(Self::momentum(lr)),
            "rmsprop" => Some(Self::rmsprop(lr)),
            "adam" => Some(Self::adam(lr)),
            _ => None,
        }
    }

    /// The kernel's parameters for an arena of `n` values.
    pub fn params(&self, n: u32) -> OptimParams {
        let (kind, lr, beta1, beta2, eps) = match *self {
            Optimizer::Sgd { lr } => (0, lr, 0.0, 0.0, 0.0),
            Optimizer::Momentum { lr, momentum } => (1, lr, momentum, 0.0, 0.0),
            Optimizer::RmsProp { lr, rho, eps } => (2, lr, 0.0, rho, eps),
            Optimizer::Adam {
                lr,
                beta1,
                beta2,
                eps,
            } => (3, lr, beta1, beta2, eps),
        };
        OptimParams {
            n,
            first: 0,
            total: n,
            kind,
            lr,
            beta1,
            beta2,
            eps,
        }
    }

    /// Optimizer-state words per parameter.
    pub fn state_per_param(&self) -> u32 {
        match self {
            Optimizer::Sgd { .. } => 0,
            Optimizer::Momentum { .. } | Optimizer::RmsProp { .. } => 1,
            Optimizer::Adam { .. } => 2,
        }
    }

    fn check(&self) -> Result<()> {
        let p = self.params(0);
        let ok = p.lr.is_finite()
            && p.lr > 0.0
            && (0.0..1.0).contains(&p.beta1)
            && (0.0..1.0).contains(&p.beta2)
            && p.eps >= 0.0;
        if ok {
            Ok(())
        } else {
            Err(invalid(
                "optimizer",
                format!("{self:?}: need lr > 0, betas in [0, 1), eps >= 0"),
            ))
        }
    }
}

/// An optimizer with its state buffer (zeroed) for one arena.
pub struct OptimizerState {
    pub optimizer: Optimizer,
    pub state: GpuBuffer,
}

impl OptimizerState {
    pub fn new(gpu: &Gpu, optimizer: Optimizer, arena: &ParamArena) -> Result<OptimizerState> {
        optimizer.check()?;
        let words = (optimizer.state_per_param() * arena.len()).max(1) as usize;
        Ok(OptimizerState {
            optimizer,
            state: gpu.upload(&vec![0f32; words], "optimizer state")?,
        })
    }

    /// Records one update of every parameter in `arena` from its gradients.
    pub fn record(&self, tape: &mut Tape, arena: &ParamArena) -> Result<()> {
        self.record_at(tape, arena, self.optimizer.lr())
    }

    /// [`OptimizerState::record`] at learning rate `lr` instead of the optimizer's own, on
    /// the same state (a schedule's phases share their moments).
    pub fn record_at(&self, tape: &mut Tape, arena: &ParamArena, lr: f32) -> Result<()> {
        self.record_range(tape, arena, lr, 0..arena.len())
    }

    /// [`OptimizerState::record_at`] over the arena's words `range` only (the parameters of
    /// one network of a model whose networks train in turn).
    pub fn record_range(
        &self,
        tape: &mut Tape,
        arena: &ParamArena,
        lr: f32,
        range: std::ops::Range<u32>,
    ) -> Result<()> {
        if range.start > range.end || range.end > arena.len() {
            return Err(invalid(
                "optimizer",
                format!("words {range:?} of an arena of {}", arena.len()),
            ));
        }
        let p = OptimParams {
            n: range.end - range.start,
            first: range.start,
            ..self.optimizer.with_lr(lr).params(arena.len())
        };
        let gpu = tape.gpu().clone();
        let state = tape.state.buffer().clone();
        tape.plan.dispatch(
            k::optim::OPTIM_STEP,
            Some(&p),
            &[
                ("grad", &arena.grads),
                ("state", &state),
                ("param", &arena.params),
                ("opt", &self.state),
            ],
            groups_1d(&gpu, p.n.max(1))?,
        )
    }

    /// The state, read back (blocking): `state_per_param` words per parameter (one word for
    /// SGD, which keeps none).
    pub fn read(&self, gpu: &Gpu) -> Result<Vec<f32>> {
        gpu.read_f32(&self.state, 0, self.state.words())
    }

    /// Overwrites the state with `values` (as [`OptimizerState::read`] gave them).
    pub fn write(&self, gpu: &Gpu, values: &[f32]) -> Result<()> {
        if values.len() as u64 != self.state.words() {
            return Err(invalid(
                "optimizer state",
                format!(
                    "{} values for {:?}'s {} words",
                    values.len(),
                    self.optimizer,
                    self.state.words()
                ),
            ));
        }
        gpu.write(&self.state, 0, values)
    }

    /// Zeroes the optimizer state (a fresh start).
    pub fn reset(&self, gpu: &Gpu) -> Result<()> {
        gpu.write(&self.state, 0, &vec![0f32; self.state.words() as usize])
    }
}
