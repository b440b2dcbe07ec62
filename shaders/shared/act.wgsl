// Activations (codes shared with oddity::ops::Act): 0 identity, 1 relu, 2 leaky relu (slope
// `alpha`), 3 tanh, 4 sigmoid. Derivatives are written in terms of the output y = f(z), so a
// backward kernel needs only the forward output.

fn act_apply(code: u32, alpha: f32, z: f32) -> f32 {
    switch code {
        case 1u: { return max(z, 0.0); }
        case 2u: { return select(alpha * z, z, z > 0.0); }
        case 3u: { return tanh(clamp(z, -15.0, 15.0)); }
        case 4u: { return 1.0 / (1.0 + exp(-z)); }
        default: { return z; }
    }
}

fn act_grad_from_y(code: u32, alpha: f32, y: f32) -> f32 {
    switch code {
        case 1u: { return select(0.0, 1.0, y > 0.0); }
        case 2u: { return select(alpha, 1.0, y > 0.0); }
        case 3u: { return 1.0 - y * y; }
        case 4u: { return y * (1.0 - y); }
        default: { return 1.0; }
    }
}
