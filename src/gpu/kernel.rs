//! Compute pipelines built from the reflected kernel table: the bind group layout comes from
//! the bindings naga found the entry point using, the uniform bytes from the reflected member
//! offsets, so nothing about a shader's interface is written twice.

use std::borrow::Cow;

use oddity_kernels::params::{Params, Value};
use oddity_kernels::{Binding, BindingKind, EntryPoint, KernelId, ScalarKind};

use super::Gpu;
use crate::error::{Error, Result};

/// One entry point's pipeline and layout.
pub struct Kernel {
    /// The kernel asked for.
    pub id: KernelId,
    /// The shader it was built from: `id.shader`, or its subgroup variant.
    pub shader: &'static str,
    pub entry: &'static EntryPoint,
    pub(crate) pipeline: wgpu::ComputePipeline,
    pub(crate) layout: wgpu::BindGroupLayout,
}

impl Kernel {
    /// Builds `id`'s entry point from `shader` (its own shader or that shader's variant).
    pub(crate) fn build(gpu: &Gpu, id: KernelId, shader: &'static str) -> Result<Kernel> {
        let entry = id.entry;
        let err = |detail: String| Error::Kernel {
            kernel: format!("{shader}::{entry}"),
            detail,
        };
        let (src, ep) = oddity_kernels::entry_point(shader, entry)
            .ok_or_else(|| err("no such shader entry point".into()))?;
        for need in src.needs {
            let present = wgpu::Features::from_name(need)
                .is_some_and(|f| gpu.device().features().contains(f));
            if !present {
                return Err(err(format!(
                    "needs the device feature {need}, which this device was not opened with"
                )));
            }
        }
        let entries: Vec<wgpu::BindGroupLayoutEntry> = ep
            .bindings
            .iter()
            .map(|b| {
                if b.group != 0 {
                    return Err(err(format!(
                        "binding {} is in group {}; kernels use group 0 only",
                        b.name, b.group
                    )));
                }
                let ty = match b.kind {
                    BindingKind::Uniform => wgpu::BufferBindingType::Uniform,
                    BindingKind::StorageRead => {
                        wgpu::BufferBindingType::Storage { read_only: true }
                    }
                    BindingKind::StorageReadWrite => {
                        wgpu::BufferBindingType::Storage { read_only: false }
                    }
                };
                Ok(wgpu::BindGroupLayoutEntry {
                    binding: b.binding,
                    visibility: wgpu::ShaderStages::COMPUTE,
                    ty: wgpu::BindingType::Buffer {
                        ty,
                        has_dynamic_offset: false,
                        min_binding_size: None,
                    },
                    count: None,
                })
            })
            .collect::<Result<_>>()?;
        let storage = ep
            .bindings
            .iter()
            .filter(|b| b.kind != BindingKind::Uniform)
            .count() as u32;
        if storage > gpu.limits().max_storage_buffers_per_shader_stage {
            return Err(Error::Limit {
                what: "storage buffers per stage",
                detail: format!(
                    "{shader}::{entry} binds {storage}, the adapter allows {}",
                    gpu.limits().max_storage_buffers_per_shader_stage
                ),
            });
        }
        let device = gpu.device();
        let label = format!("{shader}::{entry}");
        let (layout, pipeline) = gpu.scoped(|| {
            let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
                label: Some(&label),
                entries: &entries,
            });
            let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
                label: Some(&label),
                bind_group_layouts: &[Some(&layout)],
                immediate_size: 0,
            });
            let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some(shader),
                source: wgpu::ShaderSource::Wgsl(Cow::Borrowed(src.source)),
            });
            let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(&label),
                layout: Some(&pipeline_layout),
                module: &module,
                entry_point: Some(entry),
                // Every kernel writes its workgroup memory before reading it, so the zero fill that
                // wgpu would otherwise add (one invocation clearing the whole array) is skipped.
                compilation_options: wgpu::PipelineCompilationOptions {
                    zero_initialize_workgroup_memory: false,
                    ..Default::default()
                },
                cache: gpu.pipeline_cache_handle(),
            });
            Ok((layout, pipeline))
        })?;
        gpu.check()?;
        gpu.built_pipeline();
        Ok(Kernel {
            id,
            shader,
            entry: ep,
            pipeline,
            layout,
        })
    }

    pub fn name(&self) -> String {
        format!("{}::{}", self.shader, self.entry.name)
    }

    /// The uniform binding, if the entry point uses one.
    pub(crate) fn uniform(&self) -> Option<&'static Binding> {
        self.entry
            .bindings
            .iter()
            .find(|b| b.kind == BindingKind::Uniform)
    }

    /// The uniform bytes for `params`: every reflected member must be given exactly once.
    pub(crate) fn encode(&self, params: &dyn Params) -> Result<Vec<u8>> {
        let err = |detail: String| Error::Kernel {
            kernel: self.name(),
            detail,
        };
        let Some(u) = self.uniform() else {
            return Err(err("takes no parameters".into()));
        };
        let fields = params.fields();
        let mut bytes = vec![0u8; u.size as usize];
        for m in u.members {
            let (_, v) = fields
                .iter()
                .find(|(n, _)| *n == m.name)
                .ok_or_else(|| err(format!("parameter {} not given", m.name)))?;
            let word = match (m.kind, v) {
                (ScalarKind::U32, Value::U32(x)) => x.to_le_bytes(),
                (ScalarKind::I32, Value::U32(x)) => x.to_le_bytes(),
                (ScalarKind::F32, Value::F32(x)) => x.to_le_bytes(),
                (k, v) => {
                    return Err(err(format!(
                        "parameter {}: shader has {k:?}, given {v:?}",
                        m.name
                    )));
                }
            };
            let o = m.offset as usize;
            bytes[o..o + 4].copy_from_slice(&word);
        }
        if let Some((n, _)) = fields
            .iter()
            .find(|(n, _)| !u.members.iter().any(|m| m.name == *n))
        {
            return Err(err(format!("parameter {n} is not in the shader's uniform")));
        }
        Ok(bytes)
    }
}
