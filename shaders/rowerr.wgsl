// Row-wise reconstruction error and its backward.
//
//   rowerr_fwd: out[i] = c * sum_j (pred[i, j] - tgt[i, j])^2,   c = 1 (squared L2) or 1/cols (MSE)
//     one workgroup of 64 threads per row (2-D grid over rows), summed by `wgsum` (`rowerr_sg`: subgroups).
//     With d_off != NONE it also writes the gradient of g_scale * sum_{i < d_rows} out[i] (the
//     mean over the first d_rows rows when g_scale = 1 / d_rows) in the same pass:
//       dpred[d_off + i * cols + j] = g_scale * 2c * (pred[i, j] - tgt[i, j])  for i < d_rows,
//                                   = 0                                        for i >= d_rows,
//     so a loss's backward costs no dispatch of its own (rows past d_rows: scores only).
//   rowerr_bwd: dpred[i, j] (+)= g_i * 2c * (pred[i, j] - tgt[i, j]),
//     g_i = g_scale * (g[g_off + i] when g_off != NONE, else 1); tgt is data: no gradient.
//
// `rowerr16.wgsl` is the same with the target stored as f16 (scoring a dataset kept in half).
// Bindings: 0 params, 1 pred, 2 tgt, 3 g (bwd only, read), 4 out, 5 dpred (fwd only) (read_write).

#import grid
#import rowerr_body

@group(0) @binding(2) var<storage, read> tgt: array<f32>;

fn tgt_at(i: u32) -> f32 {
    return tgt[i];
}
