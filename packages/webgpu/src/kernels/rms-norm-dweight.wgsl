// RMSNorm backward for the weight: dw[c] = sum over rows of dy x rstd, in row order; with
// `accumulate` this block of rows adds to what earlier blocks wrote.

@group(0) @binding(0) var<storage, read_write> dw: array<f32>;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read> rstd: array<f32>;
@group(0) @binding(3) var<storage, read> dy: array<f32>;
@group(0) @binding(4) var<storage, read> P: array<u32>;

// P: rows, cols, srcOff, rstdOff, dyOff, accumulate (add to dw: a later block of rows)
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let c = gid.x + gid.y * nwg.x * 256u;
  let cols = P[1];
  if (c >= cols) { return; }
  var acc = 0.0;
  for (var r = 0u; r < P[0]; r++) {
    acc += dy[P[4] + r * cols + c] * src[P[2] + r * cols + c] * rstd[P[3] + r];
  }
  if (P[5] != 0u) { acc += dw[c]; }
  dw[c] = acc;
}
