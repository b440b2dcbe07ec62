//! Storage buffers (f32 or u32 words) and readback, blocking or async.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use super::Gpu;
use crate::error::{Error, Result};

struct BufferInner {
    buffer: wgpu::Buffer,
    words: u64,
    id: u64,
    half: bool,
}

/// A storage buffer of 32-bit words. Cloning shares it; `id` identifies it. A buffer made by
/// [`Gpu::upload_f16`] holds f16 values two per word and binds only where a kernel declares an
/// f16 binding (its name ends in `16`); every other buffer binds only elsewhere.
#[derive(Clone)]
pub struct GpuBuffer {
    inner: Arc<BufferInner>,
}

impl std::fmt::Debug for GpuBuffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "GpuBuffer(#{}, {} words{})",
            self.inner.id,
            self.inner.words,
            if self.inner.half { " of f16 pairs" } else { "" }
        )
    }
}

impl PartialEq for GpuBuffer {
    fn eq(&self, o: &Self) -> bool {
        self.inner.id == o.inner.id
    }
}

impl GpuBuffer {
    pub fn raw(&self) -> &wgpu::Buffer {
        &self.inner.buffer
    }

    /// Length in 32-bit words.
    pub fn words(&self) -> u64 {
        self.inner.words
    }

    pub fn id(&self) -> u64 {
        self.inner.id
    }

    /// True when the buffer holds f16 values, two per word.
    pub fn is_half(&self) -> bool {
        self.inner.half
    }

    /// Length in elements: words, or twice that for f16.
    pub fn elements(&self) -> u64 {
        self.inner.words * if self.inner.half { 2 } else { 1 }
    }
}

impl Gpu {
    /// A storage buffer of `words` 32-bit words (at least one), refused past the adapter's
    /// storage-binding limit.
    pub fn buffer(&self, words: u64, label: &str) -> Result<GpuBuffer> {
        self.new_buffer(words, label, false)
    }

    /// A storage buffer of `elements` f16 values (zero), packed two per word.
    pub(crate) fn buffer_f16(&self, elements: u64, label: &str) -> Result<GpuBuffer> {
        self.new_buffer(elements.div_ceil(2), label, true)
    }

