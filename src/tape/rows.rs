//! A dataset on the GPU: its rows in one tensor, or, when one storage binding cannot hold
//! them, in up to [`MAX_PARTS`] tensors of consecutive rows (every part but the last of the
//! same number of rows). The row samplers read every part in one dispatch (they bind them
//! all); scoring walks the rows in chunks that never cross a part. Nothing else reads a
//! dataset whole.

use crate::error::{Error, Result, invalid};
use crate::gpu::Gpu;

use super::Tensor;

/// The most buffers one dataset is spread over (the samplers bind each).
pub const MAX_PARTS: usize = 4;

/// The rows of a dataset on the GPU; see the module documentation.
#[derive(Clone, Debug)]
pub struct DataRows {
    parts: Vec<Tensor>,
    rows: u32,
}

impl From<Tensor> for DataRows {
    fn from(t: Tensor) -> DataRows {
        DataRows {
            rows: t.rows(),
            parts: vec![t],
        }
    }
}

impl From<&Tensor> for DataRows {
    fn from(t: &Tensor) -> DataRows {
        t.clone().into()
    }
}

impl DataRows {
    /// `data` (row-major, `rows x cols`) uploaded, f16 when `half`: one tensor when one
    /// binding holds it, else parts of as many whole rows as one binding holds. More than
    /// [`MAX_PARTS`] parts, or more elements than a u32 counts, is refused with the sizes.
    pub fn upload(
        gpu: &Gpu,
        data: &[f32],
        rows: u32,
        cols: u32,
        label: &str,
        half: bool,
    ) -> Result<DataRows> {
        let binding = gpu.max_binding_bytes();
        let per_row = u64::from(cols.max(1)) * if half { 2 } else { 4 };
        // Whole rows per part; an f16 part holds an even number of elements (two a word).
        let mut part_rows = (binding / per_row).min(u64::from(rows.max(1)));
        if half && part_rows * u64::from(cols) % 2 == 1 && part_rows > 1 {
            part_rows -= 1;
        }
        let elements = u64::from(rows) * u64::from(cols);
        let parts = u64::from(rows).div_ceil(part_rows.max(1));
        if part_rows == 0 || parts > MAX_PARTS as u64 || elements > u64::from(u32::MAX) {
            return Err(Error::Limit {
                what: "dataset size",
                detail: format!(
                    "{label} ({rows} x {cols}, {} stored as {}) needs {} bytes; this adapter binds \
                     at most {binding} bytes per buffer and a dataset spreads over at most \
                     {MAX_PARTS} buffers of at most {} elements in all",
                    if half { "f16" } else { "f32" },
                    if half { "f16" } else { "f32" },
                    elements * if half { 2 } else { 4 },
                    u32::MAX
                ),
            });
        }
        if data.len() as u64 != elements {
            return Err(invalid(
                "tensor data",
                format!(
                    "{label}: {} values for a {rows} x {cols} tensor",
                    data.len()
                ),
            ));
        }
        let part_rows = part_rows as u32;
        let mut out = Vec::new();
        let width = cols as usize;
        for first in (0..rows.max(1)).step_by(part_rows as usize) {
            let n = part_rows.min(rows - first);
            let slice = &data[first as usize * width..(first + n) as usize * width];
            let name = match parts {
                1 => label.to_string(),
                _ => format!("{label} (rows {first}..{})", first + n),
            };
            out.push(if half {
                Tensor::from_slice_f16(gpu, slice, n, cols, &name)?
            } else {
                Tensor::from_slice(gpu, slice, n, cols, &name)?
            });
        }
        DataRows::from_parts(out)
    }

    /// Rows already on the GPU in `parts` (consecutive rows, in order): at most
    /// [`MAX_PARTS`], of one width and one precision, every part but the last of the same
    /// number of rows and the last of no more (for f16, of an even number of elements: each part's pairs start at its
    /// own word 0), each from word 0 of its own buffer.
    pub fn from_parts(parts: Vec<Tensor>) -> Result<DataRows> {
        let bad = |detail: String| invalid("data parts", detail);
        let Some(first) = parts.first() else {
            return Err(bad("no part".into()));
        };
        if parts.len() > MAX_PARTS {
            return Err(bad(format!("{} parts, at most {MAX_PARTS}", parts.len())));
        }
        let (cols, half, part_rows) = (first.cols(), first.is_half(), first.rows());
        for (i, p) in parts.iter().enumerate() {
            if p.cols() != cols || p.is_half() != half {
                return Err(bad(format!(
                    "part {i} is {} columns{}, part 0 {cols}{}",
                    p.cols(),
                    if p.is_half() { " f16" } else { "" },
                    if half { " f16" } else { "" }
                )));
            }
            if parts.len() > 1 && p.offset() != 0 {
                return Err(bad(format!(
                    "part {i} starts at element {}, not 0",
                    p.offset()
                )));
            }
            let last = i + 1 == parts.len();
            if (!last && p.rows() != part_rows) || (last && p.rows() > part_rows) {
                return Err(bad(format!(
                    "part {i} has {} rows, part 0 {part_rows} (only the last may differ, with \
                     fewer)",
                    p.rows()
                )));
            }
        }
        if half && parts.len() > 1 && part_rows * cols % 2 == 1 {
            return Err(bad(format!(
                "f16 parts of {part_rows} x {cols}: an odd number of elements"
            )));
        }
        let rows = parts
            .iter()
            .try_fold(0u32, |a, p| a.checked_add(p.rows()))
            .filter(|&r| u64::from(r) * u64::from(cols) <= u64::from(u32::MAX))
            .ok_or_else(|| bad("more elements than a u32 counts".into()))?;
        Ok(DataRows { parts, rows })
    }

    pub fn rows(&self) -> u32 {
        self.rows
    }

    pub fn cols(&self) -> u32 {
        self.parts[0].cols()
    }

    pub fn is_half(&self) -> bool {
        self.parts[0].is_half()
    }

    /// The tensors holding the rows, in order.
    pub fn parts(&self) -> &[Tensor] {
        &self.parts
    }

    /// Identity for caching what was recorded for this data: its first part's, and the rows.
    pub(crate) fn key(&self) -> super::TensorKey {
        let (buf, off, _, cols) = self.parts[0].key();
        (buf, off, self.rows, cols)
    }

    /// Rows in every part but the last.
    pub fn part_rows(&self) -> u32 {
        self.parts[0].rows()
    }

    /// The one tensor holding every row, or an error naming `op` for data in parts.
    pub fn whole(&self, op: &'static str) -> Result<&Tensor> {
        match &self.parts[..] {
            [t] => Ok(t),
            _ => Err(invalid(
                op,
                format!(
                    "the data is spread over {} buffers (more than one binding holds), and {op} \
                     reads it as one",
                    self.parts.len()
                ),
            )),
        }
    }

    /// The rows in chunks of at most `chunk` rows, none crossing a part: (first row, view).
    pub fn row_chunks(&self, chunk: u32) -> Result<Vec<(u32, Tensor)>> {
        let mut out = Vec::new();
        let mut first = 0;
        for p in &self.parts {
            for (r0, t) in p.row_chunks(chunk)? {
                out.push((first + r0, t));
            }
            first += p.rows();
        }
        Ok(out)
    }

    /// Reads every row back (blocking; f16 comes back widened).
    pub fn read(&self, gpu: &Gpu) -> Result<Vec<f32>> {
        let mut out = Vec::new();
        for p in &self.parts {
            out.extend(p.read(gpu)?);
        }
        Ok(out)
    }
}
