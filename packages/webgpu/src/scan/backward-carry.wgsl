// Backward, first pass of the time-parallel reverse scan (only when the sequence is cut into
// segments): each segment but the first runs the adjoint recurrence
//   g_{t-1} = exp(dt_t A) (g_t + dy'_t C_t)
// backwards over its steps from g = 0 and keeps (product of the decays, g at its start), so
// that backward.wgsl can start every segment from the true gradient flowing into its end.
// Grid: (channel groups, segments - 1, batch); segment = wid.y + 1.

@group(0) @binding(1) var<storage, read> dtv: array<f32>;
@group(0) @binding(2) var<storage, read> dyz: array<f32>;
@group(0) @binding(3) var<storage, read> Cm: array<f32>;
@group(0) @binding(4) var<storage, read_write> work: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lane: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let N = S.dstate;
  let L = S.seqlen;
  let n = lane % NPAD;
  let d = wid.x * CH + lane / NPAD;
  let seg = wid.y + 1u;
  let b = wid.z;
  let valid = n < N && d < S.dim;
  let dc = min(d, S.dim - 1u);
  let nc = min(n, N - 1u);
  let bd = b * S.dim + dc;
  let Ad = select(0.0, work[S.off_A + dc * N + nc], valid);
  let t0 = seg * S.seg_chunks * CHUNK;
  let t1 = min(L, t0 + S.seg_chunks * CHUNK);
  var g = 0.0;
  var P = 1.0;
  for (var t = t1; t > t0; t--) {
    let row = bd * L + t - 1u;
    let a = exp(dt_of(dtv[row]) * Ad);
    g = (g + dyz[row] * Cm[(b * N + nc) * L + t - 1u]) * a;
    P *= a;
  }
  if (valid) {
    let at = S.off_sum + ((bd * S.n_seg + seg) * N + n) * 2u;
    work[at] = P;
    work[at + 1u] = g;
  }
}
