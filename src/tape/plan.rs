//! Plans: a recorded list of (pipeline, bind group, workgroup count) whose bind groups and
//! uniform data are made once when the plan is built. Replaying a plan N times is N copies of
//! its dispatches in one compute pass and one submit, with no host write and no wait.
//!
//! A dispatch can be recorded as *deferred* ([`PlanBuilder::defer`]): one whose result only
//! matters if something reads it, such as a loss's value. It moves to just before the first
//! later dispatch that binds a buffer it writes, or writes a buffer it reads (conflicts are
//! judged per buffer, from each binding's reflected access). One that nothing later conflicts
//! with lands in the plan's *epilogue*, run once after all the replays of a run: the host,
//! reading its output after the run, sees what the last replay's would have written, and the
//! replays skip it. (One that writes a buffer an earlier dispatch of the replay binds stays at
//! the replay's end instead, since the next replay would read it.)

use std::sync::Arc;

use oddity_kernels::params::Params;
use oddity_kernels::{BindingKind, KernelId};

use crate::error::{Error, Result};
use crate::gpu::{Gpu, GpuBuffer, Kernel};

use super::work::{self, Serial};

/// One storage binding of a dispatch: (binding, access, buffer).
type Bound = (u32, BindingKind, GpuBuffer);

/// Two bindings that share a buffer one of them writes: within one dispatch an error, between
/// two an order that must be kept.
fn clash((_, ka, a): &Bound, (_, kb, b): &Bound) -> bool {
    a == b && (*ka == BindingKind::StorageReadWrite || *kb == BindingKind::StorageReadWrite)
}

struct Pending {
    kernel: Arc<Kernel>,
    buffers: Vec<Bound>,
    uniform: Option<(u64, u64)>,
    groups: [u32; 3],
    note: Option<String>,
    serial: Option<Serial>,
}

impl Pending {
    /// Whether running `self` after `other` (or before it) could change what either reads or
    /// leaves behind: they share a buffer that one of them writes.
    fn conflicts(&self, other: &Pending) -> bool {
        self.buffers
            .iter()
            .any(|a| other.buffers.iter().any(|b| clash(a, b)))
    }

    /// Whether `self` writes a buffer `other` binds.
    fn writes_into(&self, other: &Pending) -> bool {
        self.buffers.iter().any(|(_, k, b)| {
            *k == BindingKind::StorageReadWrite && other.buffers.iter().any(|(_, _, bo)| b == bo)
        })
    }
}

/// A deferred dispatch ([`PlanBuilder::defer`]), for [`PlanBuilder::cancel`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Deferred(u64);

/// Records dispatches; [`PlanBuilder::finish`] turns them into a [`Plan`].
pub struct PlanBuilder {
    gpu: Gpu,
    pending: Vec<Pending>,
    /// Deferred dispatches not yet placed, in the order they were recorded.
    deferred: Vec<(Deferred, Pending)>,
    next_deferred: u64,
    uniform: Vec<u8>,
}

impl PlanBuilder {
    pub fn new(gpu: &Gpu) -> PlanBuilder {
        PlanBuilder {
            gpu: gpu.clone(),
            pending: Vec::new(),
            deferred: Vec::new(),
            next_deferred: 0,
            uniform: Vec::new(),
        }
    }

    pub fn gpu(&self) -> &Gpu {
        &self.gpu
    }

    /// Dispatches placed in the replay so far (deferred ones not yet placed are not counted).
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// Deferred dispatches not yet placed (`finish` puts them in the epilogue, or at the end of
    /// the replay when the replay binds what they write).
    pub fn deferred(&self) -> usize {
        self.deferred.len()
    }

    /// Records one dispatch of `kernel`. `buffers` names a buffer for every storage binding
    /// the entry point uses (by its WGSL name) and no other; a buffer bound read-write may not
    /// be bound a second time. A buffer stored as f16 given for the binding the kernel's f16
    /// twin reads as f16 pairs selects that twin. Violations are errors here, never wgpu
    /// panics later.
    pub fn dispatch(
        &mut self,
        kernel: KernelId,
        params: Option<&dyn Params>,
        buffers: &[(&str, &GpuBuffer)],
        groups: [u32; 3],
    ) -> Result<()> {
        let p = self.prepare(kernel, params, buffers, groups)?;
        self.place_before(&p);
        self.pending.push(p);
        Ok(())
    }

