// Accurate elementary functions that WGSL lacks. (WGSL's log has only an absolute error bound
// near 1, so log(1 + x) for small x is computed by a series instead.)

// log(1 + x) for x in [0, 1]: 2 atanh(s) with s = x / (2 + x) <= 1/3, odd series to s^17;
// relative error about 1e-7 over the whole range.
fn log1p_unit(x: f32) -> f32 {
    let s = x / (2.0 + x);
    let s2 = s * s;
    var q = 1.0 / 17.0;
    q = fma(q, s2, 1.0 / 15.0);
    q = fma(q, s2, 1.0 / 13.0);
    q = fma(q, s2, 1.0 / 11.0);
    q = fma(q, s2, 1.0 / 9.0);
    q = fma(q, s2, 1.0 / 7.0);
    q = fma(q, s2, 1.0 / 5.0);
    q = fma(q, s2, 1.0 / 3.0);
    q = fma(q, s2, 1.0);
    return 2.0 * s * q;
}

// sigmoid(z) without overflow for any finite z.
fn sigmoid(z: f32) -> f32 {
    let t = exp(-abs(z));
    let s = 1.0 / (1.0 + t);
    return select(t * s, s, z >= 0.0);
}
