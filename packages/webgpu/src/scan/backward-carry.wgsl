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
  let q = cell_of(lane, wid);
  let seg = wid.y + 1u;
  let steps = segment_steps(seg);
  let t0 = steps.x;
  let t1 = steps.y;
  var g = 0.0;
  var P = 1.0;
  for (var t = t1; t > t0; t--) {
    let row = q.bd * L + t - 1u;
    let a = exp(dt_of(dtv[row]) * q.A);
    g = (g + dyz[row] * Cm[(q.b * N + q.nc) * L + t - 1u]) * a;
    P *= a;
  }
  if (q.valid) {
    let at = S.off_sum + ((q.bd * S.n_seg + seg) * N + q.n) * 2u;
    work[at] = P;
    work[at + 1u] = g;
  }
}
