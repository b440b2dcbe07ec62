// Counter-based RNG: every number is a pure function of (seed, step, tag, index), so the same
// seed gives the same numbers on every adapter and in the f64 reference
// (oddity_kernels::reference::rng mirrors these functions bit for bit).

fn rng_hash(v: u32) -> u32 {
    // lowbias32 (Chris Wellons' hash prospector)
    var x = v;
    x ^= x >> 16u;
    x *= 0x7feb352du;
    x ^= x >> 15u;
    x *= 0x846ca68bu;
    x ^= x >> 16u;
    return x;
}

fn rng_u32(seed: u32, step: u32, tag: u32, i: u32) -> u32 {
    let k = rng_hash(rng_hash(rng_hash(seed ^ 0x9e3779b9u) ^ step) ^ tag);
    return rng_hash(k ^ rng_hash(i));
}

// Uniform in (0, 1), 24 bits, never 0 or 1.
fn rng_unit(r: u32) -> f32 {
    return (f32(r >> 8u) + 0.5) * (1.0 / 16777216.0);
}

// Standard normal by Box-Muller from the uniforms at counters 2i and 2i+1.
fn rng_gauss(seed: u32, step: u32, tag: u32, i: u32) -> f32 {
    let u1 = rng_unit(rng_u32(seed, step, tag, 2u * i));
    let u2 = rng_unit(rng_u32(seed, step, tag, 2u * i + 1u));
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}
