// Element i of f16 data packed two per u32 word, given its word: the low half when i is even,
// the high half when odd.
fn half_at(word: u32, i: u32) -> f32 {
    let pair = unpack2x16float(word);
    return select(pair.x, pair.y, (i & 1u) == 1u);
}