    /// Records a dispatch as [`PlanBuilder::dispatch`] does, deferred (see the module
    /// documentation): it runs just before the first later dispatch that conflicts with it, or
    /// else once per run, after the replays.
    pub fn defer(
        &mut self,
        kernel: KernelId,
        params: Option<&dyn Params>,
        buffers: &[(&str, &GpuBuffer)],
        groups: [u32; 3],
    ) -> Result<Deferred> {
        // Deferred dispatches keep their recorded order among themselves, so one deferred
        // after another it depends on needs nothing placed here.
        let p = self.prepare(kernel, params, buffers, groups)?;
        let id = Deferred(self.next_deferred);
        self.next_deferred += 1;
        self.deferred.push((id, p));
        Ok(id)
    }

    /// Drops a deferred dispatch that has not been placed yet (a later dispatch writes what it
    /// would have); returns false, dropping nothing, when it was already placed.
    pub fn cancel(&mut self, id: Deferred) -> bool {
        let before = self.deferred.len();
        self.deferred.retain(|(d, _)| *d != id);
        self.deferred.len() < before
    }

    /// Places, in their order, the deferred dispatches up to the last that conflicts with `p`.
    fn place_before(&mut self, p: &Pending) {
        if let Some(last) = self.deferred.iter().rposition(|(_, d)| d.conflicts(p)) {
            let placed: Vec<_> = self.deferred.drain(..=last).collect();
            self.pending.extend(placed.into_iter().map(|(_, d)| d));
        }
    }

    fn prepare(
        &mut self,
        kernel: KernelId,
        params: Option<&dyn Params>,
        buffers: &[(&str, &GpuBuffer)],
        groups: [u32; 3],
    ) -> Result<Pending> {
        // The f16 twin when its f16 binding is given f16 data, its f16 bindings renamed to the
        // twin's name for it.
        let twin = kernel
            .f16
            .filter(|t| buffers.iter().any(|(n, b)| *n == t.binding && b.is_half()));
        let renamed: Vec<(&str, &GpuBuffer)>;
        let (kernel, buffers) = match twin {
            Some(t) => {
                // Every binding the twin reads as `NAME16` (the data's parts too) takes that
                // name.
                let twin_bindings = t
                    .kernel
                    .entry_point()
                    .map_or(&[][..], |(_, ep)| ep.bindings);
                renamed = buffers
                    .iter()
                    .map(|&(n, b)| {
                        let half = twin_bindings.iter().find(|tb| {
                            tb.name.strip_suffix("16") == Some(n)
                                && !twin_bindings.iter().any(|o| o.name == n)
                        });
                        (half.map_or(n, |tb| tb.name), b)
                    })
                    .collect();
                (t.kernel, &renamed[..])
            }
            None => (kernel, buffers),
        };
        let kernel = self.gpu.kernel(kernel)?;
        let err = |detail: String| Error::Kernel {
            kernel: kernel.name(),
            detail,
        };
        let mut bound = Vec::new();
        for b in kernel
            .entry
            .bindings
            .iter()
            .filter(|b| b.kind != BindingKind::Uniform)
        {
            let (_, buf) = buffers
                .iter()
                .find(|(n, _)| *n == b.name)
                .ok_or_else(|| err(format!("no buffer for binding {}", b.name)))?;
            // f16 data binds only where the kernel declares it (a name ending in 16).
            if buf.is_half() != b.name.ends_with("16") {
                return Err(err(if buf.is_half() {
                    format!(
                        "binding {} takes f32 words, and {buf:?} holds f16 data (this kernel \
                         cannot read a dataset stored as f16)",
                        b.name
                    )
                } else {
                    format!("binding {} takes f16 data, and {buf:?} holds f32", b.name)
                }));
            }
            bound.push((b.binding, b.kind, (*buf).clone()));
        }
        if let Some((n, _)) = buffers
            .iter()
            .find(|(n, _)| !kernel.entry.bindings.iter().any(|b| b.name == *n))
        {
            return Err(err(format!("{n} is not a binding this entry point uses")));
        }
        for (i, a) in bound.iter().enumerate() {
            if let Some(b) = bound[i + 1..].iter().find(|b| clash(a, b)) {
                return Err(err(format!(
                    "bindings {} and {} share {:?} and one of them writes it",
                    a.0, b.0, a.2
                )));
            }
        }
        let max = self.gpu.limits().max_compute_workgroups_per_dimension;
        if groups.iter().any(|&g| g > max) {
            return Err(Error::Limit {
                what: "workgroups per dimension",
                detail: format!("{} dispatches {groups:?}, limit {max}", kernel.name()),
            });
        }
        let uniform = match (kernel.uniform(), params) {
            (Some(_), Some(p)) => {
                let bytes = kernel.encode(p)?;
                let align = u64::from(
                    self.gpu
                        .limits()
                        .min_uniform_buffer_offset_alignment
                        .max(16),
                );
                let at = (self.uniform.len() as u64).div_ceil(align) * align;
                self.uniform.resize(at as usize, 0);
                self.uniform.extend_from_slice(&bytes);
                Some((at, bytes.len() as u64))
            }
            (None, None) => None,
            (Some(_), None) => return Err(err("parameters missing".into())),
            (None, Some(_)) => return Err(err("takes no parameters".into())),
        };
        Ok(Pending {
            serial: work::serial(kernel.entry.name, params),
            kernel,
            buffers: bound,
            uniform,
            groups,
            note: None,
        })
    }

