//! Embedding: `examples/embed.rs` run as a test (an application's own device, its rows made
//! on the GPU, oddity's plans in its frame); a plan inside the application's own compute
//! pass; errors on a borrowed device come back as oddity errors; application buffers that
//! oddity cannot use are refused with a reason.

#[allow(dead_code)]
#[path = "../examples/embed.rs"]
mod embed;

use oddity::models::{Autoencoder, AutoencoderConfig};
use oddity::tape::DataRows;
use oddity::{Gpu, Tensor};

/// An application's device, as the plainest wgpu set-up gives it. Its uncaptured-error
/// handler is wgpu's default, which panics: an error that reached it would fail the test.
fn app_device() -> (wgpu::Adapter, wgpu::Device, wgpu::Queue) {
    let instance =
        wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
    let adapter =
        pollster::block_on(instance.request_adapter(&wgpu::RequestAdapterOptions::default()))
            .expect("an adapter");
    let (device, queue) =
        pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor::default()))
            .expect("a device");
    eprintln!("adapter: {}", adapter.get_info().name);
    (adapter, device, queue)
}

fn storage(device: &wgpu::Device, bytes: u64, usage: wgpu::BufferUsages) -> wgpu::Buffer {
    device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("app buffer"),
        size: bytes,
        usage,
        mapped_at_creation: false,
    })
}

#[test]
fn the_example_trains_and_scores_inside_the_applications_frame() {
    let r = embed::run().unwrap();
    eprintln!("{r:?}");
    assert_eq!(r.anomalies, 40);
    assert!(r.found >= 36, "{} of 40 anomalies ranked first", r.found);
    // oddity recorded its dispatches into the application's encoder and submitted nothing.
    assert!(r.oddity.dispatches > 1500 * 10, "{:?}", r.oddity);
    assert_eq!((r.oddity.submits, r.oddity.host_waits), (0, 0));
}

#[test]
fn a_plan_runs_inside_the_applications_own_pass() {
    let (adapter, device, queue) = app_device();
    let gpu = Gpu::from_wgpu(&adapter, &device, &queue);
    let usage =
        wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST;
    let app = storage(&device, 8 * 4 * 4, usage);
    let values: Vec<f32> = (0..32).map(|i| i as f32 / 32.0).collect();
    queue.write_buffer(&app, 0, bytemuck::cast_slice(&values));
    let x: DataRows = Tensor::view(&gpu.wrap_buffer(app.clone()).unwrap(), 0, 8, 4)
        .unwrap()
        .into();
    let model = Autoencoder::new(&gpu, AutoencoderConfig::dae(4, &[3, 2])).unwrap();
    let (plan, scores, _) = model.score_plan(&x).unwrap();
    let mut encoder = device.create_command_encoder(&Default::default());
    {
        let mut pass = encoder.begin_compute_pass(&Default::default());
        plan.encode_pass(&mut pass, 1);
    }
    queue.submit(Some(encoder.finish()));
    // The same scores as oddity's own run of the plan.
    let inside = scores.read(&gpu).unwrap();
    assert_eq!(model.scores(&x).unwrap(), inside);
    assert!(inside.iter().all(|s| s.is_finite()));
}

#[test]
fn errors_on_a_borrowed_device_come_back_as_oddity_errors() {
    let (adapter, device, queue) = app_device();
    let gpu = Gpu::from_wgpu(&adapter, &device, &queue);
    let usage = wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC;
    let app = storage(&device, 64 * 4 * 4, usage);
    let x: DataRows = Tensor::view(&gpu.wrap_buffer(app.clone()).unwrap(), 0, 64, 4)
        .unwrap()
        .into();
    let model = Autoencoder::new(&gpu, AutoencoderConfig::dae(4, &[3, 2])).unwrap();
    let plan = model.train_plan(&x).unwrap();
    plan.run(2).unwrap();
    // The application destroys its buffer while oddity still holds a plan over it: the next
    // run raises a validation error on the device, which must come back here (wgpu's default
    // handler would panic).
    app.destroy();
    let e = plan
        .run(1)
        .expect_err("a run over a destroyed buffer")
        .to_string();
    assert!(e.contains("wgpu error") && e.contains("destroyed"), "{e}");
    // Buffers oddity cannot use are refused before anything reaches the device.
    let e = gpu
        .wrap_buffer(storage(&device, 64, wgpu::BufferUsages::UNIFORM))
        .unwrap_err()
        .to_string();
    assert!(e.contains("STORAGE"), "{e}");
    let e = gpu
        .wrap_buffer(storage(&device, 6, wgpu::BufferUsages::STORAGE))
        .unwrap_err()
        .to_string();
    assert!(e.contains("whole 32-bit words"), "{e}");
    let no_readback = gpu
        .wrap_buffer(storage(&device, 64, wgpu::BufferUsages::STORAGE))
        .unwrap();
    let e = gpu.read_f32(&no_readback, 0, 4).unwrap_err().to_string();
    assert!(e.contains("COPY_SRC"), "{e}");
    let e = gpu.write(&no_readback, 0, &[1f32]).unwrap_err().to_string();
    assert!(e.contains("COPY_DST"), "{e}");
}
