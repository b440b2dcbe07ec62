//! The parameter arena: all of a model's parameters in one GPU buffer and their gradients in
//! another of the same layout, so one optimizer dispatch updates the whole model.

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use crate::error::Result;
use crate::gpu::{Gpu, GpuBuffer};
use crate::tape::{Tape, Tensor};

/// A `rows x cols` block of the arena.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slot {
    pub offset: u32,
    pub rows: u32,
    pub cols: u32,
}

/// Lays out slots and their initial values on the host before the arena is uploaded.
pub struct ArenaBuilder {
    values: Vec<f32>,
    slots: Vec<Slot>,
    /// Per slot: false for state that no gradient reaches ([`ArenaBuilder::state`]).
    trained: Vec<bool>,
    rng: StdRng,
}

impl ArenaBuilder {
    pub fn new(seed: u64) -> ArenaBuilder {
        ArenaBuilder {
            values: Vec::new(),
            slots: Vec::new(),
            trained: Vec::new(),
            rng: StdRng::seed_from_u64(seed),
        }
    }

    /// A dense layer's slot, `(inputs + 1) x outputs`: W then the bias row, both drawn from
    /// U(-1/sqrt(inputs), 1/sqrt(inputs)) (PyTorch's `nn.Linear` default).
    pub fn dense(&mut self, inputs: u32, outputs: u32) -> Slot {
        let bound = 1.0 / (inputs.max(1) as f32).sqrt();
        let n = (inputs as usize + 1) * outputs as usize;
        let slot = Slot {
            offset: self.values.len() as u32,
            rows: inputs + 1,
            cols: outputs,
        };
        for _ in 0..n {
            let v = self.rng.random_range(-bound..bound);
            self.values.push(v);
        }
        self.slots.push(slot);
        self.trained.push(true);
        slot
    }

    /// A slot with the given initial values (row-major, `rows * cols` of them).
    pub fn fixed(&mut self, rows: u32, cols: u32, values: &[f32]) -> Result<Slot> {
        if values.len() != (rows * cols) as usize {
            return Err(crate::error::invalid(
                "parameter slot",
                format!("{} values for {rows} x {cols}", values.len()),
            ));
        }
        let slot = Slot {
            offset: self.values.len() as u32,
            rows,
            cols,
        };
        self.values.extend_from_slice(values);
        self.slots.push(slot);
        self.trained.push(true);
        Ok(slot)
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

    /// Uploads the parameters and makes a zeroed gradient buffer of the same layout.
    pub fn upload(self, gpu: &Gpu) -> Result<ParamArena> {
        let params = gpu.upload(&self.values, "params")?;
        let grads = gpu.upload(&vec![0f32; self.values.len().max(1)], "grads")?;
        Ok(ParamArena {
            params,
            grads,
            slots: self.slots,
            trained: self.trained,
            len: self.values.len() as u32,
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
        for (&s, &trained) in self.slots.iter().zip(&self.trained) {
            if trained {
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
