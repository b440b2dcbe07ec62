//! An application that owns its wgpu device and runs oddity inside its own frame, headless:
//!
//! 1. its own compute pass writes feature rows into its own buffer (points on a closed curve,
//!    with one row in fifty scattered off it: the anomalies, flagged in a second buffer);
//! 2. oddity borrows the device, takes that buffer as a tensor without a trip through the host,
//!    and records a denoising autoencoder's training steps and a scoring pass into the
//!    application's command encoder, after the application's pass;
//! 3. the application copies the scores and its flags into its own readback buffers, submits
//!    the frame once, and ranks the rows.
//!
//! Errors wgpu raises on the borrowed device during oddity's calls come back as oddity errors
//! (wgpu error scopes), so the application's uncaptured-error handler never sees them.
//!
//! Run: `cargo run --release --example embed`

use oddity::models::{Autoencoder, AutoencoderConfig};
use oddity::tape::DataRows;
use oddity::{Gpu, Tensor};

/// Rows, features, and one anomaly every `EVERY` rows.
const ROWS: u32 = 2000;
const DIMS: u32 = 16;
const EVERY: u32 = 50;
/// Training steps recorded into the frame.
const STEPS: u32 = 1500;

/// The application's own kernel: row i is a point on a closed curve in DIMS dimensions
/// (x_j = 0.5 + 0.35 sin(t + j), t = 2 pi i / ROWS) with a little noise, or, every EVERY rows,
/// uniform noise in [0, 1] (flagged 1).
const GENERATE: &str = r#"
@group(0) @binding(0) var<storage, read_write> rows: array<f32>;
@group(0) @binding(1) var<storage, read_write> flags: array<u32>;

fn hash(v: u32) -> u32 {
    var x = v;
    x ^= x >> 16u;
    x *= 0x7feb352du;
    x ^= x >> 15u;
    x *= 0x846ca68bu;
    x ^= x >> 16u;
    return x;
}

fn unit(v: u32) -> f32 {
    return f32(hash(v) >> 8u) / 16777216.0;
}

@compute @workgroup_size(64)
fn generate(@builtin(global_invocation_id) id: vec3<u32>) {
    let i = id.x;
    if i >= ROWSu {
        return;
    }
    let odd = i % EVERYu == 7u;
    flags[i] = select(0u, 1u, odd);
    let t = 6.2831853 * f32(i) / f32(ROWSu);
    for (var j = 0u; j < DIMSu; j++) {
        let noise = unit(i * DIMSu + j + 12345u) - 0.5;
        var v = 0.5 + 0.35 * sin(t + f32(j)) + 0.02 * noise;
        if odd {
            v = unit(i * DIMSu + j + 999u);
        }
        rows[i * DIMSu + j] = v;
    }
}
"#;

/// What the frame found: anomalies among the highest-scoring rows.
#[derive(Debug)]
pub struct Report {
    pub adapter: String,
    pub anomalies: usize,
    /// Anomalies among the `anomalies` highest-scoring rows.
    pub found: usize,
    /// What oddity itself submitted and waited for (nothing: the application submits).
    pub oddity: oddity::gpu::Counters,
}

