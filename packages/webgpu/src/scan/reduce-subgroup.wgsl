enable subgroups;

// Sum over the state axis with subgroup shuffles: a butterfly over blocks of SGW lanes
// (SGW = min(NPAD, the device's smallest subgroup size), so a block never straddles two
// subgroups), then, only when a channel spans several blocks (NPAD > SGW), one pass through
// workgroup memory. It assumes what every WebGPU implementation does for one-dimensional
// workgroups: subgroups are aligned runs of consecutive local invocation indices. The
// butterfly gives every lane of a block bitwise the same sum.

override SGW: u32;

// Whether reduce_state holds a workgroup barrier (only when it goes through memory).
override REDUCE_SYNCS: bool = NPAD > SGW;

var<workgroup> red: array<vec4<f32>, 2u * WG>;

// The sum of `v` over the NPAD invocations of the caller's channel, returned to each of them.
// Call from uniform control flow.
fn reduce_state(v: vec4<f32>, lane: u32, par: u32) -> vec4<f32> {
  var acc = v;
  for (var m = 1u; m < SGW; m <<= 1u) {
    acc += subgroupShuffleXor(acc, m);
  }
  if (NPAD > SGW) {
    let base = par * WG;
    if (lane % SGW == 0u) {
      red[base + lane / SGW] = acc;
    }
    workgroupBarrier();
    let parts = NPAD / SGW;
    let first = base + (lane / NPAD) * parts;
    var sum = vec4<f32>(0.0);
    for (var k = 0u; k < parts; k++) {
      sum += red[first + k];
    }
    acc = sum;
  }
  return acc;
}
