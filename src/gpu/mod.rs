//! The GPU runtime: one [`Gpu`] holds a device and queue (its own, or an application's), the
//! compute pipelines built from the reflected kernel table (each built once), buffer helpers,
//! blocking and async readback, and counters of dispatches, submits and host waits that tests
//! and benchmarks read.

pub mod adapter;
mod buffer;
mod cache;
pub mod gemm;
mod kernel;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

pub use adapter::AdapterSummary;
pub use buffer::{GpuBuffer, PendingRead};
pub use cache::{CacheStatus, GpuOptions};
pub use gemm::GemmPolicy;
pub use kernel::Kernel;
pub use oddity_kernels::KernelId;

use crate::error::{Error, Result};
use gemm::GemmKey;

/// Counts of what reached the device, for tests and benchmarks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    pub dispatches: u64,
    pub submits: u64,
    pub host_waits: u64,
}

impl std::ops::Sub for Counters {
    type Output = Counters;
    fn sub(self, o: Counters) -> Counters {
        Counters {
            dispatches: self.dispatches - o.dispatches,
            submits: self.submits - o.submits,
            host_waits: self.host_waits - o.host_waits,
        }
    }
}

#[derive(Default)]
struct AtomicCounters {
    dispatches: AtomicU64,
    submits: AtomicU64,
    host_waits: AtomicU64,
}

struct Inner {
    device: wgpu::Device,
    queue: wgpu::Queue,
    summary: AdapterSummary,
    limits: wgpu::Limits,
    kernels: Mutex<HashMap<KernelId, Arc<Kernel>>>,
    counters: AtomicCounters,
    errors: Arc<Mutex<Vec<String>>>,
    next_buffer_id: AtomicU64,
    dummy_read: Mutex<Option<GpuBuffer>>,
    dummy_write: Mutex<Option<GpuBuffer>>,
    pipeline_cache: Option<cache::PipelineCacheFile>,
    gemm: Mutex<GemmPolicy>,
    /// `GemmPolicy::Tuned`'s choices so far.
    gemm_tuned: Mutex<HashMap<GemmKey, GemmPolicy>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Best effort: a cache that cannot be written only costs the next run its compile time.
        if let Some(c) = &self.pipeline_cache {
            let _ = c.save();
        }
    }
}

/// A device and queue with oddity's kernels. Cloning is cheap and shares everything.
#[derive(Clone)]
pub struct Gpu {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Gpu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Gpu({} on {})",
            self.inner.summary.name, self.inner.summary.backend
        )
    }
}

impl Gpu {
    /// Opens a device on the adapter chosen by [`adapter::choose`] (environment variables
    /// `WGPU_BACKEND`, `WGPU_ADAPTER_NAME`, `WGPU_POWER_PREF`; a discrete GPU first), with the
    /// pipeline cache and GEMM policy [`GpuOptions::from_env`] names (`ODDITY_PIPELINE_CACHE`,
    /// `ODDITY_GEMM`).
    pub fn new() -> Result<Gpu> {
        Gpu::with_options(&GpuOptions::from_env()?)
    }

