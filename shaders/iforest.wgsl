// Isolation forest scoring (Liu, Ting and Zhou 2008): each row's path length in every tree,
// averaged, as the score 2^(-E[h(x)] / c(psi)) (higher = more anomalous, in (0, 1]). The
// leaves hold path lengths already divided by c(psi), the forest's normaliser.
//
//   nodes: `trees` trees of `npt` nodes each, a node being 4 f32 at
//          nodes[t_off + 4 * (tree * npt + j)], the root at j = 0:
//            split: (feature, threshold, left, right): feature >= 0; a row goes to node `left`
//                   when x[feature] < threshold, else to node `right` (indices within the tree);
//            leaf:  (-1, h, 0, 0): h = (the leaf's depth + c(size)) / c(psi), the normalised path
//                   length of a row that ends there (c(n): the mean path length of an
//                   unsuccessful search among n points, for the subtree the height limit left
//                   unbuilt; psi: the trees' subsample size).
//   iforest_score: out[out_off + i] = exp2(-(sum over trees of h) / trees) for every
//          i < rows, x_i = x[x_off + i * cols ..]. A walk is cut after `npt` nodes (only a
//          malformed forest gets there); a NaN feature goes right, as sklearn's does.
//
// Bindings: 0 params, 1 x (read), 2 nodes (read), 3 out (read_write).

struct Params {
    rows: u32,
    cols: u32,
    x_off: u32,
    t_off: u32,
    trees: u32,
    npt: u32,
    out_off: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> nodes: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(256)
fn iforest_score(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                 @builtin(local_invocation_index) li: u32) {
    let i = (wg.y * nwg.x + wg.x) * 256u + li;
    if (i >= p.rows) {
        return;
    }
    let row = p.x_off + i * p.cols;
    var total = 0.0;
    for (var t = 0u; t < p.trees; t++) {
        let tree = p.t_off + 4u * t * p.npt;
        var j = 0u;
        var h = 0.0;
        for (var step = 0u; step < p.npt; step++) {
            let at = tree + 4u * j;
            let feature = nodes[at];
            if (feature < 0.0) {
                h = nodes[at + 1u];
                break;
            }
            let v = x[row + u32(feature)];
            j = select(u32(nodes[at + 3u]), u32(nodes[at + 2u]), v < nodes[at + 1u]);
        }
        total += h;
    }
    out[p.out_off + i] = exp2(-total / f32(p.trees));
}
