//! The parameter arena: all of a model's parameters in one GPU buffer and their gradients in
//! another of the same layout, so one optimizer dispatch updates the whole model.

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use crate::error::{Error, Result};
use crate::gpu::{Gpu, GpuBuffer};
use crate::tape::{Tape, Tensor};

/// A `rows x cols` block of the arena.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slot {
    pub offset: u32,
    pub rows: u32,
    pub cols: u32,
}

/// Lays out slots and their initial values before the arena is uploaded. A dense layer's
/// random values are drawn at [`ArenaBuilder::upload`], in slot order (the same draws as
/// drawing them at once), after its size is checked against the adapter: a network too large
/// for it is refused with its sizes before anything that large is allocated.
pub struct ArenaBuilder {
    init: Vec<Init>,
    /// Words laid out so far.
    len: u64,
    slots: Vec<Slot>,
    /// Per slot: false for state that no gradient reaches ([`ArenaBuilder::state`]).
    trained: Vec<bool>,
    seed: u64,
}

/// How a slot's values are made at upload.
enum Init {
    /// `n` draws from U(-bound, bound).
    Uniform {
        n: u64,
        bound: f32,
    },
    Values(Vec<f32>),
}

impl ArenaBuilder {
    pub fn new(seed: u64) -> ArenaBuilder {
        ArenaBuilder {
            init: Vec::new(),
            len: 0,
            slots: Vec::new(),
            trained: Vec::new(),
            seed,
        }
    }

    /// The slot at the end of the layout (its offset saturates past u32, which `upload`
    /// refuses).
    fn push(&mut self, rows: u32, cols: u32, init: Init) -> Slot {
        let slot = Slot {
            offset: u32::try_from(self.len).unwrap_or(u32::MAX),
            rows,
            cols,
        };
        self.len += u64::from(rows) * u64::from(cols);
        self.init.push(init);
        self.slots.push(slot);
        self.trained.push(true);
        slot
    }

    /// A dense layer's slot, `(inputs + 1) x outputs`: W then the bias row, both drawn from
    /// U(-1/sqrt(inputs), 1/sqrt(inputs)) (PyTorch's `nn.Linear` default).
    pub fn dense(&mut self, inputs: u32, outputs: u32) -> Slot {
        let bound = 1.0 / (inputs.max(1) as f32).sqrt();
        let n = (u64::from(inputs) + 1) * u64::from(outputs);
        self.push(
            inputs.saturating_add(1),
            outputs,
            Init::Uniform { n, bound },
        )
    }

    /// A dense layer's W alone, `inputs x outputs`, drawn as [`ArenaBuilder::dense`] draws
    /// it, for a layer without a bias (`DenseParams::without_bias`).
    pub fn dense_without_bias(&mut self, inputs: u32, outputs: u32) -> Slot {
        self.uniform(inputs, outputs, 1.0 / (inputs.max(1) as f32).sqrt())
    }

    /// A convolution layer's slot, `1 x (weights + output channels)`: the weights then the
    /// bias, both drawn from U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (PyTorch's `Conv2d` and
    /// `ConvTranspose2d` defaults).
    pub fn conv(&mut self, conv: &crate::ops::conv::Conv2d) -> Slot {
        let bound = 1.0 / (conv.fan_in().max(1) as f32).sqrt();
        let n = conv.params();
        self.push(
            1,
            n,
            Init::Uniform {
                n: u64::from(n),
                bound,
            },
        )
    }

    /// A `rows x cols` slot drawn from U(-bound, bound) (an LSTM's weights and biases: bound
    /// 1/sqrt(hidden), PyTorch's `nn.LSTM` default).
    pub fn uniform(&mut self, rows: u32, cols: u32, bound: f32) -> Slot {
        let n = u64::from(rows) * u64::from(cols);
        self.push(rows, cols, Init::Uniform { n, bound })
    }

    /// A slot with the given initial values (row-major, `rows * cols` of them).
    pub fn fixed(&mut self, rows: u32, cols: u32, values: &[f32]) -> Result<Slot> {
        if values.len() as u64 != u64::from(rows) * u64::from(cols) {
            return Err(crate::error::invalid(
                "parameter slot",
                format!("{} values for {rows} x {cols}", values.len()),
            ));
        }
        Ok(self.push(rows, cols, Init::Values(values.to_vec())))
    }

