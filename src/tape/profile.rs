//! Timing a plan's dispatches one by one: GPU timestamps where the device has them, else the
//! host's clock around each dispatch alone. For finding the expensive kernels (`oddity bench
//! --profile`); the dispatches read and write their real buffers.

use super::plan::{Dispatch, Plan};
use crate::error::Result;

impl Plan {
    /// The replay's dispatches, then the epilogue's, each with its label (an epilogue's
    /// marked "(once per run)").
    fn labelled(&self) -> impl Iterator<Item = (&Dispatch, String)> {
        let body = self.dispatches.iter().map(|d| (d, d.label()));
        body.chain(
            self.epilogue
                .iter()
                .map(|d| (d, format!("{} (once per run)", d.label()))),
        )
    }

    /// Host-timed cost of each dispatch: each one alone, `repeats` times in one pass, then a
    /// wait; returns (kernel, microseconds per dispatch). For finding the expensive kernels on
    /// adapters without timestamp queries; the dispatches read and write their real buffers.
    pub fn profile(&self, repeats: u32) -> Result<Vec<(String, f64)>> {
        let mut out = Vec::with_capacity(self.dispatches.len());
        for (d, label) in self.labelled() {
            let t = std::time::Instant::now();
            let mut enc =
                self.gpu
                    .device()
                    .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                        label: Some("profile"),
                    });
            {
                let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                    label: Some("profile"),
                    timestamp_writes: None,
                });
                d.encode(&mut pass, repeats);
            }
            self.gpu.count_dispatches(u64::from(repeats));
            self.gpu.submit(enc)?;
            self.gpu.wait()?;
            out.push((
                label,
                t.elapsed().as_secs_f64() * 1e6 / f64::from(repeats.max(1)),
            ));
        }
        Ok(out)
    }

    /// Each dispatch's GPU time in microseconds, from timestamp queries: one compute pass per
    /// dispatch holding `repeats` launches of it, with timestamps written at the pass's
    /// beginning and end, in one submit and one readback. None when the device lacks
    /// `TIMESTAMP_QUERY` (then [`Plan::profile`] times on the host).
    pub fn gpu_times(&self, repeats: u32) -> Result<Option<Vec<(String, f64)>>> {
        let dev = self.gpu.device();
        if !dev.features().contains(wgpu::Features::TIMESTAMP_QUERY) {
            return Ok(None);
        }
        let repeats = repeats.max(1);
        let ns_per_tick = f64::from(self.gpu.queue().get_timestamp_period());
        let mut out = Vec::with_capacity(self.dispatches.len());
        let all: Vec<(&Dispatch, String)> = self.labelled().collect();
        // A query set holds at most QUERY_SET_MAX_QUERIES (4096) timestamps.
        for chunk in all.chunks(1024) {
            let n = 2 * chunk.len() as u32;
            let (set, resolved) = self.gpu.scoped(|| {
                let set = dev.create_query_set(&wgpu::QuerySetDescriptor {
                    label: Some("oddity timestamps"),
                    ty: wgpu::QueryType::Timestamp,
                    count: n,
                });
                let resolved = dev.create_buffer(&wgpu::BufferDescriptor {
                    label: Some("oddity timestamps"),
                    size: 8 * u64::from(n),
                    usage: wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
                    mapped_at_creation: false,
                });
                Ok((set, resolved))
            })?;
            // Two u32 words per timestamp, read back through the usual readback path.
            let words = self.gpu.buffer(2 * u64::from(n), "timestamps")?;
            let mut enc = dev.create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("gpu times"),
            });
            for (i, (d, _)) in chunk.iter().enumerate() {
                let i = i as u32;
                let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                    label: Some("timed"),
                    timestamp_writes: Some(wgpu::ComputePassTimestampWrites {
                        query_set: &set,
                        beginning_of_pass_write_index: Some(2 * i),
                        end_of_pass_write_index: Some(2 * i + 1),
                    }),
                });
                d.encode(&mut pass, repeats);
            }
            enc.resolve_query_set(&set, 0..n, &resolved, 0);
            enc.copy_buffer_to_buffer(&resolved, 0, words.raw(), 0, 8 * u64::from(n));
            self.gpu
                .count_dispatches(chunk.len() as u64 * u64::from(repeats));
            self.gpu.submit(enc)?;
            let ticks: Vec<u64> = self
                .gpu
                .read_u32(&words, 0, 2 * u64::from(n))?
                .chunks_exact(2)
                .map(|w| u64::from(w[0]) | (u64::from(w[1]) << 32))
                .collect();
            for (i, (_, label)) in chunk.iter().enumerate() {
                let ticks = ticks[2 * i + 1].saturating_sub(ticks[2 * i]);
                out.push((
                    label.clone(),
                    ticks as f64 * ns_per_tick / 1e3 / f64::from(repeats),
                ));
            }
        }
        Ok(Some(out))
    }

    /// Each dispatch's time in microseconds, and how it was taken: GPU timestamps where the
    /// device has them ([`Plan::gpu_times`]), else host-timed launches ([`Plan::profile`]).
    pub fn kernel_times(&self, repeats: u32) -> Result<(Vec<(String, f64)>, &'static str)> {
        Ok(match self.gpu_times(repeats)? {
            Some(t) => (t, "gpu timestamps"),
            None => (self.profile(repeats)?, "host"),
        })
    }
}
