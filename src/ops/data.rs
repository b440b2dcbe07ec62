//! Data movement on the GPU: a random minibatch (with optional Gaussian noise) drawn from the
//! uploaded dataset by the counter-based RNG, rows gathered by index, and additive noise.
//! Draws depend on (seed, step counter), so a replayed plan sees new rows every step.

use oddity_kernels::kernels as k;
use oddity_kernels::params::{
    AxpyParams, CopyColsParams, GatherParams, LabelledParams, NONE, NoiseParams,
};

use super::groups_1d;
use crate::error::{Result, invalid};
use crate::gpu::{GpuBuffer, KernelId};
use crate::tape::{Backward, BackwardCtx, DataRows, Grad, Tape, Tensor};

/// A minibatch drawn by [`Tape::sample_rows`].
pub struct Sample {
    pub clean: Tensor,
    /// `clean` plus noise, when noise was asked for.
    pub noisy: Option<Tensor>,
    /// The drawn rows' classes (one u32 each), when classes were given.
    pub class: Option<GpuBuffer>,
}

/// The class buffer to read (or a placeholder) and a fresh one for `rows` drawn classes.
fn class_buffers(
    gpu: &crate::Gpu,
    data: &DataRows,
    classes: Option<&GpuBuffer>,
    rows: u32,
) -> Result<(GpuBuffer, GpuBuffer)> {
    match classes {
        Some(c) => {
            if c.words() < u64::from(data.rows()) {
                return Err(invalid(
                    "classes",
                    format!("{} classes for {} data rows", c.words(), data.rows()),
                ));
            }
            Ok((c.clone(), gpu.buffer(u64::from(rows), "drawn classes")?))
        }
        // The unused class output gets a word of its own: the shared writable placeholder may
        // already stand in for the unused noisy copy, and one dispatch cannot bind it twice.
        None => Ok((gpu.dummy(false)?, gpu.buffer(1, "no classes")?)),
    }
}

/// Where [`Tape::sample_labelled`] draws from: the label buffer (word 0: count; then `cap` row
/// indices; then `cap` labels 0/1) and, optionally, every data row's class.
#[derive(Clone, Copy)]
pub struct LabelSource<'a> {
    pub lab: &'a GpuBuffer,
    pub cap: u32,
    pub classes: Option<&'a GpuBuffer>,
}

/// What [`Tape::sample_labelled`] draws: `batch` random rows then `rows` labelled ones, in
/// one tensor; the labelled rows' targets and a mask that is 1 for every one of them once at
/// least one label exists (0 before); the label count.
pub struct LabelledSample {
    /// `(batch + rows) x cols`: the random rows first.
    pub clean: Tensor,
    pub noisy: Option<Tensor>,
    /// `rows x 1` each, views of one buffer, as is `count` (1x1, as f32).
    pub y: Tensor,
    pub mask: Tensor,
    pub count: Tensor,
    /// Every drawn row's class, when classes were given.
    pub class: Option<GpuBuffer>,
}

struct ConcatBackward {
    parts: Vec<(Tensor, bool, u32)>,
    out: Tensor,
}

impl Backward for ConcatBackward {
    fn output(&self) -> &Tensor {
        &self.out
    }

    fn backward(&self, ctx: &mut BackwardCtx<'_>, grad: Grad) -> Result<()> {
        let g = ctx.materialize(grad, &self.out)?;
        for (t, flows, col) in &self.parts {
            if !flows {
                continue;
            }
            let Some((dst, acc)) = ctx.dest(t)? else {
                continue;
            };
            let p = CopyColsParams {
                rows: t.rows(),
                width: t.cols(),
                x_off: g.offset() + col,
                x_ld: self.out.cols(),
                o_off: dst.offset(),
                o_ld: t.cols(),
                accumulate: u32::from(acc),
            };
            let groups = groups_1d(&ctx.gpu(), t.len())?;
            ctx.plan.dispatch(
                k::step::COPY_COLS,
                Some(&p),
                &[("x", g.buffer()), ("out", dst.buffer())],
                groups,
            )?;
        }
        Ok(())
    }
}

