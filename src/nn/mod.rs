//! Networks: the parameter arena (every parameter of a model in one buffer, its gradients in
//! another, the optimizer state in a third), optimizers, [`Mlp`] and [`Autoencoder`].

mod arena;
mod autoencoder;
mod mlp;
mod optim;

pub use arena::{ArenaBuilder, ParamArena, Slot};
pub use autoencoder::{Autoencoder, AutoencoderConfig, shader_seed};
pub use mlp::Mlp;
pub use optim::{Optimizer, OptimizerState};

/// The most rows a scoring chunk takes: every kernel's grid fits (a GEMM's 32-row tiles stay
/// under 65535 workgroups a dimension).
pub const MAX_SCORE_CHUNK: u32 = 1 << 20;

/// Rows scored per chunk: as many as the adapter binds at the widest layer of `nets` (input,
/// hidden or output), at most [`MAX_SCORE_CHUNK`]. Fewer chunks are fewer dispatches and
/// larger GEMMs (60000 x 784 is two chunks on llvmpipe's 128 MiB bindings, one on a GPU);
/// a scoring plan allocates every chunk's activations either way.
pub fn score_chunk(gpu: &crate::Gpu, nets: &[&Mlp]) -> u32 {
    let widest = nets
        .iter()
        .flat_map(|m| m.sizes.iter().copied())
        .max()
        .unwrap_or(1)
        .max(1);
    let limits = gpu.limits();
    let bytes = limits
        .max_storage_buffer_binding_size
        .min(limits.max_buffer_size);
    let rows = bytes / (4 * u64::from(widest));
    rows.clamp(1, u64::from(MAX_SCORE_CHUNK)) as u32
}