    /// Attaches a note to the last dispatch placed (a GEMM's `MxNxK`), which profiles print
    /// after its kernel name and grid.
    pub fn note(&mut self, note: String) {
        if let Some(p) = self.pending.last_mut() {
            p.note = Some(note);
        }
    }

    /// Creates the uniform buffer and every bind group. Deferred dispatches still unplaced go
    /// to the epilogue, except one that writes a buffer the replay binds (the next replay
    /// would read it) and those deferred before it: they end the replay, in order.
    pub fn finish(mut self) -> Result<Plan> {
        while let Some(last) = self
            .deferred
            .iter()
            .rposition(|(_, d)| self.pending.iter().any(|b| d.writes_into(b)))
        {
            let placed: Vec<_> = self.deferred.drain(..=last).collect();
            self.pending.extend(placed.into_iter().map(|(_, d)| d));
        }
        let epilogue: Vec<Pending> = self.deferred.drain(..).map(|(_, d)| d).collect();
        let (dispatches, epilogue, uniform) = self.gpu.scoped(|| {
            let device = self.gpu.device();
            let uniform = (!self.uniform.is_empty()).then(|| {
                let buf = device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some("plan uniforms"),
                    size: self.uniform.len().div_ceil(16) as u64 * 16,
                    usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
                    mapped_at_creation: false,
                });
                self.gpu.queue().write_buffer(&buf, 0, &self.uniform);
                buf
            });
            let build = |p: &Pending| {
                let mut entries: Vec<wgpu::BindGroupEntry> = p
                    .buffers
                    .iter()
                    .map(|(b, _, buf)| wgpu::BindGroupEntry {
                        binding: *b,
                        resource: buf.raw().as_entire_binding(),
                    })
                    .collect();
                if let (Some(u), Some((offset, size)), Some(ub)) =
                    (p.kernel.uniform(), p.uniform, uniform.as_ref())
                {
                    entries.push(wgpu::BindGroupEntry {
                        binding: u.binding,
                        resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                            buffer: ub,
                            offset,
                            size: wgpu::BufferSize::new(size),
                        }),
                    });
                }
                let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
                    label: None,
                    layout: &p.kernel.layout,
                    entries: &entries,
                });
                Dispatch {
                    kernel: p.kernel.clone(),
                    bind_group,
                    groups: p.groups,
                    note: p.note.clone(),
                    serial: p.serial,
                }
            };
            let dispatches = self.pending.iter().map(build).collect();
            let epilogue = epilogue.iter().map(build).collect();
            Ok((dispatches, epilogue, uniform))
        })?;
        self.gpu.check()?;
        Ok(Plan {
            gpu: self.gpu.clone(),
            dispatches,
            epilogue,
            _uniform: uniform,
        })
    }
}

pub(super) struct Dispatch {
    kernel: Arc<Kernel>,
    bind_group: wgpu::BindGroup,
    groups: [u32; 3],
    note: Option<String>,
    serial: Option<Serial>,
}

/// One dispatch of a plan as [`Plan::report`] describes it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct DispatchReport {
    /// `shader::entry` (the f16 or subgroup variant where one runs).
    pub kernel: String,
    /// The GEMM's `MxNxK`, where it is one.
    pub note: Option<String>,
    pub groups: [u32; 3],
    pub workgroup_size: [u32; 3],
    /// Workgroups times their size.
    pub invocations: u64,
    /// The busiest invocation's in-order work ([`Serial`]); None for a kernel `work` does not
    /// know (none today: a test covers every entry point).
    pub serial: Option<Serial>,
    /// In the plan's epilogue: once per run, not per replay.
    pub once_per_run: bool,
}

impl Dispatch {
    fn report(&self, once_per_run: bool) -> DispatchReport {
        let size = self.kernel.entry.workgroup_size;
        let count = |v: [u32; 3]| v.iter().map(|&x| u64::from(x)).product::<u64>();
        DispatchReport {
            kernel: self.kernel.name(),
            note: self.note.clone(),
            groups: self.groups,
            workgroup_size: size,
            invocations: count(self.groups) * count(size),
            serial: self.serial,
            once_per_run,
        }
    }
}

