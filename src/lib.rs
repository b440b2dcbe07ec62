//! oddity: deep anomaly detection whose every numeric kernel is a hand-written WGSL compute
//! shader run through wgpu, on any adapter (NVIDIA, AMD, Intel, Apple, software Vulkan).
//!
//! - [`gpu`]: adapter choice, device (own or borrowed), kernels, buffers, readback, counters.
//! - [`tape`]: tensors, the autograd tape, and plans (recorded steps replayed in one submit).
//! - [`ops`]: one module per operation: its forward dispatch and its backward rule.
//! - [`nn`]: parameter arenas, optimizers, [`nn::Mlp`] and [`nn::Autoencoder`].
//! - [`data`]: the synthetic MNIST-shaped generator used by benchmarks.

pub mod active;
pub mod data;
pub mod error;
pub mod gpu;
pub mod metrics;
pub mod models;
pub mod nn;
pub mod ops;
pub mod tape;

pub use error::{Error, Result};
pub use gpu::Gpu;
pub use tape::{Plan, Tape, Tensor};
