//! Operations: each module holds an op's forward dispatch (a method on [`crate::Tape`]) and its
//! backward rule, side by side.

pub mod angle;
pub mod binloss;
pub mod conv;
pub mod data;
pub mod dense;
pub mod dropout;
pub mod gmm;
pub mod gmmdiag;
pub mod head;
pub mod iforest;
pub mod kmeans;
pub mod loss;
pub mod lstm;
pub mod ocsvm;
pub mod pca;
pub mod primal;
pub mod reduce;
pub mod select;
pub mod topk;
pub(crate) mod tune;
pub mod vae;
pub mod view;

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::gpu::Gpu;

/// Activation functions, fused into the dense kernels (forward and derivative).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum Act {
    Identity,
    Relu,
    /// Leaky ReLU with this slope for negative inputs (must be positive).
    LeakyRelu(f32),
    Tanh,
    Sigmoid,
}

impl Act {
    /// The shader's activation code.
    pub fn code(self) -> u32 {
        match self {
            Act::Identity => 0,
            Act::Relu => 1,
            Act::LeakyRelu(_) => 2,
            Act::Tanh => 3,
            Act::Sigmoid => 4,
        }
    }

    /// The leaky-ReLU slope (0 for the others).
    pub fn alpha(self) -> f32 {
        match self {
            Act::LeakyRelu(a) => a,
            _ => 0.0,
        }
    }

    /// Parses `identity`, `relu`, `leaky-relu[:SLOPE]`, `tanh`, `sigmoid`.
    pub fn parse(s: &str) -> Option<Act> {
        match s.to_lowercase().as_str() {
            "identity" | "linear" | "none" => Some(Act::Identity),
            "relu" => Some(Act::Relu),
            "leaky-relu" | "leaky_relu" | "leakyrelu" => Some(Act::LeakyRelu(0.01)),
            "tanh" => Some(Act::Tanh),
            "sigmoid" => Some(Act::Sigmoid),
            other => other
                .strip_prefix("leaky-relu:")
                .and_then(|a| a.parse::<f32>().ok())
                .filter(|a| *a > 0.0 && a.is_finite())
                .map(Act::LeakyRelu),
        }
    }
}

/// Refuses a leaky ReLU whose slope is not positive and finite.
pub(crate) fn check_act(act: Act) -> Result<()> {
    if let Act::LeakyRelu(a) = act
        && !(a > 0.0 && a.is_finite())
    {
        return Err(crate::error::invalid(
            "activation",
            format!("leaky ReLU slope must be positive, got {a}"),
        ));
    }
    Ok(())
}

/// The buffer that the tensors `ts` all view (a kernel binds it once), or an error of `op`
/// naming `what` when they view more than one.
pub(crate) fn one_buffer(
    op: &'static str,
    what: &str,
    ts: &[&crate::tape::Tensor],
) -> Result<crate::gpu::GpuBuffer> {
    match ts.split_first() {
        Some((first, rest)) if rest.iter().all(|t| t.buffer() == first.buffer()) => {
            Ok(first.buffer().clone())
        }
        _ => Err(crate::error::shape(
            op,
            format!("{what} must be views of one buffer"),
        )),
    }
}

/// An error of `op` unless `t` (`what`, for the message) is `rows x cols`.
pub(crate) fn sized(
    op: &'static str,
    what: &str,
    t: &crate::tape::Tensor,
    rows: u32,
    cols: u32,
) -> Result<()> {
    if (t.rows(), t.cols()) != (rows, cols) {
        return Err(crate::error::shape(
            op,
            format!(
                "{what} must be {rows}x{cols}, got {}x{}",
                t.rows(),
                t.cols()
            ),
        ));
    }
    Ok(())
}

/// An error of `op` when its output `out` shares a buffer with an input it reads (one buffer
/// cannot be bound for reading and writing in one dispatch).
pub(crate) fn apart(
    op: &'static str,
    out: &crate::tape::Tensor,
    inputs: &[&crate::tape::Tensor],
) -> Result<()> {
    if inputs.iter().any(|t| t.buffer() == out.buffer()) {
        return Err(crate::error::shape(
            op,
            "the output must not share a buffer with what the kernel reads",
        ));
    }
    Ok(())
}

/// An error of `op` when any of `ts` is stored as f16 (its kernels read f32 only).
pub(crate) fn f32_rows(op: &'static str, ts: &[&crate::tape::Tensor]) -> Result<()> {
    if ts.iter().any(|t| t.is_half()) {
        return Err(crate::error::shape(
            op,
            "reads f32 rows; upload the data at f32 precision",
        ));
    }
    Ok(())
}

/// Workgroups for `n` invocations of a 256-wide 1-D kernel.
pub(crate) fn groups_1d(gpu: &Gpu, n: u32) -> Result<[u32; 3]> {
    gpu.grid_1d(n.div_ceil(256))
}
