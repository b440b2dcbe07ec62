//! 2-D convolution and transposed convolution (`conv.wgsl`), bias and activation fused: rows of
//! a tape tensor hold images as C x H x W values (channel-major), and a layer's [`Conv2d`]
//! carries the shapes it maps between and checks them when it is built and when it is used.
//!
//! A convolution reads the "big" side of the shader's pair and writes the "small" one; a
//! transposed convolution the other way round; so one layer's data gradient is the other
//! direction's forward kernel, and both share the weight gradient kernel. Backward: dZ = dY
//! act'(Y) (one elementwise pass, skipped for the identity), then the weight and bias
//! gradients in one dispatch and the input gradient in one.

use oddity_kernels::kernels as k;
use oddity_kernels::params::{ConvParams, NONE};
use serde::{Deserialize, Serialize};

use super::{Act, check_act, f32_rows, groups_1d};
use crate::error::{Result, invalid, shape};
use crate::tape::{Backward, BackwardCtx, Grad, Tape, Tensor};

/// The shape of one image: channels, height, width.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Chw {
    pub c: u32,
    pub h: u32,
    pub w: u32,
}

impl Chw {
    pub fn new(c: u32, h: u32, w: u32) -> Chw {
        Chw { c, h, w }
    }

    /// C H W values, or an error when that passes u32.
    pub fn values(&self) -> Result<u32> {
        self.c
            .checked_mul(self.h)
            .and_then(|v| v.checked_mul(self.w))
            .ok_or_else(|| invalid("image shape", format!("{self} has more than 2^32 values")))
    }
}

impl std::fmt::Display for Chw {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}x{}x{}", self.c, self.h, self.w)
    }
}

/// A convolution layer's geometry: input and output image shapes, kernel, stride and padding
/// as [height, width]. Built by [`Conv2d::new`] or [`Conv2d::transposed`], which compute the
/// output shape and refuse a geometry that cannot run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conv2d {
    pub input: Chw,
    pub output: Chw,
    pub kernel: [u32; 2],
    pub stride: [u32; 2],
    pub pad: [u32; 2],
    /// A transposed convolution (PyTorch's ConvTranspose2d), else a convolution (Conv2d).
    pub transposed: bool,
}

fn positive(what: &'static str, v: [u32; 2]) -> Result<()> {
    if v.contains(&0) {
        return Err(invalid(
            what,
            format!("{}x{} (must be at least 1)", v[0], v[1]),
        ));
    }
    Ok(())
}

impl Conv2d {
    /// A convolution of `input` images to `channels` output channels:
    /// out = (in + 2 pad - kernel) / stride + 1 per axis. Refuses a kernel larger than the
    /// padded input and zero sizes.
    pub fn new(
        input: Chw,
        channels: u32,
        kernel: [u32; 2],
        stride: [u32; 2],
        pad: [u32; 2],
    ) -> Result<Conv2d> {
        Conv2d::common(input, channels, kernel, stride)?;
        let mut out = [0u32; 2];
        for (a, (size, o)) in [input.h, input.w].into_iter().zip(&mut out).enumerate() {
            let padded = u64::from(size) + 2 * u64::from(pad[a]);
            if u64::from(kernel[a]) > padded {
                return Err(shape(
                    "conv2d",
                    format!(
                        "kernel {}x{} is larger than the input {}x{} padded by {}x{}",
                        kernel[0], kernel[1], input.h, input.w, pad[0], pad[1]
                    ),
                ));
            }
            *o = u32::try_from((padded - u64::from(kernel[a])) / u64::from(stride[a]) + 1)
                .map_err(|_| invalid("conv2d output", "more than 2^32 positions"))?;
        }
        Conv2d::made(
            input,
            Chw::new(channels, out[0], out[1]),
            kernel,
            stride,
            pad,
            false,
        )
    }

    /// A transposed convolution: out = (in - 1) stride - 2 pad + kernel + output_pad per
    /// axis (`output_pad` < stride picks among the sizes a stride leaves ambiguous). Refuses
    /// an output of no positions and the sizes [`Conv2d::new`] refuses.
    pub fn transposed(
        input: Chw,
        channels: u32,
        kernel: [u32; 2],
        stride: [u32; 2],
        pad: [u32; 2],
        output_pad: [u32; 2],
    ) -> Result<Conv2d> {
        Conv2d::common(input, channels, kernel, stride)?;
        let mut out = [0u32; 2];
        for (a, (size, o)) in [input.h, input.w].into_iter().zip(&mut out).enumerate() {
            if output_pad[a] >= stride[a] {
                return Err(invalid(
                    "transposed convolution output padding",
                    format!(
                        "{}x{} (must be smaller than the stride {}x{})",
                        output_pad[0], output_pad[1], stride[0], stride[1]
                    ),
                ));
            }
            let full = (i64::from(size) - 1) * i64::from(stride[a])
                + i64::from(kernel[a])
                + i64::from(output_pad[a]);
            let n = full - 2 * i64::from(pad[a]);
            if n < 1 {
                return Err(shape(
                    "conv_transpose2d",
                    format!(
                        "input {}x{}, kernel {}x{}, stride {}x{} and padding {}x{} leave no output",
                        input.h,
                        input.w,
                        kernel[0],
                        kernel[1],
                        stride[0],
                        stride[1],
                        pad[0],
                        pad[1]
                    ),
                ));
            }
            *o = u32::try_from(n)
                .map_err(|_| invalid("conv_transpose2d output", "more than 2^32 positions"))?;
        }
        Conv2d::made(
            input,
            Chw::new(channels, out[0], out[1]),
            kernel,
            stride,
            pad,
            true,
        )
    }

