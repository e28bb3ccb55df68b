// For each position j of an index list: next[j] = the next position holding the same
// index (or -1), with bit 30 set when j is the first position of its index. The scatter-add
// then follows each chain in order, so gradients add up in the order the CPU adds them,
// without atomics.

@group(0) @binding(0) var<storage, read_write> next: array<i32>;
@group(0) @binding(1) var<storage, read> index: array<i32>;
@group(0) @binding(2) var<storage, read> P: array<u32>;

// P: m, idxOff
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let j = gid.x + gid.y * nwg.x * 256u;
  let m = P[0];
  if (j >= m) { return; }
  let v = index[P[1] + j];
  var first = true;
  for (var q = 0u; q < j; q++) {
    if (index[P[1] + q] == v) {
      first = false;
      break;
    }
  }
  var nxt = -1;
  for (var q = j + 1u; q < m; q++) {
    if (index[P[1] + q] == v) {
      nxt = i32(q);
      break;
    }
  }
  // Positions fit in 30 bits; the flag sits above them.
  next[j] = select(nxt & 0x3fffffff, (nxt & 0x3fffffff) | 0x40000000, first) | select(0, bitcast<i32>(0x80000000u), nxt < 0);
}
