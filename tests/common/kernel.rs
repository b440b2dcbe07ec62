//! Running one kernel by hand, as the kernel tests do: poisoned outputs, one dispatch, reads.

use oddity::Gpu;
use oddity::gpu::{GpuBuffer, KernelId};
use oddity::tape::PlanBuilder;
use oddity_kernels::params::Params;

/// A buffer of `n` NaN (at least one word): an output a kernel must overwrite.
pub fn poisoned(gpu: &Gpu, n: usize) -> GpuBuffer {
    gpu.upload(&vec![f32::NAN; n.max(1)], "poisoned").unwrap()
}

/// Records and runs one dispatch of `kernel`.
pub fn run(
    gpu: &Gpu,
    kernel: KernelId,
    p: Option<&dyn Params>,
    bufs: &[(&str, &GpuBuffer)],
    groups: [u32; 3],
) {
    let mut b = PlanBuilder::new(gpu);
    b.dispatch(kernel, p, bufs, groups).unwrap();
    b.finish().unwrap().run(1).unwrap();
}

/// Every word of `b`.
pub fn read(gpu: &Gpu, b: &GpuBuffer) -> Vec<f32> {
    gpu.read_f32(b, 0, b.words()).unwrap()
}

/// Workgroups for `n` invocations of a 256-wide 1-D kernel.
pub fn groups(gpu: &Gpu, n: u32) -> [u32; 3] {
    gpu.grid_1d(n.div_ceil(256)).unwrap()
}
