// The state element an invocation owns in the per-channel kernels that scan one time segment
// (forward.wgsl, forward-carry.wgsl, backward-carry.wgsl; after common.wgsl and geometry.wgsl,
// reading `work`): state n of channel d of batch entry b. Padding lanes (n >= dstate or
// d >= dim) read clamped, in-bounds addresses (dc, nc) and must keep a zero state.
struct Cell {
  n: u32,
  d: u32,
  b: u32,
  valid: bool,
  dc: u32,
  nc: u32,
  // The (batch, channel) row: b * dim + dc.
  bd: u32,
  // A[dc, nc], 0 on padding lanes.
  A: f32,
}

fn cell_of(lane: u32, wid: vec3<u32>) -> Cell {
  let n = lane % NPAD;
  let d = wid.x * CH + lane / NPAD;
  let valid = n < S.dstate && d < S.dim;
  let dc = min(d, S.dim - 1u);
  let nc = min(n, S.dstate - 1u);
  let A = select(0.0, work[S.off_A + dc * S.dstate + nc], valid);
  return Cell(n, d, wid.z, valid, dc, nc, wid.z * S.dim + dc, A);
}

// The steps [t0, t1) of time segment `seg`.
fn segment_steps(seg: u32) -> vec2<u32> {
  let t0 = seg * S.seg_chunks * CHUNK;
  return vec2<u32>(t0, min(S.seqlen, t0 + S.seg_chunks * CHUNK));
}