pub fn run() -> Result<Report, Box<dyn std::error::Error>> {
    // The application's own set-up (here the plainest one wgpu offers).
    let instance =
        wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
    let adapter =
        pollster::block_on(instance.request_adapter(&wgpu::RequestAdapterOptions::default()))?;
    let (device, queue) =
        pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor::default()))?;
    let bytes = u64::from(ROWS * DIMS) * 4;
    let storage = |size: u64, label: &str| {
        device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size,
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        })
    };
    let rows = storage(bytes, "app rows");
    let flags = storage(u64::from(ROWS) * 4, "app flags");
    let readback = |size: u64, label: &str| {
        device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        })
    };
    let (scores_out, flags_out) = (
        readback(u64::from(ROWS) * 4, "app scores"),
        readback(u64::from(ROWS) * 4, "app flags out"),
    );
    let source = GENERATE
        .replace("ROWSu", &format!("{ROWS}u"))
        .replace("DIMSu", &format!("{DIMS}u"))
        .replace("EVERYu", &format!("{EVERY}u"));
    let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some("app generate"),
        source: wgpu::ShaderSource::Wgsl(source.into()),
    });
    let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
        label: Some("app generate"),
        layout: None,
        module: &module,
        entry_point: Some("generate"),
        compilation_options: Default::default(),
        cache: None,
    });
    let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: None,
        layout: &pipeline.get_bind_group_layout(0),
        entries: &[
            wgpu::BindGroupEntry {
                binding: 0,
                resource: rows.as_entire_binding(),
            },
            wgpu::BindGroupEntry {
                binding: 1,
                resource: flags.as_entire_binding(),
            },
        ],
    });

    // oddity on the same device, over the application's rows.
    let gpu = Gpu::from_wgpu(&adapter, &device, &queue);
    // The rows as oddity's data (one tensor here; `DataRows` also spans several buffers).
    let x: DataRows = Tensor::view(&gpu.wrap_buffer(rows.clone())?, 0, ROWS, DIMS)?.into();
    let config = AutoencoderConfig {
        batch: 64,
        ..AutoencoderConfig::dae(DIMS, &[8, 2])
    };
    let model = Autoencoder::new(&gpu, config)?;
    let train = model.train_plan(&x)?;
    let (score, scores, _) = model.score_plan(&x)?;

    // The frame: the application's pass, then oddity's training and scoring, then the copies.
    let mut frame = device.create_command_encoder(&wgpu::CommandEncoderDescriptor {
        label: Some("app frame"),
    });
    {
        let mut pass = frame.begin_compute_pass(&wgpu::ComputePassDescriptor::default());
        pass.set_pipeline(&pipeline);
        pass.set_bind_group(0, &bind_group, &[]);
        pass.dispatch_workgroups(ROWS.div_ceil(64), 1, 1);
    }
    train.encode(&mut frame, STEPS);
    score.encode(&mut frame, 1);
    frame.copy_buffer_to_buffer(
        scores.buffer().raw(),
        0,
        &scores_out,
        0,
        u64::from(ROWS) * 4,
    );
    frame.copy_buffer_to_buffer(&flags, 0, &flags_out, 0, u64::from(ROWS) * 4);
    queue.submit(Some(frame.finish()));

    // The application reads its own buffers back.
    let read = |buf: &wgpu::Buffer| -> Result<Vec<u32>, Box<dyn std::error::Error>> {
        buf.slice(..).map_async(wgpu::MapMode::Read, |_| {});
        device.poll(wgpu::PollType::wait_indefinitely())?;
        let words = bytemuck::cast_slice::<u8, u32>(&buf.slice(..).get_mapped_range()?).to_vec();
        buf.unmap();
        Ok(words)
    };
    let scores: Vec<f32> = read(&scores_out)?.into_iter().map(f32::from_bits).collect();
    let truth = read(&flags_out)?;
    let anomalies = truth.iter().filter(|&&f| f == 1).count();
    let mut order: Vec<usize> = (0..ROWS as usize).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let found = order[..anomalies]
        .iter()
        .filter(|&&i| truth[i] == 1)
        .count();
    Ok(Report {
        adapter: gpu.adapter_name(),
        anomalies,
        found,
        oddity: gpu.counters(),
    })
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let r = run()?;
    println!(
        "on {}: {} of the {} anomalies are the {} highest-scoring rows; one frame of the application's, {} dispatches of oddity's in it, {} submits and {} host waits by oddity",
        r.adapter,
        r.found,
        r.anomalies,
        r.anomalies,
        r.oddity.dispatches,
        r.oddity.submits,
        r.oddity.host_waits
    );
    Ok(())
}
