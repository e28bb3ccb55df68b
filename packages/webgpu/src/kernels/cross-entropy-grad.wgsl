// d loss / d logits = dloss[row] (softmax - onehot(target)); 0 on ignored rows.

@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read> lse: array<f32>;
@group(0) @binding(3) var<storage, read> targets: array<i32>;
@group(0) @binding(4) var<storage, read> dloss: array<f32>;
@group(0) @binding(5) var<storage, read> P: array<u32>;

// P: count, cols, srcOff, lseOff, targetOff, dlossOff, ignoreIndex, outOff
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let e = gid.x + gid.y * nwg.x * 256u;
  if (e >= P[0]) { return; }
  let cols = P[1];
  let row = e / cols;
  let c = e % cols;
  let t = targets[P[4] + row];
  let g = dloss[P[5] + row];
  if (t == bitcast<i32>(P[6]) || t < 0 || u32(t) >= cols || g == 0.0) {
    out[P[7] + e] = 0.0;
    return;
  }
  var v = g * exp(src[P[2] + e] - lse[P[3] + row]);
  if (u32(t) == c) { v -= g; }
  out[P[7] + e] = v;
}
