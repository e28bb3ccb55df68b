// Gradients of the causal conv for the weight and bias: one invocation per (channel, tap),
// plus one per channel for the bias (tap == width), summing over batch and time in order.

@group(0) @binding(0) var<storage, read_write> dw: array<f32>;
@group(0) @binding(1) var<storage, read_write> dbias: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read> dy: array<f32>;
@group(0) @binding(4) var<storage, read> P: array<u32>;

// P: batch, channels, len, width, xOff, dyOff, hasBias
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let e = gid.x + gid.y * nwg.x * 256u;
  let channels = P[1];
  let len = P[2];
  let width = P[3];
  if (e >= channels * (width + 1u)) { return; }
  let c = e / (width + 1u);
  let k = e % (width + 1u);
  var acc = 0.0;
  if (k == width) {
    if (P[6] == 0u) { return; }
    for (var b = 0u; b < P[0]; b++) {
      let gb = P[5] + (b * channels + c) * len;
      for (var t = 0u; t < len; t++) { acc += dy[gb + t]; }
    }
    dbias[c] = acc;
    return;
  }
  var t0 = 0u;
  if (width - 1u > k) { t0 = width - 1u - k; }
  for (var b = 0u; b < P[0]; b++) {
    let gb = P[5] + (b * channels + c) * len;
    let xb = P[4] + (b * channels + c) * len;
    for (var t = t0; t < len; t++) {
      acc += x[xb + t + k + 1u - width] * dy[gb + t];
    }
  }
  dw[c * width + k] = acc;
}