struct NoiseBackward {
    x: Tensor,
    out: Tensor,
}

impl Backward for NoiseBackward {
    fn output(&self) -> &Tensor {
        &self.out
    }

    fn backward(&self, ctx: &mut BackwardCtx<'_>, grad: Grad) -> Result<()> {
        ctx.pass_through(&self.x, grad)
    }
}

fn check_rows(op: &'static str, data: &DataRows, rows: u32) -> Result<()> {
    if data.rows() == 0 {
        return Err(invalid(op, "the dataset has no rows"));
    }
    if rows == 0 {
        return Err(invalid(op, "zero rows requested"));
    }
    Ok(())
}

/// The names `gather_parts.wgsl` binds a dataset's parts under.
const PART_BINDINGS: [&str; 4] = ["data", "data_b", "data_c", "data_d"];

/// How a sampler reads `data`: the kernel (`gather.wgsl`'s for one buffer, else
/// `gather_parts.wgsl`'s, which binds four: a part the data lacks binds its first part again,
/// never read), the data bindings, `data_off` and `part_len` (NONE for one buffer).
struct DataBinding {
    parts: Vec<(&'static str, GpuBuffer)>,
    data_off: u32,
    part_len: u32,
    split: bool,
}

impl DataBinding {
    fn of(data: &DataRows) -> DataBinding {
        match data.parts() {
            [one] => DataBinding {
                parts: vec![("data", one.buffer().clone())],
                data_off: one.offset(),
                part_len: NONE,
                split: false,
            },
            parts => DataBinding {
                parts: PART_BINDINGS
                    .iter()
                    .enumerate()
                    .map(|(i, &name)| (name, parts.get(i).unwrap_or(&parts[0]).buffer().clone()))
                    .collect(),
                data_off: 0,
                part_len: data.part_rows() * data.cols(),
                split: true,
            },
        }
    }

    /// `single` for data in one buffer, else `split` (the same entry point of
    /// `gather_parts.wgsl`).
    fn kernel(&self, single: KernelId, split: KernelId) -> KernelId {
        if self.split { split } else { single }
    }
}

/// The data's bindings followed by `rest`, as a dispatch takes them.
fn with_parts<'a>(
    parts: &'a [(&'static str, GpuBuffer)],
    rest: &[(&'static str, &'a GpuBuffer)],
) -> Vec<(&'static str, &'a GpuBuffer)> {
    parts
        .iter()
        .map(|(n, b)| (*n, b))
        .chain(rest.iter().copied())
        .collect()
}

fn check_noise(noise_std: f32) -> Result<()> {
    if !(noise_std >= 0.0 && noise_std.is_finite()) {
        return Err(invalid(
            "noise std",
            format!("{noise_std} (must be finite and >= 0)"),
        ));
    }
    Ok(())
}

impl Tape {
    /// `batch` rows drawn uniformly with replacement from `data` on the GPU, and a noisy copy
    /// (`+ noise_std * N(0, 1)`) when `noise_std > 0`. New rows every step of a replayed plan.
    pub fn sample_rows(
        &mut self,
        data: &DataRows,
        batch: u32,
        noise_std: f32,
        seed: u32,
    ) -> Result<Sample> {
        self.sample_rows_with(data, None, batch, noise_std, seed)
    }

