// `gather.wgsl`'s samplers and gather over a dataset spread over up to four bindings (data,
// data_b, data_c, data_d: more rows than one binding holds, `DataRows`), every part but the last
// of `part_len` elements: element i of the rows is element i % part_len of part i / part_len
// (data_off 0). A part the data lacks is bound but never read.
//
// Bindings: as `gather.wgsl`, with 11-13 data_b..data_d (read): up to 11 storage buffers, so
// the adapter must allow that many per stage (native adapters do; WebGPU's default 8 does not).

#import rng
#import grid
#import gather_body

@group(0) @binding(1) var<storage, read> data: array<f32>;
@group(0) @binding(11) var<storage, read> data_b: array<f32>;
@group(0) @binding(12) var<storage, read> data_c: array<f32>;
@group(0) @binding(13) var<storage, read> data_d: array<f32>;

fn data_at(i: u32, part_len: u32) -> f32 {
    if part_len == NONE || i < part_len {
        return data[i];
    }
    let k = i / part_len;
    let j = i - k * part_len;
    if k == 1u {
        return data_b[j];
    }
    if k == 2u {
        return data_c[j];
    }
    return data_d[j];
}
