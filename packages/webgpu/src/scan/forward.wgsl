// Forward selective scan. Grid: (channel groups, segments, batch); a workgroup scans one
// segment of the time axis for CH channels, an invocation per state element. Per step:
//   dt = softplus(delta + bias),  h = exp(dt A) h + dt B u,  y = sum_n C (h + off) + D u,
//   y *= silu(z)
// with the sum over the state axis done by reduce_state (subgroups or workgroup memory).
// The state entering each CHUNK-step chunk is saved for the backward (when F_SAVE); the final
// state goes to slot `last_slot` of `states`.

@group(0) @binding(1) var<storage, read> u: array<f32>;
@group(0) @binding(2) var<storage, read> delta: array<f32>;
@group(0) @binding(3) var<storage, read> z: array<f32>;
@group(0) @binding(4) var<storage, read> Bm: array<f32>;
@group(0) @binding(5) var<storage, read> Cm: array<f32>;
@group(0) @binding(6) var<storage, read> work: array<f32>;
@group(0) @binding(7) var<storage, read_write> y: array<f32>;
// (chunk or last slot, batch, dim, dstate)
@group(0) @binding(8) var<storage, read_write> states: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lane: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let N = S.dstate;
  let L = S.seqlen;
  let q = cell_of(lane, wid);
  let seg = wid.y;
  var off = 0.0;
  if (has(F_OFF)) {
    let row = select(q.dc, q.bd, has(F_OFF_BATCHED));
    off = work[S.off_off + row * N + q.nc];
  }
  var Dd = 0.0;
  if (has(F_D)) {
    Dd = work[S.off_D + q.dc];
  }
  var bias = 0.0;
  if (has(F_BIAS)) {
    bias = work[S.off_bias + q.dc];
  }

  var h = 0.0;
  if (has(F_H0)) {
    let row = select(q.dc, q.bd, has(F_H0_BATCHED));
    h = work[S.off_h0 + row * N + q.nc];
  }
  // Carry the segments before this one (forward-carry.wgsl).
  for (var s = 0u; s < seg; s++) {
    let at = S.off_sum + ((q.bd * S.n_seg + s) * N + q.nc) * 2u;
    h = work[at] * h + work[at + 1u];
  }
  h = select(0.0, h, q.valid);

  let c0 = seg * S.seg_chunks;
  let c1 = min(S.n_chunks, c0 + S.seg_chunks);
  let plane = S.batch * S.dim * N;
  var par = 0u;
  for (var c = c0; c < c1; c++) {
    if (has(F_SAVE) && q.valid) {
      states[c * plane + (q.b * S.dim + q.d) * N + q.n] = h;
    }
    let t0 = c * CHUNK;
    let t1 = min(L, t0 + CHUNK);
    for (var t = t0; t < t1; t++) {
      let row = q.bd * L + t;
      let uu = u[row];
      let dt = dt_of(delta[row] + bias);
      let bc = (q.b * N + q.nc) * L + t;
      h = exp(dt * q.A) * h + dt * Bm[bc] * uu;
      let out = select(0.0, Cm[bc] * (h + off), q.valid);
      let r = reduce_state(vec4<f32>(out, 0.0, 0.0, 0.0), lane, par);
      par ^= 1u;
      if (q.n == 0u && q.d < S.dim) {
        var yt = r.x + Dd * uu;
        if (has(F_Z)) {
          yt *= silu(z[row]);
        }
        y[row] = yt;
      }
    }
  }
  if (seg + 1u == S.n_seg && q.valid) {
    states[S.last_slot * plane + (q.b * S.dim + q.d) * N + q.n] = h;
  }
}