    fn common(input: Chw, channels: u32, kernel: [u32; 2], stride: [u32; 2]) -> Result<()> {
        if input.c == 0 || input.h == 0 || input.w == 0 || channels == 0 {
            return Err(invalid(
                "convolution shape",
                format!("input {input}, {channels} output channels (each must be at least 1)"),
            ));
        }
        positive("convolution kernel", kernel)?;
        positive("convolution stride", stride)?;
        Ok(())
    }

    /// The layer of these shapes, once every size the kernels index is checked to fit u32.
    fn made(
        input: Chw,
        output: Chw,
        kernel: [u32; 2],
        stride: [u32; 2],
        pad: [u32; 2],
        transposed: bool,
    ) -> Result<Conv2d> {
        let conv = Conv2d {
            input,
            output,
            kernel,
            stride,
            pad,
            transposed,
        };
        conv.input.values()?;
        conv.output.values()?;
        conv.weights()
            .checked_add(conv.output.c)
            .ok_or_else(|| invalid("convolution weights", "more than 2^32 values"))?;
        Ok(conv)
    }

    /// The big side of the shader's pair (a convolution's input, a transposed one's output).
    fn big(&self) -> Chw {
        if self.transposed {
            self.output
        } else {
            self.input
        }
    }

    fn small(&self) -> Chw {
        if self.transposed {
            self.input
        } else {
            self.output
        }
    }

    /// Weights: small channels x big channels x kernel height x kernel width (PyTorch's
    /// layout for either direction).
    pub fn weights(&self) -> u32 {
        let (b, s) = (self.big(), self.small());
        s.c.saturating_mul(b.c)
            .saturating_mul(self.kernel[0])
            .saturating_mul(self.kernel[1])
    }

    /// The weights then one bias per output channel.
    pub fn params(&self) -> u32 {
        self.weights() + self.output.c
    }

    /// The fan-in PyTorch's default initialisation uses: big channels x kernel taps (for a
    /// transposed convolution that is its output channels, as `weight.size(1)` there).
    pub fn fan_in(&self) -> u32 {
        self.big().c * self.kernel[0] * self.kernel[1]
    }

    /// Multiply-adds of one row's forward pass.
    pub fn macs_per_row(&self) -> u64 {
        let s = self.small();
        u64::from(s.h * s.w)
            * u64::from(self.small().c)
            * u64::from(self.big().c)
            * u64::from(self.kernel[0] * self.kernel[1])
    }

    /// The kernel parameters for `rows` rows, every offset 0.
    pub fn kernel_params(&self, rows: u32) -> ConvParams {
        let (b, s) = (self.big(), self.small());
        ConvParams {
            rows,
            cs: s.c,
            hs: s.h,
            ws: s.w,
            cb: b.c,
            hb: b.h,
            wb: b.w,
            kh: self.kernel[0],
            kw: self.kernel[1],
            sh: self.stride[0],
            sw: self.stride[1],
            ph: self.pad[0],
            pw: self.pad[1],
            big_off: 0,
            small_off: 0,
            w_off: 0,
            b_off: NONE,
            out_off: 0,
            bias_side: u32::from(self.transposed),
            count: 0,
            act: 0,
            alpha: 0.0,
            accumulate: 0,
        }
    }
}

/// A convolution layer: its geometry and a view of its parameters in an arena, the weights
/// ([`Conv2d::weights`] of them) then one bias per output channel.
#[derive(Clone, Debug)]
pub struct ConvLayer {
    pub conv: Conv2d,
    pub param: Tensor,
}

impl ConvLayer {
    /// Refuses a parameter view whose size is not the geometry's.
    pub fn new(conv: Conv2d, param: Tensor) -> Result<ConvLayer> {
        if param.len() != conv.params() {
            return Err(shape(
                "conv2d",
                format!(
                    "the layer's parameters hold {} values, its geometry needs {}",
                    param.len(),
                    conv.params()
                ),
            ));
        }
        Ok(ConvLayer { conv, param })
    }
}

struct ConvBackward {
    x: Tensor,
    layer: ConvLayer,
    act: Act,
    y: Tensor,
}

impl Backward for ConvBackward {
    fn output(&self) -> &Tensor {
        &self.y
    }