    /// [`Tape::sample_rows`], also gathering the drawn rows' classes from `classes` (one u32
    /// per data row) into [`Sample::class`].
    pub fn sample_rows_with(
        &mut self,
        data: &DataRows,
        classes: Option<&GpuBuffer>,
        batch: u32,
        noise_std: f32,
        seed: u32,
    ) -> Result<Sample> {
        check_rows("sample_rows", data, batch)?;
        check_noise(noise_std)?;
        let gpu = self.gpu().clone();
        let clean = Tensor::new(&gpu, batch, data.cols(), "batch")?;
        let noisy = if noise_std > 0.0 {
            Some(Tensor::new(&gpu, batch, data.cols(), "noisy batch")?)
        } else {
            None
        };
        let noisy_buf = noisy
            .as_ref()
            .map(|t| t.buffer().clone())
            .unwrap_or(gpu.dummy(true)?);
        let db = DataBinding::of(data);
        let p = GatherParams {
            rows: batch,
            cols: data.cols(),
            n_data: data.rows(),
            data_off: db.data_off,
            part_len: db.part_len,
            out_off: clean.offset(),
            noisy_off: noisy.as_ref().map_or(NONE, |t| t.offset()),
            idx_off: 0,
            seed,
            noise_std,
            cls_off: if classes.is_some() { 0 } else { NONE },
            cls_out_off: 0,
        };
        let (cls, cls_out) = class_buffers(&gpu, data, classes, batch)?;
        let state = self.state.buffer().clone();
        self.plan.dispatch(
            db.kernel(k::gather::SAMPLE_ROWS, k::gather_parts::SAMPLE_ROWS),
            Some(&p),
            &with_parts(
                &db.parts,
                &[
                    ("state", &state),
                    ("out", clean.buffer()),
                    ("noisy", &noisy_buf),
                    ("cls", &cls),
                    ("cls_out", &cls_out),
                ],
            ),
            groups_1d(&gpu, clean.len())?,
        )?;
        Ok(Sample {
            clean,
            noisy,
            class: classes.map(|_| cls_out),
        })
    }

    /// Rows `idx[idx_offset .. idx_offset + rows]` of `data` (u32 indices in `idx`); an index
    /// past the data gives a row of NaN.
    pub fn gather_rows(
        &mut self,
        data: &DataRows,
        idx: &GpuBuffer,
        idx_offset: u32,
        rows: u32,
    ) -> Result<Tensor> {
        check_rows("gather_rows", data, rows)?;
        if u64::from(idx_offset) + u64::from(rows) > idx.words() {
            return Err(invalid(
                "gather_rows",
                format!(
                    "{rows} indices at {idx_offset} pass the end of the index buffer ({} words)",
                    idx.words()
                ),
            ));
        }
        let gpu = self.gpu().clone();
        let out = Tensor::new(&gpu, rows, data.cols(), "gathered")?;
        let db = DataBinding::of(data);
        let p = GatherParams {
            rows,
            cols: data.cols(),
            n_data: data.rows(),
            data_off: db.data_off,
            part_len: db.part_len,
            out_off: out.offset(),
            noisy_off: NONE,
            idx_off: idx_offset,
            seed: 0,
            noise_std: 0.0,
            cls_off: NONE,
            cls_out_off: 0,
        };
        self.plan.dispatch(
            db.kernel(k::gather::GATHER_ROWS, k::gather_parts::GATHER_ROWS),
            Some(&p),
            &with_parts(&db.parts, &[("idx", idx), ("out", out.buffer())]),
            groups_1d(&gpu, out.len())?,
        )?;
        Ok(out)
    }

    /// Every row of `dst` (`rows x w`) set to `src` (`1 x w`): one dispatch of `copy_cols`
    /// with a source stride of 0. No gradient flows (a constant, such as a fixed centre).
    pub fn broadcast_row(&mut self, src: &Tensor, dst: &Tensor) -> Result<()> {
        if src.rows() != 1 || src.cols() != dst.cols() {
            return Err(invalid(
                "broadcast_row",
                format!(
                    "a {}x{} row for {}x{} rows",
                    src.rows(),
                    src.cols(),
                    dst.rows(),
                    dst.cols()
                ),
            ));
        }
        let p = CopyColsParams {
            rows: dst.rows(),
            width: dst.cols(),
            x_off: src.offset(),
            x_ld: 0,
            o_off: dst.offset(),
            o_ld: dst.cols(),
            accumulate: 0,
        };
        let groups = groups_1d(&self.gpu().clone(), dst.len())?;
        self.plan.dispatch(
            k::step::COPY_COLS,
            Some(&p),
            &[("x", src.buffer()), ("out", dst.buffer())],
            groups,
        )
    }

