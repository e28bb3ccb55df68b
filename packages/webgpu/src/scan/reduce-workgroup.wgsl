// Sum over the state axis through workgroup memory: the fallback when subgroups are off.
// Every call holds one barrier, so callers need no barrier of their own between two uses of
// a scratch half (`par` alternates the halves).

const REDUCE_SYNCS: bool = true;

var<workgroup> red: array<vec4<f32>, 2u * WG>;

// The sum of `v` over the NPAD invocations of the caller's channel, returned to each of them.
// Call from uniform control flow.
fn reduce_state(v: vec4<f32>, lane: u32, par: u32) -> vec4<f32> {
  let base = par * WG;
  red[base + lane] = v;
  workgroupBarrier();
  let first = base + lane - lane % NPAD;
  var acc = vec4<f32>(0.0);
  for (var k = 0u; k < NPAD; k++) {
    acc += red[first + k];
  }
  return acc;
}
