// The entry point and workgroup reductions shared by the row kernels (softmax, cross-entropy,
// RMSNorm and their gradients), prepended to each by nn.ts: one workgroup of 64 invocations
// per row, partial results combined in a fixed tree. A row kernel declares its bindings (the
// parameters `P` start with the row count and the row length) and
// `fn rowMain(row: u32, cols: u32, lid: u32)`, which `main` calls for each row in range.

const WG: u32 = 64u;
var<workgroup> red: array<f32, 64>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= P[0]) { return; }
  rowMain(row, P[1], lid);
}

fn rowSum(v: f32, lid: u32) -> f32 {
  red[lid] = v;
  workgroupBarrier();
  for (var s = 32u; s > 0u; s = s >> 1u) {
    if (lid < s) { red[lid] = red[lid] + red[lid + s]; }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}

fn rowMax(v: f32, lid: u32) -> f32 {
  red[lid] = v;
  workgroupBarrier();
  for (var s = 32u; s > 0u; s = s >> 1u) {
    if (lid < s) { red[lid] = select(red[lid], red[lid + s], red[lid + s] > red[lid]); }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}
