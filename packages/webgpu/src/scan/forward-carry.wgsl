// Forward, first pass of the time-parallel scan (only when the sequence is cut into
// segments): each segment but the last scans its steps from a zero state and keeps
// (product of the decays, end state), so that forward.wgsl can start every segment from
// its true entering state h_in = P * h_prev_in + S without waiting for the segments before.
// Grid: (channel groups, segments - 1, batch).

@group(0) @binding(1) var<storage, read> u: array<f32>;
@group(0) @binding(2) var<storage, read> delta: array<f32>;
@group(0) @binding(3) var<storage, read> Bm: array<f32>;
@group(0) @binding(4) var<storage, read_write> work: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lane: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let N = S.dstate;
  let L = S.seqlen;
  let q = cell_of(lane, wid);
  let seg = wid.y;
  var bias = 0.0;
  if (has(F_BIAS)) {
    bias = work[S.off_bias + q.dc];
  }
  let steps = segment_steps(seg);
  let t0 = steps.x;
  let t1 = steps.y;
  var h = 0.0;
  var P = 1.0;
  for (var t = t0; t < t1; t++) {
    let row = q.bd * L + t;
    let dt = dt_of(delta[row] + bias);
    let a = exp(dt * q.A);
    h = a * h + dt * Bm[(q.b * N + q.nc) * L + t] * u[row];
    P *= a;
  }
  if (q.valid) {
    let at = S.off_sum + ((q.bd * S.n_seg + seg) * N + q.n) * 2u;
    work[at] = P;
    work[at + 1u] = h;
  }
}
