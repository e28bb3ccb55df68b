// out[o, j, i] = x[o, index[j], i] for table rows index[j] in [nLo, nHi) (the rows this
// launch binds); rows outside that window are left for another launch. An index outside
// the whole table writes 0 (a device cannot throw; the CPU backend reports it).
// ELEM is f32 or i32.

@group(0) @binding(0) var<storage, read_write> out: array<ELEM>;
@group(0) @binding(1) var<storage, read> x: array<ELEM>;
@group(0) @binding(2) var<storage, read> index: array<i32>;
@group(0) @binding(3) var<storage, read> P: array<u32>;

// P: count (= outer * jCount * inner), jCount, inner, n, nLo, nHi, xOff, outOff, idxOff,
//    outerStrideX, outerStrideOut
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let e = gid.x + gid.y * nwg.x * 256u;
  if (e >= P[0]) { return; }
  let inner = P[2];
  let jCount = P[1];
  let i = e % inner;
  let j = (e / inner) % jCount;
  let o = e / (inner * jCount);
  let r = index[P[8] + j];
  let at = P[7] + o * P[10] + j * inner + i;
  if (r < 0 || u32(r) >= P[3]) {
    out[at] = ELEM(0);
    return;
  }
  let row = u32(r);
  if (row < P[4] || row >= P[5]) { return; }
  out[at] = x[P[6] + o * P[9] + (row - P[4]) * inner + i];
}
