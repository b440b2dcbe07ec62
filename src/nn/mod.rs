//! Network building blocks: the parameter arena (every parameter of a model in one buffer, its
//! gradients in another), optimizers over a whole arena, [`Mlp`], [`EncoderDecoder`],
//! [`ConvStack`] and [`Lstm`]. Models (`crate::models`) are built from them on the model core.

mod arena;
mod conv;
mod lstm;
mod mlp;
mod optim;

pub use arena::{ArenaBuilder, ParamArena, Slot};
pub use conv::ConvStack;
pub use lstm::Lstm;
pub use mlp::{Dropout, EncoderDecoder, Mlp};
pub use optim::{Optimizer, OptimizerState};
