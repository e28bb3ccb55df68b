// Depthwise causal conv: y[b,c,t] = bias[c] + sum_k w[c,k] x[b,c,t-width+1+k].

@group(0) @binding(0) var<storage, read_write> y: array<f32>;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read> P: array<u32>;

// P: count, channels, len, width, xOff, wOff, biasOff, hasBias
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let e = gid.x + gid.y * nwg.x * 256u;
  if (e >= P[0]) { return; }
  let len = P[2];
  let width = P[3];
  let t = e % len;
  let bc = e / len;
  let c = bc % P[1];
  var acc = 0.0;
  if (P[7] != 0u) { acc = bias[P[6] + c]; }
  let xb = P[4] + bc * len;
  let wb = P[5] + c * width;
  var k0 = 0u;
  if (width - 1u > t) { k0 = width - 1u - t; }
  for (var k = k0; k < width; k++) {
    acc += w[wb + k] * x[xb + t + k + 1u - width];
  }
  y[e] = acc;
}