    fn new_buffer(&self, words: u64, label: &str, half: bool) -> Result<GpuBuffer> {
        let words = words.max(1);
        let bytes = words * 4;
        let limit = self.max_binding_bytes();
        if bytes > limit {
            return Err(Error::Limit {
                what: "buffer size",
                detail: format!("{label} needs {bytes} bytes; the adapter binds at most {limit}"),
            });
        }
        let buffer = self.scoped(|| {
            Ok(self.device().create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size: bytes,
                usage: wgpu::BufferUsages::STORAGE
                    | wgpu::BufferUsages::COPY_SRC
                    | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            }))
        })?;
        let id = self.inner.next_buffer_id.fetch_add(1, Ordering::Relaxed);
        Ok(GpuBuffer {
            inner: Arc::new(BufferInner {
                buffer,
                words,
                id,
                half,
            }),
        })
    }

    /// An application's buffer as an oddity buffer, without a copy or a trip through the host
    /// (a tensor over it: [`crate::Tensor::view`]). It must belong to this device, have
    /// `STORAGE` usage and a whole number of 32-bit words within what the adapter binds;
    /// reading it back needs `COPY_SRC`, writing it from the host `COPY_DST`. The application
    /// keeps its handle: oddity's work and its own see the same memory, ordered by submission
    /// (or by dispatch order within one pass, [`crate::Plan::encode_pass`]).
    pub fn wrap_buffer(&self, buffer: wgpu::Buffer) -> Result<GpuBuffer> {
        let bytes = buffer.size();
        let what = |detail: String| {
            crate::error::invalid(
                "application buffer",
                format!(
                    "a buffer of {bytes} bytes with usage {:?}: {detail}",
                    buffer.usage()
                ),
            )
        };
        if !buffer.usage().contains(wgpu::BufferUsages::STORAGE) {
            return Err(what("oddity's kernels need STORAGE usage".into()));
        }
        let limit = self.max_binding_bytes();
        if bytes == 0 || !bytes.is_multiple_of(4) || bytes > limit {
            return Err(what(format!(
                "oddity takes whole 32-bit words, at most {limit} bytes on this adapter"
            )));
        }
        let id = self.inner.next_buffer_id.fetch_add(1, Ordering::Relaxed);
        Ok(GpuBuffer {
            inner: Arc::new(BufferInner {
                buffer,
                words: bytes / 4,
                id,
                half: false,
            }),
        })
    }

    /// A buffer holding `data` (f32 or u32 words).
    pub fn upload<T: bytemuck::Pod>(&self, data: &[T], label: &str) -> Result<GpuBuffer> {
        let bytes: &[u8] = bytemuck::cast_slice(data);
        let buf = self.buffer((bytes.len() as u64).div_ceil(4), label)?;
        self.write(&buf, 0, data)?;
        Ok(buf)
    }

    /// A buffer holding `data` rounded to f16 (to nearest, ties to even; past f16's range,
    /// infinite), packed two per word, element i in the low half of word i / 2 when i is even:
    /// half the bytes for kernels with an f16 binding to read. An odd count leaves the last
    /// high half zero.
    pub fn upload_f16(&self, data: &[f32], label: &str) -> Result<GpuBuffer> {
        let words: Vec<u32> = data
            .chunks(2)
            .map(|pair| {
                let lo = half::f16::from_f32(pair[0]).to_bits();
                let hi = pair.get(1).map_or(0, |&v| half::f16::from_f32(v).to_bits());
                u32::from(lo) | (u32::from(hi) << 16)
            })
            .collect();
        let buf = self.new_buffer(words.len() as u64, label, true)?;
        self.write(&buf, 0, &words)?;
        Ok(buf)
    }

    /// Writes `data` at word `offset` of `buf` (queued; ordered before the next submit).
    pub fn write<T: bytemuck::Pod>(&self, buf: &GpuBuffer, offset: u64, data: &[T]) -> Result<()> {
        let bytes: &[u8] = bytemuck::cast_slice(data);
        if !bytes.len().is_multiple_of(4) || offset * 4 + bytes.len() as u64 > buf.words() * 4 {
            return Err(crate::error::invalid(
                "write",
                format!("{} bytes at word {offset} into {buf:?}", bytes.len()),
            ));
        }
        if !buf.raw().usage().contains(wgpu::BufferUsages::COPY_DST) {
            return Err(crate::error::invalid(
                "write",
                format!("{buf:?} was made without COPY_DST usage"),
            ));
        }
        if !bytes.is_empty() {
            self.scoped(|| {
                self.queue().write_buffer(buf.raw(), offset * 4, bytes);
                Ok(())
            })?;
        }
        Ok(())
    }

    /// Starts copying `words` words at word `offset` of `buf` back to the host: one submit.
    /// Resolve it with [`PendingRead::wait`] (blocking) or `.await` it.
    pub fn read_async(&self, buf: &GpuBuffer, offset: u64, words: u64) -> Result<PendingRead> {
        self.read_many_async(&[(buf, offset, words)])
    }

    /// Starts copying several ranges, each (buffer, word offset, words), back to the host in
    /// one submit: one staging buffer, the ranges one after another, so that a single
    /// [`PendingRead::wait`] (one host wait) brings them all.
    pub fn read_many_async(&self, ranges: &[(&GpuBuffer, u64, u64)]) -> Result<PendingRead> {
        for &(buf, offset, words) in ranges {
            if offset + words > buf.words() {
                return Err(crate::error::invalid(
                    "read",
                    format!("{words} words at {offset} from {buf:?}"),
                ));
            }
            if !buf.raw().usage().contains(wgpu::BufferUsages::COPY_SRC) {
                return Err(crate::error::invalid(
                    "read",
                    format!("{buf:?} was made without COPY_SRC usage, so it cannot be read back"),
                ));
            }
        }
        let words: u64 = ranges.iter().map(|r| r.2).sum();
        let bytes = words.max(1) * 4;
        let staging = self.scoped(|| {
            Ok(self.device().create_buffer(&wgpu::BufferDescriptor {
                label: Some("oddity readback"),
                size: bytes,
                usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            }))
        })?;
        let mut enc = self
            .device()
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("readback"),
            });
        let mut at = 0;
        for &(buf, offset, words) in ranges {
            if words > 0 {
                enc.copy_buffer_to_buffer(buf.raw(), offset * 4, &staging, at * 4, words * 4);
            }
            at += words;
        }
        self.submit(enc)?;
        let slot: Arc<Mutex<Option<Result<(), String>>>> = Arc::new(Mutex::new(None));
        let s2 = slot.clone();
        self.scoped(|| {
            staging.slice(..).map_async(wgpu::MapMode::Read, move |r| {
                if let Ok(mut s) = s2.lock() {
                    *s = Some(r.map_err(|e| e.to_string()));
                }
            });
            Ok(())
        })?;
        Ok(PendingRead {
            gpu: self.clone(),
            staging,
            words,
            slot,
        })
    }

    /// Reads `words` f32 words at `offset` of `buf`, blocking (one submit, one host wait).
    pub fn read_f32(&self, buf: &GpuBuffer, offset: u64, words: u64) -> Result<Vec<f32>> {
        self.read_async(buf, offset, words)?.wait()
    }

    /// Reads u32 words, blocking.
    pub fn read_u32(&self, buf: &GpuBuffer, offset: u64, words: u64) -> Result<Vec<u32>> {
        let v = self.read_async(buf, offset, words)?.wait()?;
        Ok(v.into_iter().map(f32::to_bits).collect())
    }

    /// Shared placeholders for bindings an entry point declares but a launch leaves unused.
    pub(crate) fn dummy(&self, writable: bool) -> Result<GpuBuffer> {
        let slot = if writable {
            &self.inner.dummy_write
        } else {
            &self.inner.dummy_read
        };
        let mut g = slot
            .lock()
            .map_err(|_| Error::Wgpu("dummy buffer poisoned".into()))?;
        if let Some(b) = g.as_ref() {
            return Ok(b.clone());
        }
        let b = self.buffer(4, if writable { "unused (rw)" } else { "unused" })?;
        *g = Some(b.clone());
        Ok(b)
    }
}