    /// `x + sigma * N(0, 1)`, the noise drawn from (seed, step counter, tag); the gradient
    /// passes to `x` unchanged.
    pub fn gauss_noise(&mut self, x: &Tensor, sigma: f32, seed: u32, tag: u32) -> Result<Tensor> {
        if !sigma.is_finite() {
            return Err(invalid("noise std", format!("{sigma}")));
        }
        let gpu = self.gpu().clone();
        let out = Tensor::new(&gpu, x.rows(), x.cols(), "noisy")?;
        let p = NoiseParams {
            n: x.len(),
            x_off: x.offset(),
            out_off: out.offset(),
            seed,
            tag,
            sigma,
        };
        let state = self.state.buffer().clone();
        self.plan.dispatch(
            k::noise::GAUSS_NOISE,
            Some(&p),
            &[("x", x.buffer()), ("state", &state), ("out", out.buffer())],
            groups_1d(&gpu, x.len())?,
        )?;
        self.push(
            &[x],
            Box::new(NoiseBackward {
                x: x.clone(),
                out: out.clone(),
            }),
        );
        Ok(out)
    }

    /// Copies `src` into `dst` (same shape, e.g. a view of a larger buffer); records no
    /// backward rule.
    pub fn copy(&mut self, src: &Tensor, dst: &Tensor) -> Result<()> {
        self.scaled_into(src, dst, 1.0, false)
    }

    /// Adds `src` into `dst` (same shape); records no backward rule.
    pub fn add_into(&mut self, src: &Tensor, dst: &Tensor) -> Result<()> {
        self.scaled_into(src, dst, 1.0, true)
    }

    /// `dst (+)= a src` (same shape; added when `accumulate`); records no backward rule (a
    /// score's weighted terms; [`Tape::copy`] and [`Tape::add_into`] at a = 1).
    pub fn scaled_into(
        &mut self,
        src: &Tensor,
        dst: &Tensor,
        a: f32,
        accumulate: bool,
    ) -> Result<()> {
        if (src.rows(), src.cols()) != (dst.rows(), dst.cols()) {
            return Err(crate::error::shape(
                if accumulate { "add_into" } else { "copy" },
                format!(
                    "{}x{} into {}x{}",
                    src.rows(),
                    src.cols(),
                    dst.rows(),
                    dst.cols()
                ),
            ));
        }
        let gpu = self.gpu().clone();
        let p = AxpyParams {
            n: src.len(),
            x_off: src.offset(),
            out_off: dst.offset(),
            a,
            accumulate: u32::from(accumulate),
        };
        self.plan.dispatch(
            k::step::AXPY,
            Some(&p),
            &[("x", src.buffer()), ("out", dst.buffer())],
            groups_1d(&gpu, src.len())?,
        )
    }

    /// The columns of `parts` side by side (same row count). A part given with `false` is
    /// detached: no gradient flows back into it.
    pub fn concat_cols(&mut self, parts: &[(&Tensor, bool)]) -> Result<Tensor> {
        let rows = parts
            .first()
            .map(|(t, _)| t.rows())
            .ok_or_else(|| invalid("concat_cols", "no parts"))?;
        if let Some((t, _)) = parts.iter().find(|(t, _)| t.rows() != rows) {
            return Err(crate::error::shape(
                "concat_cols",
                format!("parts have {rows} and {} rows", t.rows()),
            ));
        }
        let width: u32 = parts.iter().map(|(t, _)| t.cols()).sum();
        let gpu = self.gpu().clone();
        let out = Tensor::new(&gpu, rows, width, "concat")?;
        let mut col = 0;
        let mut recorded = Vec::new();
        for (t, flows) in parts {
            let p = CopyColsParams {
                rows,
                width: t.cols(),
                x_off: t.offset(),
                x_ld: t.cols(),
                o_off: out.offset() + col,
                o_ld: width,
                accumulate: 0,
            };
            self.plan.dispatch(
                k::step::COPY_COLS,
                Some(&p),
                &[("x", t.buffer()), ("out", out.buffer())],
                groups_1d(&gpu, t.len())?,
            )?;
            recorded.push(((*t).clone(), *flows, col));
            col += t.cols();
        }
        let flowing: Vec<&Tensor> = parts.iter().filter(|(_, f)| *f).map(|(t, _)| *t).collect();
        self.push(
            &flowing,
            Box::new(ConcatBackward {
                parts: recorded,
                out: out.clone(),
            }),
        );
        Ok(out)
    }