impl Dispatch {
    /// "shader::entry [x, y, z]" and the note if any ("gemm::gemm [8, 8, 1] 256x256x784"), as
    /// profiles print it.
    pub(super) fn label(&self) -> String {
        match &self.note {
            Some(n) => format!("{} {:?} {n}", self.kernel.name(), self.groups),
            None => format!("{} {:?}", self.kernel.name(), self.groups),
        }
    }

    /// Encodes this dispatch `repeats` times into `pass` (not counted: callers count).
    pub(super) fn encode(&self, pass: &mut wgpu::ComputePass<'_>, repeats: u32) {
        for _ in 0..repeats {
            pass.set_pipeline(&self.kernel.pipeline);
            pass.set_bind_group(0, &self.bind_group, &[]);
            pass.dispatch_workgroups(self.groups[0], self.groups[1], self.groups[2]);
        }
    }
}

/// A recorded list of dispatches, ready to replay, and its epilogue (deferred dispatches run
/// once per run, after the replays).
pub struct Plan {
    pub(super) gpu: Gpu,
    pub(super) dispatches: Vec<Dispatch>,
    pub(super) epilogue: Vec<Dispatch>,
    _uniform: Option<wgpu::Buffer>,
}

impl Plan {
    /// Dispatches in one replay.
    pub fn dispatches(&self) -> usize {
        self.dispatches.len()
    }

    /// Dispatches in the epilogue: once per [`Plan::run`] that replays at least once.
    pub fn epilogue_dispatches(&self) -> usize {
        self.epilogue.len()
    }

    /// The kernels of one replay, in order (for reports and dispatch counting).
    pub fn kernel_names(&self) -> Vec<String> {
        self.dispatches.iter().map(|d| d.kernel.name()).collect()
    }

    /// The kernels of the epilogue, in order.
    pub fn epilogue_names(&self) -> Vec<String> {
        self.epilogue.iter().map(|d| d.kernel.name()).collect()
    }

    /// Every dispatch of one replay, then the epilogue's: its kernel, workgroups and serial
    /// length (`oddity bench --json`'s `plans`).
    pub fn report(&self) -> Vec<DispatchReport> {
        let body = self.dispatches.iter().map(|d| d.report(false));
        body.chain(self.epilogue.iter().map(|d| d.report(true)))
            .collect()
    }

    fn record(&self, pass: &mut wgpu::ComputePass<'_>, repeats: u32) {
        if repeats == 0 {
            return;
        }
        for _ in 0..repeats {
            for d in &self.dispatches {
                d.encode(pass, 1);
            }
        }
        for d in &self.epilogue {
            d.encode(pass, 1);
        }
        self.gpu.count_dispatches(
            self.dispatches.len() as u64 * u64::from(repeats) + self.epilogue.len() as u64,
        );
    }

    /// Replays the plan `repeats` times in one compute pass and one submit; does not wait.
    pub fn run(&self, repeats: u32) -> Result<()> {
        run_all(&self.gpu, &[(self, repeats)])
    }

    /// Records `repeats` replays (and the epilogue, once) into the caller's command encoder,
    /// in a compute pass of their own: the caller submits, in its own order with its own work
    /// (a frame of a renderer). Nothing is submitted or waited for; the plan's uniforms were
    /// queued when it was built, so any submit on the device's queue sees them.
    pub fn encode(&self, encoder: &mut wgpu::CommandEncoder, repeats: u32) {
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some("oddity plan"),
            timestamp_writes: None,
        });
        self.record(&mut pass, repeats);
    }

    /// Records `repeats` replays (and the epilogue, once) into the caller's compute pass, after
    /// whatever it holds: the caller's dispatches before and after see the plan's buffers in
    /// dispatch order. The pass's pipeline and bind group are left set to the plan's last.
    pub fn encode_pass(&self, pass: &mut wgpu::ComputePass<'_>, repeats: u32) {
        self.record(pass, repeats);
    }
}

/// Replays several plans in order, each its number of times, in one compute pass and one
/// submit; does not wait.
pub fn run_all(gpu: &Gpu, plans: &[(&Plan, u32)]) -> Result<()> {
    let mut enc = gpu
        .device()
        .create_command_encoder(&wgpu::CommandEncoderDescriptor {
            label: Some("oddity plan"),
        });
    {
        let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some("oddity plan"),
            timestamp_writes: None,
        });
        for (plan, n) in plans {
            plan.record(&mut pass, *n);
        }
    }
    gpu.submit(enc)?;
    gpu.check()
}
