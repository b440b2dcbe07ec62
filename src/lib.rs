//! oddity: deep anomaly detection whose every numeric kernel is a hand-written WGSL compute
//! shader run through wgpu, on any adapter (NVIDIA, AMD, Intel, Apple, software Vulkan).
//!
//! - [`error`]: the error type.
//! - [`gpu`]: adapter choice, device (own or borrowed), kernels, buffers, readback, counters.
//! - [`tape`]: tensors, the autograd tape, and plans (recorded steps replayed in one submit).
//! - [`ops`]: one module per operation: its forward dispatch and its backward rule.
//! - [`nn`]: parameter arenas, optimizers, [`nn::Mlp`] and [`nn::EncoderDecoder`].
//! - [`data`]: CSV and IDX loading, scaling, the built-in digits, the UAI constructions.
//! - [`metrics`]: AUROC, AP, precision, recall, F1 at a threshold.
//! - [`models`]: every detector, on one model core, behind the [`models::Detector`] face, by
//!   name in the [`models::registry`].
//! - [`active`]: Algorithm 1 (active anomaly detection), oracles, the label journal.
//! - [`datasets`]: datasets by name, as the commands take them.
//!
//! Each module imports only the ones listed before it (`tests/layering.rs` checks it). The
//! command-line tool (`src/bin/oddity`, behind the default `cli` feature) parses flags, calls
//! the library, prints and plots.

pub mod active;
pub mod data;
pub mod datasets;
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
