// Row gathers: a minibatch drawn on the GPU, and rows picked by an index list.
//
//   sample_rows: r_i = rng_u32(seed, step, TAG_BATCH, i) % n_data   (with replacement)
//                out[i, j]   = data[data_off + r_i * cols + j]
//                noisy[i, j] = out[i, j] + noise_std * N(seed, step, TAG_NOISE, i * cols + j)
//                (noisy written when noisy_off != NONE); step = state[0], advanced by `advance`;
//                cls_out[cls_out_off + i] = cls[cls_off + r_i] when cls_off != NONE (the class).
//   gather_rows: out[i, j] = data[data_off + idx[idx_off + i] * cols + j]; an index past n_data
//                writes NaN so a bad index cannot pass unseen.
//
// The data's rows are one binding here (part_len is not read); `gather_parts.wgsl` reads a
// dataset spread over up to four.
//
// `gather16.wgsl` is the same with the data stored as f16.
// Bindings: 0 params, 1 data, 2 state (sample) / 5 idx (gather), 9 cls (read); 3 out, 4 noisy,
// 10 cls_out (read_write).

#import rng
#import grid
#import gather_body

@group(0) @binding(1) var<storage, read> data: array<f32>;

fn data_at(i: u32, part_len: u32) -> f32 {
    return data[i];
}