    /// `batch` rows drawn like [`Tape::sample_rows`] (the same rows and noise) followed by
    /// `rows` rows drawn on the GPU from the labelled set in `source`, in one tensor, so one
    /// forward pass serves both. The set may grow between replays: the count is read on the
    /// GPU every step.
    pub fn sample_labelled(
        &mut self,
        data: &DataRows,
        source: LabelSource<'_>,
        batch: u32,
        rows: u32,
        noise_std: f32,
        seed: u32,
    ) -> Result<LabelledSample> {
        let LabelSource { lab, cap, classes } = source;
        check_rows("sample_labelled", data, rows)?;
        check_noise(noise_std)?;
        if lab.words() < 1 + 2 * u64::from(cap) {
            return Err(invalid(
                "sample_labelled",
                format!(
                    "the label buffer has {} words, {} needed",
                    lab.words(),
                    1 + 2 * u64::from(cap)
                ),
            ));
        }
        let total = batch
            .checked_add(rows)
            .ok_or_else(|| invalid("sample_labelled", "too many rows"))?;
        let gpu = self.gpu().clone();
        let clean = Tensor::new(&gpu, total, data.cols(), "labelled batch")?;
        let noisy = if noise_std > 0.0 {
            Some(Tensor::new(
                &gpu,
                total,
                data.cols(),
                "noisy labelled batch",
            )?)
        } else {
            None
        };
        let noisy_buf = noisy
            .as_ref()
            .map(|t| t.buffer().clone())
            .unwrap_or(gpu.dummy(true)?);
        let ym = gpu.buffer(2 * u64::from(rows) + 1, "labels, mask and count")?;
        let db = DataBinding::of(data);
        let p = LabelledParams {
            batch,
            n_data: data.rows(),
            rows,
            cols: data.cols(),
            cap,
            data_off: db.data_off,
            part_len: db.part_len,
            out_off: clean.offset(),
            noisy_off: noisy.as_ref().map_or(NONE, |t| t.offset()),
            y_off: 0,
            m_off: rows,
            c_off: 2 * rows,
            seed,
            noise_std,
            cls_off: if classes.is_some() { 0 } else { NONE },
            cls_out_off: 0,
        };
        let (cls, cls_out) = class_buffers(&gpu, data, classes, total)?;
        let state = self.state.buffer().clone();
        self.plan.dispatch(
            db.kernel(k::gather::SAMPLE_LABELLED, k::gather_parts::SAMPLE_LABELLED),
            Some(&p),
            &with_parts(
                &db.parts,
                &[
                    ("state", &state),
                    ("out", clean.buffer()),
                    ("noisy", &noisy_buf),
                    ("lab", lab),
                    ("ym", &ym),
                    ("cls", &cls),
                    ("cls_out", &cls_out),
                ],
            ),
            groups_1d(&gpu, clean.len())?,
        )?;
        Ok(LabelledSample {
            clean,
            noisy,
            y: Tensor::view(&ym, 0, rows, 1)?,
            mask: Tensor::view(&ym, rows, rows, 1)?,
            count: Tensor::view(&ym, 2 * rows, 1, 1)?,
            class: classes.map(|_| cls_out),
        })
    }
}
