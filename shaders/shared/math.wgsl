// Accurate elementary functions that WGSL lacks. (WGSL's log has only an absolute error bound
// near 1, so log(1 + x) for small x is computed by a series instead.)

// log(1 + x) for x in [-1/2, 1]: 2 atanh(s) with s = x / (2 + x), |s| <= 1/3, odd series to
// s^17; relative error about 1e-7 over the whole range.
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

// exp(x) - 1 without cancellation: a Taylor series to x^12 / 12! for |x| < ln 2 (relative error
// under 1e-7), exp(x) - 1 beyond.
fn expm1(x: f32) -> f32 {
    if abs(x) >= 0.6931472 {
        return exp(x) - 1.0;
    }
    var q = 1.0 + x / 12.0;
    q = fma(x / 11.0, q, 1.0);
    q = fma(x / 10.0, q, 1.0);
    q = fma(x / 9.0, q, 1.0);
    q = fma(x / 8.0, q, 1.0);
    q = fma(x / 7.0, q, 1.0);
    q = fma(x / 6.0, q, 1.0);
    q = fma(x / 5.0, q, 1.0);
    q = fma(x / 4.0, q, 1.0);
    q = fma(x / 3.0, q, 1.0);
    q = fma(x / 2.0, q, 1.0);
    return x * q;
}

// softplus(z) = log(1 + exp(z)) without overflow or cancellation.
fn softplus(z: f32) -> f32 {
    return max(z, 0.0) + log1p_unit(exp(-abs(z)));
}

// Binary cross-entropy of logit z against target y in [0, 1], for any z without overflow:
// max(z, 0) - z y + log(1 + e^-|z|).
fn bce_loss(z: f32, y: f32) -> f32 {
    return max(z, 0.0) - z * y + log1p_unit(exp(-abs(z)));
}

// d bce_loss / dz = sigmoid(z) - y, written as (1 - y) s(z) - y s(-z) so it keeps f32
// relative precision when the prediction is confident (no cancellation).
fn bce_slope(z: f32, y: f32) -> f32 {
    return (1.0 - y) * sigmoid(z) - y * sigmoid(-z);
}
