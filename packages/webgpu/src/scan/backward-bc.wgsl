// Backward, last pass for dB and dC: sums the per-slot partials of backward.wgsl, laid out
// (batch, slot, seqlen, dstate, 2), over slots in order, into (batch, dstate, seqlen).
// One invocation per output element.

@group(0) @binding(1) var<storage, read> work: array<f32>;
@group(0) @binding(2) var<storage, read_write> dB: array<f32>;
@group(0) @binding(3) var<storage, read_write> dC: array<f32>;

@compute @workgroup_size(64)
fn main(
  @builtin(local_invocation_index) lid: u32,
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
) {
  let N = S.dstate;
  let L = S.seqlen;
  let i = flat_index(wid, nwg, lid);
  if (i >= S.batch * N * L) {
    return;
  }
  let t = i % L;
  let n = (i / L) % N;
  let b = i / (L * N);
  var acc = vec2<f32>(0.0);
  for (var s = 0u; s < S.slots; s++) {
    let at = S.off_pBC + (((b * S.slots + s) * L + t) * N + n) * 2u;
    acc += vec2<f32>(work[at], work[at + 1u]);
  }
  dB[i] = acc.x;
  dC[i] = acc.y;
}