/// A readback in flight. `wait()` blocks (counted as a host wait); awaiting it polls the device
/// without blocking on each wake-up, so it suits an async executor.
pub struct PendingRead {
    gpu: Gpu,
    staging: wgpu::Buffer,
    words: u64,
    slot: Arc<Mutex<Option<Result<(), String>>>>,
}

impl PendingRead {
    fn take(&self) -> Option<Result<Vec<f32>>> {
        let done = self.slot.lock().ok()?.take()?;
        Some(done.map_err(Error::Readback).and_then(|()| {
            let view = self
                .staging
                .slice(..)
                .get_mapped_range()
                .map_err(|e| Error::Readback(e.to_string()))?;
            let all: &[f32] = bytemuck::cast_slice(&view);
            let out = all[..self.words as usize].to_vec();
            drop(view);
            self.staging.unmap();
            self.gpu.check()?;
            Ok(out)
        }))
    }

    /// True once the data has arrived (polls the device without blocking).
    pub fn is_ready(&self) -> bool {
        let _ = self.gpu.device().poll(wgpu::PollType::Poll);
        self.slot.lock().map(|s| s.is_some()).unwrap_or(true)
    }

    /// Blocks until the data is here: one host wait. When several threads share the device,
    /// another thread's poll may be the one that runs this read's callback, a moment after our
    /// wait returns; so it keeps polling (without blocking) until the callback has run.
    pub fn wait(self) -> Result<Vec<f32>> {
        self.gpu.wait()?;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            if let Some(r) = self.take() {
                return r;
            }
            if std::time::Instant::now() > deadline {
                return Err(Error::Readback(
                    "the map callback did not run within 60 s".into(),
                ));
            }
            let _ = self.gpu.device().poll(wgpu::PollType::Poll);
            std::thread::yield_now();
        }
    }
}

impl Future for PendingRead {
    type Output = Result<Vec<f32>>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let _ = self.gpu.device().poll(wgpu::PollType::Poll);
        match self.take() {
            Some(r) => Poll::Ready(r),
            None => {
                cx.waker().wake_by_ref();
                Poll::Pending
            }
        }
    }
}
