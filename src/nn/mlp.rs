//! A multilayer perceptron (dense layers of any sizes and activations, parameters in an
//! arena), and an autoencoder's encoder and decoder made of two.

use super::{ArenaBuilder, ParamArena, Slot};
use crate::error::{Result, invalid};
use crate::ops::Act;
use crate::ops::dense::DenseParams;
use crate::tape::{Tape, Tensor};

/// Dropout in a training pass: its rate, and the RNG seed and tag of the first hidden
/// layer's mask (layer i draws with tag + i).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Dropout {
    pub rate: f32,
    pub seed: u32,
    pub tag: u32,
}

/// Layer sizes `[in, h1, ..., out]` with one activation per layer.
#[derive(Clone, Debug)]
pub struct Mlp {
    pub sizes: Vec<u32>,
    pub acts: Vec<Act>,
    slots: Vec<Slot>,
    /// False: every layer without its bias ([`Mlp::without_bias`]).
    pub bias: bool,
}

impl Mlp {
    /// Reserves and initialises the layers' slots in `arena`.
    pub fn new(arena: &mut ArenaBuilder, sizes: &[u32], acts: &[Act]) -> Result<Mlp> {
        if sizes.len() < 2 || acts.len() != sizes.len() - 1 {
            return Err(invalid(
                "mlp",
                format!(
                    "{} sizes need {} activations, got {}",
                    sizes.len(),
                    sizes.len().saturating_sub(1),
                    acts.len()
                ),
            ));
        }
        if let Some(i) = sizes.iter().position(|&s| s == 0) {
            return Err(invalid("mlp", format!("layer size {i} is zero")));
        }
        let slots = sizes.windows(2).map(|w| arena.dense(w[0], w[1])).collect();
        Ok(Mlp {
            sizes: sizes.to_vec(),
            acts: acts.to_vec(),
            slots,
            bias: true,
        })
    }

    /// The same network with no bias in any layer (each slot W alone).
    pub fn without_bias(arena: &mut ArenaBuilder, sizes: &[u32], acts: &[Act]) -> Result<Mlp> {
        // Checked as `new` checks them, before any slot is laid out.
        Mlp::new(&mut ArenaBuilder::new(0), sizes, acts)?;
        let slots = sizes
            .windows(2)
            .map(|w| arena.dense_without_bias(w[0], w[1]))
            .collect();
        Ok(Mlp {
            sizes: sizes.to_vec(),
            acts: acts.to_vec(),
            slots,
            bias: false,
        })
    }

    pub fn inputs(&self) -> u32 {
        self.sizes[0]
    }

    pub fn outputs(&self) -> u32 {
        self.sizes[self.sizes.len() - 1]
    }

    /// The arena words its layers hold.
    pub fn words(&self) -> u32 {
        self.slots.iter().map(|s| s.rows * s.cols).sum()
    }

    /// The widest layer (input, hidden or output).
    pub fn widest(&self) -> u32 {
        self.sizes.iter().copied().max().unwrap_or(1)
    }

    /// The layers' parameters in `arena`.
    pub fn layers(&self, arena: &ParamArena) -> Result<Vec<DenseParams>> {
        self.slots
            .iter()
            .map(|&s| match self.bias {
                true => DenseParams::new(arena.param(s)?),
                false => DenseParams::without_bias(arena.param(s)?),
            })
            .collect()
    }

    /// Every layer's output, last one last.
    pub fn forward_all(
        &self,
        tape: &mut Tape,
        arena: &ParamArena,
        x: &Tensor,
    ) -> Result<Vec<Tensor>> {
        self.forward_first(tape, arena, x, self.slots.len())
    }

    /// The outputs of the first `n` layers (all of them at most).
    pub fn forward_first(
        &self,
        tape: &mut Tape,
        arena: &ParamArena,
        x: &Tensor,
        n: usize,
    ) -> Result<Vec<Tensor>> {
        self.forward_first_with(tape, arena, x, n, None)
    }

    /// [`Mlp::forward_first`] with `dropout` after each hidden layer (not the output layer);
    /// the outputs are what the next layer reads.
    pub fn forward_first_with(
        &self,
        tape: &mut Tape,
        arena: &ParamArena,
        x: &Tensor,
        n: usize,
        dropout: Option<Dropout>,
    ) -> Result<Vec<Tensor>> {
        let mut outs: Vec<Tensor> = Vec::with_capacity(n);
        let hidden = self.acts.len() - 1;
        for (i, (layer, &act)) in self
            .layers(arena)?
            .iter()
            .zip(&self.acts)
            .take(n)
            .enumerate()
        {
            let input = outs.last().unwrap_or(x).clone();
            let mut y = tape.dense(&input, layer, act)?;
            if let Some(d) = dropout.filter(|_| i < hidden) {
                y = tape.dropout(&y, d.rate, d.seed, d.tag + i as u32)?;
            }
            outs.push(y);
        }
        Ok(outs)
    }

    /// The network's output with `dropout` after each hidden layer.
    pub fn forward_with(
        &self,
        tape: &mut Tape,
        arena: &ParamArena,
        x: &Tensor,
        dropout: Option<Dropout>,
    ) -> Result<Tensor> {
        let mut outs = self.forward_first_with(tape, arena, x, self.slots.len(), dropout)?;
        outs.pop().ok_or_else(|| invalid("mlp", "no layers"))
    }

    /// The network's output.
    pub fn forward(&self, tape: &mut Tape, arena: &ParamArena, x: &Tensor) -> Result<Tensor> {
        let mut outs = self.forward_all(tape, arena, x)?;
        outs.pop().ok_or_else(|| invalid("mlp", "no layers"))
    }
}

/// An autoencoder's two networks: an encoder from the inputs through the hidden widths (`act`,
/// the last layer, the latent code, linear) and an independent decoder, its mirror (`act`,
/// `output_act` last).
#[derive(Clone, Debug)]
pub struct EncoderDecoder {
    pub encoder: Mlp,
    pub decoder: Mlp,
}

impl EncoderDecoder {
    /// Reserves and initialises both networks in `arena`, encoder first.
    pub fn new(
        arena: &mut ArenaBuilder,
        inputs: u32,
        hidden: &[u32],
        act: Act,
        output_act: Act,
    ) -> Result<EncoderDecoder> {
        if hidden.is_empty() {
            return Err(invalid(
                "autoencoder",
                "needs at least one hidden (latent) size",
            ));
        }
        let depth = hidden.len();
        let mut sizes = vec![inputs];
        sizes.extend(hidden);
        let mut enc_acts = vec![act; depth];
        enc_acts[depth - 1] = Act::Identity;
        let encoder = Mlp::new(arena, &sizes, &enc_acts)?;
        sizes.reverse();
        let mut dec_acts = vec![act; depth];
        dec_acts[depth - 1] = output_act;
        let decoder = Mlp::new(arena, &sizes, &dec_acts)?;
        Ok(EncoderDecoder { encoder, decoder })
    }

    /// The widest layer of either network (for chunked passes over many rows).
    pub fn widest(&self) -> u32 {
        self.encoder.widest().max(self.decoder.widest())
    }

    /// The latent code of `x` and its reconstruction.
    pub fn forward(
        &self,
        tape: &mut Tape,
        arena: &ParamArena,
        x: &Tensor,
    ) -> Result<(Tensor, Tensor)> {
        let latent = self.encoder.forward(tape, arena, x)?;
        let recon = self.decoder.forward(tape, arena, &latent)?;
        Ok((latent, recon))
    }
}
