//! Networks: the parameter arena (every parameter of a model in one buffer, its gradients in
//! another, the optimizer state in a third), optimizers, [`Mlp`] and [`Autoencoder`].

mod arena;
mod autoencoder;
mod mlp;
mod optim;

pub use arena::{ArenaBuilder, ParamArena, Slot};
pub use autoencoder::{Autoencoder, AutoencoderConfig, SCORE_CHUNK, shader_seed};
pub use mlp::Mlp;
pub use optim::{Optimizer, OptimizerState};