    /// [`Gpu::new`] with `options`.
    pub fn with_options(options: &GpuOptions) -> Result<Gpu> {
        // One thread at a time: the NVIDIA 580 Vulkan driver was seen to hang when a dozen
        // threads each created an instance and device at once (test binaries do exactly that).
        static CREATE: Mutex<()> = Mutex::new(());
        let _one_at_a_time = CREATE.lock().unwrap_or_else(|e| e.into_inner());
        let instance = adapter::instance();
        let adapter = adapter::choose(&instance)?;
        let info = adapter.get_info();
        let mut features = wgpu::Features::empty();
        for name in oddity_kernels::SHADER_FEATURES {
            let f = wgpu::Features::from_name(name)
                .ok_or_else(|| Error::Wgpu(format!("unknown feature {name}")))?;
            if !adapter.features().contains(f) {
                return Err(Error::RequestDevice {
                    adapter: info.name.clone(),
                    message: format!("the kernels need feature {name}, which this adapter lacks"),
                });
            }
            features |= f;
        }
        // Optional: GPU timestamps for per-kernel times (`Plan::gpu_times`), and subgroups for
        // the reducing kernels' `_sg` variants.
        features |= adapter.features() & wgpu::Features::TIMESTAMP_QUERY;
        if options.subgroups {
            features |= adapter.features() & wgpu::Features::SUBGROUP;
        }
        let cache_dir = options
            .pipeline_cache_dir
            .as_deref()
            .filter(|_| adapter.features().contains(wgpu::Features::PIPELINE_CACHE));
        if cache_dir.is_some() {
            features |= wgpu::Features::PIPELINE_CACHE;
        }
        let desc = wgpu::DeviceDescriptor {
            label: Some("oddity"),
            required_features: features,
            required_limits: adapter.limits(),
            ..Default::default()
        };
        let (device, queue) = pollster::block_on(adapter.request_device(&desc)).map_err(|e| {
            Error::RequestDevice {
                adapter: info.name.clone(),
                message: e.to_string(),
            }
        })?;
        let cache = cache_dir.and_then(|d| cache::PipelineCacheFile::open(&device, &info, d));
        let gpu = Gpu::build(&adapter, device, queue, cache);
        gpu.set_gemm_policy(options.gemm);
        let errors = gpu.inner.errors.clone();
        gpu.inner
            .device
            .on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
                if let Ok(mut v) = errors.lock() {
                    v.push(e.to_string());
                }
            }));
        Ok(gpu)
    }

    /// Borrows an application's adapter, device and queue (for embedding oddity in a renderer
    /// that already has them). The application keeps its own uncaptured-error handler: oddity
    /// checks shapes and limits itself before anything reaches the device, and wraps every
    /// call it makes on the device in wgpu error scopes ([`Gpu::scoped`]), so an error wgpu
    /// raises there comes back as an oddity error instead of reaching that handler.
    pub fn from_wgpu(adapter: &wgpu::Adapter, device: &wgpu::Device, queue: &wgpu::Queue) -> Gpu {
        Gpu::build(adapter, device.clone(), queue.clone(), None)
    }

    fn build(
        adapter: &wgpu::Adapter,
        device: wgpu::Device,
        queue: wgpu::Queue,
        pipeline_cache: Option<cache::PipelineCacheFile>,
    ) -> Gpu {
        let limits = device.limits();
        Gpu {
            inner: Arc::new(Inner {
                summary: AdapterSummary::of(adapter),
                device,
                queue,
                limits,
                kernels: Mutex::new(HashMap::new()),
                counters: AtomicCounters::default(),
                errors: Arc::new(Mutex::new(Vec::new())),
                next_buffer_id: AtomicU64::new(1),
                dummy_read: Mutex::new(None),
                dummy_write: Mutex::new(None),
                pipeline_cache,
                gemm: Mutex::new(GemmPolicy::default()),
                gemm_tuned: Mutex::new(HashMap::new()),
            }),
        }
    }

    pub fn device(&self) -> &wgpu::Device {
        &self.inner.device
    }

    pub fn queue(&self) -> &wgpu::Queue {
        &self.inner.queue
    }

    pub fn limits(&self) -> &wgpu::Limits {
        &self.inner.limits
    }

    /// The most bytes one storage buffer oddity binds may hold: the smaller of the adapter's
    /// binding and buffer limits.
    pub fn max_binding_bytes(&self) -> u64 {
        let l = &self.inner.limits;
        l.max_storage_buffer_binding_size.min(l.max_buffer_size)
    }

    /// The adapter's name, backend, type, features and limits.
    pub fn summary(&self) -> &AdapterSummary {
        &self.inner.summary
    }

    /// "name (backend)", as tests and benchmarks print it.
    pub fn adapter_name(&self) -> String {
        format!(
            "{} ({})",
            self.inner.summary.name, self.inner.summary.backend
        )
    }

    /// Which GEMM kernels plans recorded from now on use ([`GemmPolicy::Auto`] unless set).
    pub fn gemm_policy(&self) -> GemmPolicy {
        *self.inner.gemm.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sets the GEMM kernels for plans recorded from now on (plans already recorded keep theirs).
    pub fn set_gemm_policy(&self, policy: GemmPolicy) {
        *self.inner.gemm.lock().unwrap_or_else(|e| e.into_inner()) = policy;
    }

    /// Whether kernels with a subgroup variant (the reductions: `reduce`, `rowerr`, `bce`,
    /// `head`) run it: the device has `SUBGROUP` (requested unless
    /// [`GpuOptions::subgroups`] is false; an application's device as it was created).
    pub fn subgroups(&self) -> bool {
        self.inner
            .device
            .features()
            .contains(wgpu::Features::SUBGROUP)
    }

    /// The kernel [`GemmPolicy::Tuned`] chose for this kind of product, if it has met one.
    pub(crate) fn tuned_gemm(&self, key: &GemmKey) -> Option<GemmPolicy> {
        let table = self.inner.gemm_tuned.lock();
        table.unwrap_or_else(|e| e.into_inner()).get(key).copied()
    }

    pub(crate) fn set_tuned_gemm(&self, key: GemmKey, choice: GemmPolicy) {
        let mut table = self
            .inner
            .gemm_tuned
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        table.insert(key, choice);
    }

    /// Dispatches, submits and host waits so far.
    pub fn counters(&self) -> Counters {
        let c = &self.inner.counters;
        Counters {
            dispatches: c.dispatches.load(Ordering::Relaxed),
            submits: c.submits.load(Ordering::Relaxed),
            host_waits: c.host_waits.load(Ordering::Relaxed),
        }
    }

    pub(crate) fn count_dispatches(&self, n: u64) {
        self.inner
            .counters
            .dispatches
            .fetch_add(n, Ordering::Relaxed);
    }

    /// Finishes `encoder` and submits it, counted; an error either raises on the device comes
    /// back ([`Gpu::scoped`]).
    pub fn submit(&self, encoder: wgpu::CommandEncoder) -> Result<wgpu::SubmissionIndex> {
        self.inner.counters.submits.fetch_add(1, Ordering::Relaxed);
        self.scoped(|| Ok(self.inner.queue.submit(Some(encoder.finish()))))
    }

    /// Blocks until all submitted work is done (one host wait), then reports any error wgpu
    /// raised meanwhile.
    pub fn wait(&self) -> Result<()> {
        self.inner
            .counters
            .host_waits
            .fetch_add(1, Ordering::Relaxed);
        self.inner
            .device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| Error::Wgpu(e.to_string()))?;
        self.check()
    }

    /// Runs `f` with wgpu error scopes pushed on this thread (validation, out of memory,
    /// internal): an error wgpu raises on the device during `f` comes back as
    /// [`Error::Wgpu`], on oddity's own device and on an application's alike (whose
    /// uncaptured-error handler then never sees it). An error `f` itself returns comes first.
    pub fn scoped<T>(&self, f: impl FnOnce() -> Result<T>) -> Result<T> {
        let device = &self.inner.device;
        let scopes = [
            wgpu::ErrorFilter::Internal,
            wgpu::ErrorFilter::OutOfMemory,
            wgpu::ErrorFilter::Validation,
        ]
        .map(|filter| device.push_error_scope(filter));
        let out = f();
        // Innermost first, as scopes must be popped.
        let mut raised = Vec::new();
        for scope in scopes.into_iter().rev() {
            if let Some(e) = pollster::block_on(scope.pop()) {
                raised.push(e.to_string());
            }
        }
        match (out, raised.is_empty()) {
            (Ok(_), false) => Err(Error::Wgpu(raised.join("\n"))),
            (out, _) => out,
        }
    }

    /// Returns the first error wgpu reported on this device since the last check, if any
    /// (only for a device oddity opened itself; a borrowed device reports to its owner).
    pub fn check(&self) -> Result<()> {
        let mut errs = self
            .inner
            .errors
            .lock()
            .map_err(|_| Error::Wgpu("error log poisoned".into()))?;
        if errs.is_empty() {
            return Ok(());
        }
        let all = errs.join("\n");
        errs.clear();
        Err(Error::Wgpu(all))
    }

    /// The pipeline cache file and whether it was loaded; None without one (no directory, a
    /// backend or adapter without `PIPELINE_CACHE`, or an application's device).
    pub fn pipeline_cache(&self) -> Option<CacheStatus> {
        self.inner.pipeline_cache.as_ref().map(|c| c.status())
    }

    /// Writes the pipeline cache now if kernels were built since it was loaded or last saved
    /// (it is also written when the last clone of this `Gpu` drops). Returns whether it wrote.
    pub fn save_pipeline_cache(&self) -> Result<bool> {
        match &self.inner.pipeline_cache {
            Some(c) => c
                .save()
                .map_err(|e| Error::Wgpu(format!("writing the pipeline cache: {e}"))),
            None => Ok(false),
        }
    }

    pub(crate) fn pipeline_cache_handle(&self) -> Option<&wgpu::PipelineCache> {
        self.inner.pipeline_cache.as_ref().map(|c| &c.cache)
    }

    pub(crate) fn built_pipeline(&self) {
        if let Some(c) = &self.inner.pipeline_cache {
            c.built_pipeline();
        }
    }

    /// The compute pipeline of `kernel`, built on first use: from the shader's subgroup
    /// variant (`shader_sg`) where it has one and the device has subgroups.
    pub fn kernel(&self, kernel: KernelId) -> Result<Arc<Kernel>> {
        let mut cache = self
            .inner
            .kernels
            .lock()
            .map_err(|_| Error::Wgpu("kernel cache poisoned".into()))?;
        if let Some(k) = cache.get(&kernel) {
            return Ok(k.clone());
        }
        let variant = match oddity_kernels::subgroup_variant(kernel.shader) {
            Some(v) if self.subgroups() => v.name,
            _ => kernel.shader,
        };
        let k = Arc::new(Kernel::build(self, kernel, variant)?);
        cache.insert(kernel, k.clone());
        Ok(k)
    }

    /// Splits `groups` workgroups into an (x, y) grid within the per-dimension limit.
    pub fn grid_1d(&self, groups: u32) -> Result<[u32; 3]> {
        let max = self
            .inner
            .limits
            .max_compute_workgroups_per_dimension
            .max(1);
        let x = groups.clamp(1, max);
        let y = groups.div_ceil(x).max(1);
        if y > max {
            return Err(Error::Limit {
                what: "dispatch size",
                detail: format!("{groups} workgroups"),
            });
        }
        Ok([x, y, 1])
    }
}
