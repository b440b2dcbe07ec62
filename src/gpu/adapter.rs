//! Adapter choice: honours `WGPU_BACKEND`, `WGPU_ADAPTER_NAME` (a case-insensitive substring)
//! and `WGPU_POWER_PREF` (`high` or `low`), and otherwise prefers a discrete GPU, then an
//! integrated one, then anything else (a software adapter last).

use serde::Serialize;

use crate::error::{Error, Result};

/// What `oddity info` reports of one adapter.
#[derive(Clone, Debug, Serialize)]
pub struct AdapterSummary {
    pub name: String,
    pub backend: String,
    pub device_type: String,
    pub driver: String,
    pub driver_info: String,
    pub features: Vec<String>,
    /// Cooperative-matrix (tensor-core) configurations the adapter offers, as
    /// `MxNxK A/B-type -> C-type` (empty where it has none).
    pub cooperative_matrix: Vec<String>,
    /// The smallest and largest subgroup the adapter may run, where it has `SUBGROUP`.
    pub subgroup_sizes: Option<[u32; 2]>,
    pub limits: Limits,
}

/// The limits that matter to oddity's kernels.
#[derive(Clone, Debug, Serialize)]
pub struct Limits {
    pub max_storage_buffer_binding_size: u64,
    pub max_buffer_size: u64,
    pub max_compute_workgroups_per_dimension: u32,
    pub max_compute_invocations_per_workgroup: u32,
    pub max_compute_workgroup_storage_size: u32,
    pub max_storage_buffers_per_shader_stage: u32,
    pub min_uniform_buffer_offset_alignment: u32,
}

impl AdapterSummary {
    pub fn of(adapter: &wgpu::Adapter) -> Self {
        let info = adapter.get_info();
        let l = adapter.limits();
        let subgroup_sizes = adapter
            .features()
            .contains(wgpu::Features::SUBGROUP)
            .then_some([info.subgroup_min_size, info.subgroup_max_size]);
        let features = adapter
            .features()
            .iter_names()
            .map(|(n, _)| n.to_string())
            .collect();
        AdapterSummary {
            name: info.name,
            backend: format!("{:?}", info.backend),
            device_type: format!("{:?}", info.device_type),
            driver: info.driver,
            driver_info: info.driver_info,
            features,
            cooperative_matrix: adapter
                .cooperative_matrix_properties()
                .iter()
                .map(|c| {
                    format!(
                        "{}x{}x{} {:?} -> {:?}",
                        c.m_size, c.n_size, c.k_size, c.ab_type, c.cr_type
                    )
                })
                .collect(),
            subgroup_sizes,
            limits: Limits {
                max_storage_buffer_binding_size: l.max_storage_buffer_binding_size,
                max_buffer_size: l.max_buffer_size,
                max_compute_workgroups_per_dimension: l.max_compute_workgroups_per_dimension,
                max_compute_invocations_per_workgroup: l.max_compute_invocations_per_workgroup,
                max_compute_workgroup_storage_size: l.max_compute_workgroup_storage_size,
                max_storage_buffers_per_shader_stage: l.max_storage_buffers_per_shader_stage,
                min_uniform_buffer_offset_alignment: l.min_uniform_buffer_offset_alignment,
            },
        }
    }
}

/// The instance oddity uses: the backends `WGPU_BACKEND` names, or all of them.
pub fn instance() -> wgpu::Instance {
    wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env())
}

/// Every adapter the instance sees, with the backends `WGPU_BACKEND` allows.
pub fn enumerate(instance: &wgpu::Instance) -> Vec<wgpu::Adapter> {
    pollster::block_on(instance.enumerate_adapters(wgpu::Backends::all().with_env()))
}

fn rank(device_type: wgpu::DeviceType, low_power: bool) -> u8 {
    use wgpu::DeviceType::*;
    match (device_type, low_power) {
        (DiscreteGpu, false) | (IntegratedGpu, true) => 0,
        (IntegratedGpu, false) | (DiscreteGpu, true) => 1,
        (VirtualGpu, _) => 2,
        (Other, _) => 3,
        (Cpu, _) => 4,
    }
}

fn describe(adapters: &[wgpu::Adapter]) -> String {
    if adapters.is_empty() {
        return "none".into();
    }
    adapters
        .iter()
        .map(|a| {
            let i = a.get_info();
            format!("{} ({:?}, {:?})", i.name, i.backend, i.device_type)
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Picks an adapter as the module documentation says, or explains why none fits.
pub fn choose(instance: &wgpu::Instance) -> Result<wgpu::Adapter> {
    let adapters = enumerate(instance);
    let wanted = std::env::var("WGPU_ADAPTER_NAME")
        .ok()
        .filter(|s| !s.is_empty());
    let low_power = matches!(
        std::env::var("WGPU_POWER_PREF")
            .map(|s| s.to_lowercase())
            .as_deref(),
        Ok("low") | Ok("low-power") | Ok("lowpower")
    );
    let found = describe(&adapters);
    let mut candidates: Vec<&wgpu::Adapter> = adapters
        .iter()
        .filter(|a| {
            wanted
                .as_ref()
                .is_none_or(|w| a.get_info().name.to_lowercase().contains(&w.to_lowercase()))
        })
        .collect();
    if candidates.is_empty() {
        let reason = match &wanted {
            Some(w) => format!("no adapter's name contains WGPU_ADAPTER_NAME={w:?}"),
            None => "no GPU adapter found".to_string(),
        };
        return Err(Error::NoAdapter { reason, found });
    }
    candidates.sort_by_key(|a| rank(a.get_info().device_type, low_power));
    Ok(candidates[0].clone())
}