    /// A slot of model state that lives (and is saved) with the parameters but is not trained:
    /// it is not registered with the tape, so its gradient stays zero and every optimizer
    /// leaves it as it is; only a kernel that copies into it changes it.
    pub fn state(&mut self, rows: u32, cols: u32, values: &[f32]) -> Result<Slot> {
        let slot = self.fixed(rows, cols, values)?;
        if let Some(t) = self.trained.last_mut() {
            *t = false;
        }
        Ok(slot)
    }

    /// Parameters laid out so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Checks the layout against the adapter's largest buffer (the parameters, their gradients
    /// and each optimizer state are one buffer each), then draws the values, uploads them and
    /// makes a zeroed gradient buffer of the same layout.
    pub fn upload(self, gpu: &Gpu) -> Result<ParamArena> {
        let limit = gpu.max_binding_bytes();
        let bytes = self.len * 4;
        if bytes > limit || self.len > u64::from(u32::MAX) {
            let widest = self
                .slots
                .iter()
                .max_by_key(|s| u64::from(s.rows) * u64::from(s.cols))
                .map_or(String::new(), |s| {
                    format!("; its largest layer is {} x {}", s.rows, s.cols)
                });
            return Err(Error::Limit {
                what: "model size",
                detail: format!(
                    "the network has {} parameters ({:.2} GB in f32, as much again for their \
                     gradients and for each optimizer state){widest}; this adapter holds at \
                     most {:.2} GB in one buffer: choose narrower layers",
                    self.len,
                    bytes as f64 / 1e9,
                    limit as f64 / 1e9
                ),
            });
        }
        let mut rng = StdRng::seed_from_u64(self.seed);
        let mut values = Vec::with_capacity(self.len as usize);
        for init in self.init {
            match init {
                Init::Uniform { n, bound } => {
                    values.extend((0..n).map(|_| rng.random_range(-bound..bound)));
                }
                Init::Values(v) => values.extend(v),
            }
        }
        let params = gpu.upload(&values, "params")?;
        let grads = gpu.upload(&vec![0f32; values.len().max(1)], "grads")?;
        Ok(ParamArena {
            params,
            grads,
            slots: self.slots,
            trained: self.trained,
            len: values.len() as u32,
        })
    }
}

/// A model's parameters and gradients on the GPU.
pub struct ParamArena {
    pub params: GpuBuffer,
    pub grads: GpuBuffer,
    pub slots: Vec<Slot>,
    trained: Vec<bool>,
    len: u32,
}

impl ParamArena {
    /// Parameter count.
    pub fn len(&self) -> u32 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn param(&self, s: Slot) -> Result<Tensor> {
        Tensor::view(&self.params, s.offset, s.rows, s.cols)
    }

    pub fn grad(&self, s: Slot) -> Result<Tensor> {
        Tensor::view(&self.grads, s.offset, s.rows, s.cols)
    }

    /// Registers every trained slot with the tape (not the state slots).
    pub fn register(&self, tape: &mut Tape) -> Result<()> {
        self.register_range(tape, 0..self.len)
    }

    /// Registers the trained slots that lie within the words `range` (one network of a model
    /// whose networks train in turn; the others' parameters are then constants of the step).
    pub fn register_range(&self, tape: &mut Tape, range: std::ops::Range<u32>) -> Result<()> {
        for (&s, &trained) in self.slots.iter().zip(&self.trained) {
            let end = s.offset + s.rows * s.cols;
            if trained && s.offset >= range.start && end <= range.end {
                tape.param(&self.param(s)?, &self.grad(s)?)?;
            }
        }
        Ok(())
    }

    /// All parameters, read back (blocking).
    pub fn read(&self, gpu: &Gpu) -> Result<Vec<f32>> {
        gpu.read_f32(&self.params, 0, u64::from(self.len))
    }

    /// All gradients of the last step, read back (blocking).
    pub fn read_grads(&self, gpu: &Gpu) -> Result<Vec<f32>> {
        gpu.read_f32(&self.grads, 0, u64::from(self.len))
    }

    /// Overwrites all parameters.
    pub fn write(&self, gpu: &Gpu, values: &[f32]) -> Result<()> {
        if values.len() != self.len as usize {
            return Err(crate::error::invalid(
                "parameters",
                format!("{} values for an arena of {}", values.len(), self.len),
            ));
        }
        gpu.write(&self.params, 0, values)
    }
}
