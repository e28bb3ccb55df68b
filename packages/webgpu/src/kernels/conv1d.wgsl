// Depthwise causal conv, y[b,c,t] = bias[c] + sum_k w[c,k] x[b,c,t-width+1+k], and with
// `reverse` its gradient for x, the same taps run the other way in time:
// dx[b,c,s] = sum_k w[c,k] dy[b,c,s+width-1-k] (dy bound as `x`, no bias). Taps outside the
// sequence are zero; terms are added in order of k.

@group(0) @binding(0) var<storage, read_write> y: array<f32>;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read> P: array<u32>;

// P: count, channels, len, width, xOff, wOff, biasOff, hasBias, reverse
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let e = gid.x + gid.y * nwg.x * 256u;
  if (e >= P[0]) { return; }
  let len = i32(P[2]);
  let width = i32(P[3]);
  let t = i32(e % P[2]);
  let bc = e / P[2];
  let c = bc % P[1];
  var acc = 0.0;
  if (P[7] != 0u) { acc = bias[P[6] + c]; }
  let xb = P[4] + bc * P[2];
  let wb = P[5] + c * P[3];
  for (var k = 0; k < width; k++) {
    let at = t + select(k + 1 - width, width - 1 - k, P[8] != 0u);
    if (at >= 0 && at < len) { acc += w[wb + u32(k)] * x[xb + u32(at)]; }
  }
  y[e] = acc;
}
