//! `oddity info [--json]`: every adapter wgpu finds, with features and limits, and the one
//! oddity would choose.

use oddity::gpu::AdapterSummary;
use oddity::gpu::adapter;

#[derive(clap::Args)]
pub struct Args {
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: &Args) -> oddity::Result<()> {
    let instance = adapter::instance();
    let all: Vec<AdapterSummary> = adapter::enumerate(&instance)
        .iter()
        .map(AdapterSummary::of)
        .collect();
    let chosen = adapter::choose(&instance).map(|a| a.get_info().name);
    let options = oddity::gpu::GpuOptions::from_env()?;
    let cache = options.pipeline_cache_dir;
    if args.json {
        let obj = serde_json::json!({
            "adapters": all,
            "chosen": chosen.as_ref().ok(),
            "error": chosen.as_ref().err().map(|e| e.to_string()),
            "pipeline_cache_dir": cache,
            "gemm_policy": options.gemm,
            "subgroups": options.subgroups,
        });
        outln!("{obj}");
    } else {
        for a in &all {
            outln!(
                "{} ({}, {}; driver {} {})",
                a.name,
                a.backend,
                a.device_type,
                a.driver,
                a.driver_info
            );
            outln!("  features: {}", a.features.join(", "));
            if let Some([lo, hi]) = a.subgroup_sizes {
                outln!("  subgroups: {lo} to {hi} invocations");
            }
            if !a.cooperative_matrix.is_empty() {
                outln!("  cooperative matrix: {}", a.cooperative_matrix.join(", "));
            }
            let l = &a.limits;
            outln!(
                "  limits: storage binding {} B, buffer {} B, workgroups/dim {}, invocations/workgroup {}, workgroup memory {} B, storage buffers/stage {}",
                l.max_storage_buffer_binding_size,
                l.max_buffer_size,
                l.max_compute_workgroups_per_dimension,
                l.max_compute_invocations_per_workgroup,
                l.max_compute_workgroup_storage_size,
                l.max_storage_buffers_per_shader_stage
            );
        }
        match &chosen {
            Ok(name) => outln!("chosen: {name}"),
            Err(e) => outln!("chosen: none ({e})"),
        }
        match &cache {
            Some(d) => outln!(
                "pipeline cache: {} (where the adapter keeps one; ODDITY_PIPELINE_CACHE=off: none)",
                d.display()
            ),
            None => outln!("pipeline cache: none (ODDITY_PIPELINE_CACHE names a directory)"),
        }
        outln!(
            "GEMM policy: {} (ODDITY_GEMM: {})",
            options.gemm.name(),
            oddity::gpu::GemmPolicy::names()
        );
        outln!(
            "subgroups: {} (ODDITY_SUBGROUPS: on, off; on: the reductions' subgroup kernels where the adapter has SUBGROUP)",
            if options.subgroups { "on" } else { "off" }
        );
    }
    chosen.map(|_| ())
}
