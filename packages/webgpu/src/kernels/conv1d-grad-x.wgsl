// Gradient of the causal conv for x: dx[b,c,s] = sum_k w[c,k] dy[b,c,s+width-1-k].

@group(0) @binding(0) var<storage, read_write> dx: array<f32>;
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read> P: array<u32>;

// P: count, channels, len, width, wOff, dyOff
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let e = gid.x + gid.y * nwg.x * 256u;
  if (e >= P[0]) { return; }
  let len = P[2];
  let width = P[3];
  let s = e % len;
  let bc = e / len;
  let c = bc % P[1];
  let gb = P[5] + bc * len;
  let wb = P[4] + c * width;
  var acc = 0.0;
  for (var k = 0u; k < width; k++) {
    let t = s + width - 1u - k;
    if (t < len) { acc += w[wb + k] * dy[gb + t]; }
  }
  dx[e] = acc;
}
