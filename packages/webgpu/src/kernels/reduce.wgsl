// One workgroup per output: its invocations walk the reduced elements with a stride of 64
// and combine their partial results in a fixed tree, so results do not depend on timing.
// ELEM is f32 or i32; the launcher fills in the combining step and the initial value.

@group(0) @binding(0) var<storage, read_write> out: array<ELEM>;
@group(0) @binding(1) var<storage, read> x: array<ELEM>;
@group(0) @binding(2) var<storage, read> P: array<u32>;

// P: nOut, nRed, keptRank, redRank, offset, keptShape[8], keptStrides[8], redShape[8], redStrides[8]
const KS: u32 = 5u;
const KT: u32 = 13u;
const RS: u32 = 21u;
const RT: u32 = 29u;

var<workgroup> partial: array<ELEM, 64>;

fn isNanE(v: ELEM) -> bool {
  return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u && IS_FLOAT;
}

fn combine(acc: ELEM, v: ELEM) -> ELEM {
  COMBINE_BODY
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let o = wid.x + wid.y * nwg.x;
  let nOut = P[0];
  let nRed = P[1];
  var base = bitcast<i32>(P[4]);
  if (o < nOut) {
    var rem = o;
    for (var d = i32(P[2]) - 1; d >= 0; d--) {
      let size = P[KS + u32(d)];
      base += i32(rem % size) * bitcast<i32>(P[KT + u32(d)]);
      rem = rem / size;
    }
  }
  var acc: ELEM = INIT_VALUE;
  if (o < nOut) {
    for (var r = lid; r < nRed; r += 64u) {
      var rem = r;
      var off = base;
      for (var d = i32(P[3]) - 1; d >= 0; d--) {
        let size = P[RS + u32(d)];
        off += i32(rem % size) * bitcast<i32>(P[RT + u32(d)]);
        rem = rem / size;
      }
      acc = combine(acc, x[u32(off)]);
    }
  }
  partial[lid] = acc;
  workgroupBarrier();
  for (var s = 32u; s > 0u; s = s >> 1u) {
    if (lid < s) {
      partial[lid] = combine(partial[lid], partial[lid + s]);
    }
    workgroupBarrier();
  }
  if (lid == 0u && o < nOut) {
    out[o] = partial[0];
  }
}
