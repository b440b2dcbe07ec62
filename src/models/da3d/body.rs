//! The autoencoder DA3D watches: dense, or convolutional for images. Its encoder ends in a
//! linear code; its decoder ends in logits (a sigmoid output, trained with binary
//! cross-entropy against [0, 1] inputs); the alarm network reads the decoder's hidden
//! activations.

use crate::error::{Result, invalid};
use crate::nn::{ArenaBuilder, ConvStack, Mlp, ParamArena};
use crate::ops::Act;
use crate::ops::conv::{Chw, Conv2d};
use crate::tape::{Tape, Tensor};

/// The encoder and decoder.
#[derive(Clone, Debug)]
pub enum Body {
    Dense { enc: Mlp, dec: Mlp },
    Conv { enc: ConvStack, dec: ConvStack },
}

impl Body {
    /// A dense autoencoder `inputs -> hidden... -> code` and its mirror, leaky ReLU between.
    pub fn dense(
        arena: &mut ArenaBuilder,
        inputs: u32,
        hidden: &[u32],
        code: u32,
        act: Act,
    ) -> Result<Body> {
        let mut sizes = vec![inputs];
        sizes.extend(hidden);
        sizes.push(code);
        let mut acts = vec![act; hidden.len()];
        acts.push(Act::Identity);
        let enc = Mlp::new(arena, &sizes, &acts)?;
        sizes.reverse();
        let dec = Mlp::new(arena, &sizes, &acts)?;
        Ok(Body::Dense { enc, dec })
    }

    /// A convolutional autoencoder for `image` rows: one 3x3 convolution of stride 2 and
    /// padding 1 per entry of `channels` (each halves the height and width, rounding up),
    /// then a code layer whose kernel covers what is left, giving `code x 1 x 1`; the decoder
    /// mirrors it with transposed convolutions back to exactly `image` (the output padding
    /// picks each size the encoder halved). A layer that would halve a 1 x 1 image is refused.
    pub fn conv(
        arena: &mut ArenaBuilder,
        image: Chw,
        channels: &[u32],
        code: u32,
        act: Act,
    ) -> Result<Body> {
        let mut shapes = vec![image];
        let mut enc = Vec::new();
        for (i, &c) in channels.iter().enumerate() {
            let cur = shapes[shapes.len() - 1];
            if cur.h == 1 && cur.w == 1 {
                return Err(invalid(
                    "conv autoencoder",
                    format!(
                        "{image} images are 1x1 after {i} of the {} strided layers ({}): the \
                         stack does not reach its code before it runs out of image; give fewer \
                         channels",
                        channels.len(),
                        channels
                            .iter()
                            .map(u32::to_string)
                            .collect::<Vec<_>>()
                            .join(",")
                    ),
                ));
            }
            let layer = Conv2d::new(cur, c, [3, 3], [2, 2], [1, 1])?;
            shapes.push(layer.output);
            enc.push(layer);
        }
        let last = shapes[shapes.len() - 1];
        enc.push(Conv2d::new(last, code, [last.h, last.w], [1, 1], [0, 0])?);
        let mut enc_acts = vec![act; channels.len()];
        enc_acts.push(Act::Identity);

        // The decoder: the code back to the last encoder shape, then each halving undone.
        let mut dec = vec![Conv2d::transposed(
            Chw::new(code, 1, 1),
            last.c,
            [last.h, last.w],
            [1, 1],
            [0, 0],
            [0, 0],
        )?];
        for w in shapes.windows(2).rev() {
            let (big, small) = (w[0], w[1]);
            // (small - 1) 2 - 2 + 3 = 2 small - 1; the output padding makes up the rest.
            let op = [big.h + 1 - 2 * small.h, big.w + 1 - 2 * small.w];
            dec.push(Conv2d::transposed(
                small,
                big.c,
                [3, 3],
                [2, 2],
                [1, 1],
                op,
            )?);
        }
        let mut dec_acts = vec![act; channels.len()];
        dec_acts.push(Act::Identity);
        let dec_out = dec[dec.len() - 1].output;
        if dec_out != image {
            return Err(invalid(
                "conv autoencoder",
                format!("the decoder ends at {dec_out}, not {image}"),
            ));
        }
        Ok(Body::Conv {
            enc: ConvStack::new(arena, enc, enc_acts)?,
            dec: ConvStack::new(arena, dec, dec_acts)?,
        })
    }

    /// The encoder's parameter words (laid out first, before the decoder's).
    pub fn encoder_words(&self) -> u32 {
        match self {
            Body::Dense { enc, .. } => enc.words(),
            Body::Conv { enc, .. } => enc.words(),
        }
    }

    /// The alarm network's input width: every hidden activation of the decoder.
    pub fn activations(&self) -> u32 {
        match self {
            Body::Dense { dec, .. } => dec.sizes[1..dec.sizes.len() - 1].iter().sum(),
            Body::Conv { dec, .. } => dec.layers[..dec.layers.len() - 1]
                .iter()
                .map(|l| l.output.values().unwrap_or(u32::MAX))
                .sum(),
        }
    }

    /// The most values a row holds in either network.
    pub fn widest(&self) -> u32 {
        match self {
            Body::Dense { enc, dec } => enc.widest().max(dec.widest()),
            Body::Conv { enc, dec } => enc.widest().max(dec.widest()),
        }
        .max(self.activations())
    }

    pub fn encode(&self, tape: &mut Tape, arena: &ParamArena, x: &Tensor) -> Result<Tensor> {
        match self {
            Body::Dense { enc, .. } => enc.forward(tape, arena, x),
            Body::Conv { enc, .. } => {
                let mut outs = enc.forward_all(tape, arena, x)?;
                Ok(outs.pop().expect("a conv stack has layers"))
            }
        }
    }

    /// The decoder's output logits of `code`.
    pub fn decode(&self, tape: &mut Tape, arena: &ParamArena, code: &Tensor) -> Result<Tensor> {
        match self {
            Body::Dense { dec, .. } => dec.forward(tape, arena, code),
            Body::Conv { dec, .. } => {
                let mut outs = dec.forward_all(tape, arena, code)?;
                Ok(outs.pop().expect("a conv stack has layers"))
            }
        }
    }

    /// The decoder's hidden activations of `code`, side by side (`rows x activations`); its
    /// output layer is not run.
    pub fn activations_of(
        &self,
        tape: &mut Tape,
        arena: &ParamArena,
        code: &Tensor,
    ) -> Result<Tensor> {
        let mut hidden = match self {
            Body::Dense { dec, .. } => dec.forward_first(tape, arena, code, dec.acts.len() - 1)?,
            Body::Conv { dec, .. } => dec.forward_first(tape, arena, code, dec.acts.len() - 1)?,
        };
        if hidden.len() == 1 {
            return Ok(hidden.pop().expect("one"));
        }
        let parts: Vec<(&Tensor, bool)> = hidden.iter().map(|t| (t, true)).collect();
        tape.concat_cols(&parts)
    }
}