    fn backward(&self, ctx: &mut BackwardCtx<'_>, grad: Grad) -> Result<()> {
        let gpu = ctx.gpu();
        let dy = ctx.materialize(grad, &self.y)?;
        let base = self.layer.conv.kernel_params(self.x.rows());
        let dz = if self.act == Act::Identity {
            dy
        } else {
            let dz = Tensor::new(&gpu, self.y.rows(), self.y.cols(), "conv dz")?;
            let p = ConvParams {
                big_off: dy.offset(),
                small_off: self.y.offset(),
                out_off: dz.offset(),
                count: self.y.len(),
                act: self.act.code(),
                alpha: self.act.alpha(),
                ..base
            };
            ctx.plan.dispatch(
                k::conv::CONV_DACT,
                Some(&p),
                &[
                    ("big", dy.buffer()),
                    ("small", self.y.buffer()),
                    ("out", dz.buffer()),
                ],
                groups_1d(&gpu, self.y.len())?,
            )?;
            dz
        };
        // The big and small sides: (x, dZ) for a convolution, (dZ, x) for a transposed one.
        let (big, small) = if self.layer.conv.transposed {
            (&dz, &self.x)
        } else {
            (&self.x, &dz)
        };
        if let Some((dw, acc)) = ctx.dest(&self.layer.param)? {
            let weights = self.layer.conv.weights();
            let p = ConvParams {
                big_off: big.offset(),
                small_off: small.offset(),
                out_off: dw.offset(),
                b_off: dw.offset() + weights,
                accumulate: u32::from(acc),
                ..base
            };
            ctx.plan.dispatch(
                k::conv::CONV_WGRAD,
                Some(&p),
                &[
                    ("big", big.buffer()),
                    ("small", small.buffer()),
                    ("out", dw.buffer()),
                ],
                gpu.grid_1d(weights + self.layer.conv.output.c)?,
            )?;
        }
        if let Some((dx, acc)) = ctx.dest(&self.x)? {
            // The input gradient runs the other direction's forward kernel over dZ.
            let p = ConvParams {
                big_off: dz.offset(),
                small_off: dz.offset(),
                w_off: self.layer.param.offset(),
                out_off: dx.offset(),
                accumulate: u32::from(acc),
                ..base
            };
            let (kernel, side) = if self.layer.conv.transposed {
                (k::conv::CONV_SMALL, "big")
            } else {
                (k::conv::CONV_BIG, "small")
            };
            ctx.plan.dispatch(
                kernel,
                Some(&p),
                &[
                    (side, dz.buffer()),
                    ("w", self.layer.param.buffer()),
                    ("out", dx.buffer()),
                ],
                groups_1d(&gpu, self.x.len())?,
            )?;
        }
        Ok(())
    }
}

impl Tape {
    /// y = act(conv(x) + b) for a `rows x (C H W)` tensor x of `layer.conv.input` images; y is
    /// `rows x (C H W)` of its output images. A transposed layer runs the transposed
    /// convolution.
    pub fn conv2d(&mut self, x: &Tensor, layer: &ConvLayer, act: Act) -> Result<Tensor> {
        let conv = &layer.conv;
        let op = if conv.transposed {
            "conv_transpose2d"
        } else {
            "conv2d"
        };
        if x.cols() != conv.input.values()? {
            return Err(shape(
                op,
                format!(
                    "input rows have {} values, the layer takes {} images ({} values)",
                    x.cols(),
                    conv.input,
                    conv.input.values()?
                ),
            ));
        }
        f32_rows(op, &[x])?;
        check_act(act)?;
        let gpu = self.gpu().clone();
        let y = Tensor::new(&gpu, x.rows(), conv.output.values()?, op)?;
        let p = ConvParams {
            big_off: x.offset(),
            small_off: x.offset(),
            w_off: layer.param.offset(),
            b_off: layer.param.offset() + conv.weights(),
            out_off: y.offset(),
            act: act.code(),
            alpha: act.alpha(),
            ..conv.kernel_params(x.rows())
        };
        let (kernel, side) = if conv.transposed {
            (k::conv::CONV_BIG, "small")
        } else {
            (k::conv::CONV_SMALL, "big")
        };
        self.plan.dispatch(
            kernel,
            Some(&p),
            &[
                (side, x.buffer()),
                ("w", layer.param.buffer()),
                ("out", y.buffer()),
            ],
            groups_1d(&gpu, y.len())?,
        )?;
        self.plan.note(format!(
            "{} {} -> {} k{}x{} s{}x{}",
            x.rows(),
            conv.input,
            conv.output,
            conv.kernel[0],
            conv.kernel[1],
            conv.stride[0],
            conv.stride[1]
        ));
        self.push(
            &[x, &layer.param],
            Box::new(ConvBackward {
                x: x.clone(),
                layer: layer.clone(),
                act,
                y: y.clone(),
            }),
        );
        Ok(y)
    }
}
