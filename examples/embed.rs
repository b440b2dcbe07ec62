//! Embedding oddity in an application that already owns a wgpu device (a renderer, say): the
//! application's adapter, device and queue are borrowed, and oddity's buffers and pipelines
//! live beside the application's own.
//!
//! Run: `cargo run --release --example embed`

use oddity::models::{Autoencoder, AutoencoderConfig};
use oddity::{Gpu, Tensor};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The application's own set-up (here the plainest one wgpu offers).
    let instance =
        wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
    let adapter =
        pollster::block_on(instance.request_adapter(&wgpu::RequestAdapterOptions::default()))?;
    let (device, queue) =
        pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor::default()))?;

    // oddity on the same device.
    let gpu = Gpu::from_wgpu(&adapter, &device, &queue);
    println!("sharing {}", gpu.adapter_name());
    let (rows, dim) = (1000, 32);
    let (data, labels) = oddity::data::synthetic_mnist(rows, dim, 0.05, 1);
    let x = Tensor::from_slice(&gpu, &data, rows as u32, dim as u32, "data")?;
    let cfg = AutoencoderConfig {
        batch: 64,
        ..AutoencoderConfig::dae(dim as u32, &[16, 4])
    };
    let mut model = Autoencoder::new(&gpu, cfg)?;
    model.fit(&x, 500)?;
    let scores = model.scores(&x)?;
    let mut order: Vec<usize> = (0..rows).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let hits = order[..20].iter().filter(|&&i| labels[i] == 1).count();
    println!(
        "top 20 by reconstruction error: {hits} anomalies ({} in the data)",
        labels.iter().filter(|&&l| l == 1).count()
    );
    Ok(())
}
