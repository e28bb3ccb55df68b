// dx[o, index[j], i] = sum of dy[o, j', i] over the positions j' holding the same index, in
// position order, written by the invocation of the first such position. Rows outside
// [nLo, nHi) belong to another launch; dx starts zeroed.

@group(0) @binding(0) var<storage, read_write> dx: array<f32>;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> index: array<i32>;
@group(0) @binding(3) var<storage, read> chain: array<i32>;
@group(0) @binding(4) var<storage, read> P: array<u32>;

// P: count (= outer * m * inner), m, inner, n, nLo, nHi, dxOff, dyOff, idxOff,
//    outerStrideDx, outerStrideDy
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let e = gid.x + gid.y * nwg.x * 256u;
  if (e >= P[0]) { return; }
  let inner = P[2];
  let m = P[1];
  let i = e % inner;
  let j = (e / inner) % m;
  let o = e / (inner * m);
  let link = chain[j];
  if ((link & 0x40000000) == 0) { return; }
  let r = index[P[8] + j];
  if (r < 0 || u32(r) >= P[3] || u32(r) < P[4] || u32(r) >= P[5]) { return; }
  let dyBase = P[7] + o * P[10] + i;
  var acc = dy[dyBase + j * inner];
  var q = link;
  loop {
    if (q < 0) { break; }
    let pos = u32(q & 0x3fffffff);
    acc = acc + dy[dyBase + pos * inner];
    q = chain[pos];
  }
  dx[P[6] + o * P[9] + (u32(r) - P[4]) * inner + i] = acc;
}
