// Linear invocation index for 1-D work spread over a 2-D grid of 256-wide workgroups
// (oddity::gpu::grid_1d splits the count so neither dimension passes 65535).

fn grid_index(wg: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
    return (wg.y * nwg.x + wg.x) * 256u + lid;
}
