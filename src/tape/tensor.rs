//! Tensors: row-major f32 matrices living in a slice of a GPU buffer.

use crate::error::{Result, invalid};
use crate::gpu::{Gpu, GpuBuffer};

/// A `rows x cols` row-major f32 matrix at word `offset` of a buffer. Parameters are views into
/// a model's parameter arena; activations own their buffer. A dataset may instead be stored as
/// f16 ([`Tensor::from_slice_f16`]): offsets then count f16 elements, and only the kernels with
/// an f16 binding (the GEMM's A, the row error's target, the row samplers) take it; any other
/// use is refused when recorded.
#[derive(Clone, Debug)]
pub struct Tensor {
    pub(crate) buf: GpuBuffer,
    pub(crate) offset: u32,
    pub(crate) rows: u32,
    pub(crate) cols: u32,
}

/// Identity of a tensor for gradient bookkeeping: buffer, offset and shape.
pub(crate) type TensorKey = (u64, u32, u32, u32);

fn words(rows: u32, cols: u32) -> Result<u32> {
    rows.checked_mul(cols)
        .ok_or_else(|| invalid("tensor shape", format!("{rows} x {cols} overflows")))
}

impl Tensor {
    /// A new tensor with its own (uninitialised) buffer.
    pub fn new(gpu: &Gpu, rows: u32, cols: u32, label: &str) -> Result<Tensor> {
        let n = words(rows, cols)?;
        Ok(Tensor {
            buf: gpu.buffer(u64::from(n), label)?,
            offset: 0,
            rows,
            cols,
        })
    }

    /// A new tensor holding `data` (row-major, `rows * cols` values).
    pub fn from_slice(
        gpu: &Gpu,
        data: &[f32],
        rows: u32,
        cols: u32,
        label: &str,
    ) -> Result<Tensor> {
        Tensor::uploaded(gpu, data, rows, cols, label, false)
    }

    /// A `rows x cols` tensor of `data` rounded to f16 and stored two per word (see
    /// [`Gpu::upload_f16`]): half the memory and half the bytes each read of it costs. A value
    /// past f16's range (65504) is refused with its row and column.
    pub fn from_slice_f16(
        gpu: &Gpu,
        data: &[f32],
        rows: u32,
        cols: u32,
        label: &str,
    ) -> Result<Tensor> {
        Tensor::uploaded(gpu, data, rows, cols, label, true)
    }

    fn uploaded(
        gpu: &Gpu,
        data: &[f32],
        rows: u32,
        cols: u32,
        label: &str,
        half: bool,
    ) -> Result<Tensor> {
        if data.len() as u64 != u64::from(words(rows, cols)?) {
            return Err(invalid(
                "tensor data",
                format!(
                    "{label}: {} values for a {rows} x {cols} tensor",
                    data.len()
                ),
            ));
        }
        let buf = if half {
            let max = f32::from(half::f16::MAX);
            if let Some(i) = data.iter().position(|v| v.abs() > max) {
                return Err(invalid(
                    "f16 data",
                    format!(
                        "{label}: row {} column {} is {}, past f16's largest value {max}; \
                         store it as f32, or scale the column",
                        i / cols as usize,
                        i % cols as usize,
                        data[i]
                    ),
                ));
            }
            gpu.upload_f16(data, label)?
        } else {
            gpu.upload(data, label)?
        };
        Ok(Tensor {
            buf,
            offset: 0,
            rows,
            cols,
        })
    }

    /// True when the tensor is stored as f16.
    pub fn is_half(&self) -> bool {
        self.buf.is_half()
    }

    /// A view of `rows x cols` elements at `offset` of `buf`, checked against its length.
    pub fn view(buf: &GpuBuffer, offset: u32, rows: u32, cols: u32) -> Result<Tensor> {
        let end = u64::from(offset) + u64::from(words(rows, cols)?);
        if end > buf.elements() {
            return Err(invalid(
                "tensor view",
                format!("{rows} x {cols} at element {offset} passes the end of {buf:?}"),
            ));
        }
        Ok(Tensor {
            buf: buf.clone(),
            offset,
            rows,
            cols,
        })
    }

    pub fn rows(&self) -> u32 {
        self.rows
    }

    pub fn cols(&self) -> u32 {
        self.cols
    }

    pub fn len(&self) -> u32 {
        self.rows * self.cols
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn buffer(&self) -> &GpuBuffer {
        &self.buf
    }

    pub fn offset(&self) -> u32 {
        self.offset
    }

    /// Consecutive views of at most `chunk` rows each, with the index of their first row.
    pub fn row_chunks(&self, chunk: u32) -> Result<Vec<(u32, Tensor)>> {
        let chunk = chunk.max(1);
        (0..self.rows.div_ceil(chunk))
            .map(|c| {
                let r0 = c * chunk;
                let rows = chunk.min(self.rows - r0);
                Ok((
                    r0,
                    Tensor::view(&self.buf, self.offset + r0 * self.cols, rows, self.cols)?,
                ))
            })
            .collect()
    }

    pub(crate) fn key(&self) -> TensorKey {
        (self.buf.id(), self.offset, self.rows, self.cols)
    }

    /// Reads the tensor back (blocking: one submit, one host wait); f16 comes back widened.
    pub fn read(&self, gpu: &Gpu) -> Result<Vec<f32>> {
        if !self.is_half() {
            return gpu.read_f32(&self.buf, u64::from(self.offset), u64::from(self.len()));
        }
        let (first, n) = (u64::from(self.offset), u64::from(self.len()));
        let w0 = first / 2;
        let words = gpu.read_u32(&self.buf, w0, (first + n).div_ceil(2) - w0)?;
        Ok((first..first + n)
            .map(|i| {
                let w = words[(i / 2 - w0) as usize];
                let bits = if i % 2 == 0 { w & 0xffff } else { w >> 16 };
                half::f16::from_bits(bits as u16).to_f32()
            })
            .collect())
    }

    /// Overwrites the tensor's values (queued before the next submit).
    pub fn write(&self, gpu: &Gpu, data: &[f32]) -> Result<()> {
        if self.is_half() {
            return Err(invalid(
                "tensor write",
                "the tensor is stored as f16; upload it again instead",
            ));
        }
        if data.len() != self.len() as usize {
            return Err(invalid(
                "tensor write",
                format!(
                    "{} values into a {} x {} tensor",
                    data.len(),
                    self.rows,
                    self.cols
                ),
            ));
        }
        gpu.write(&self.buf, u64::from(self.offset), data)
    }
}
