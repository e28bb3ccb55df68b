// Index of the first maximum along one axis; NaN counts as the maximum (as PyTorch).
// One invocation per output. ELEM is f32 or i32.

@group(0) @binding(0) var<storage, read_write> out: array<i32>;
@group(0) @binding(1) var<storage, read> x: array<ELEM>;
@group(0) @binding(2) var<storage, read> P: array<u32>;

// P: nOut, n, axisStride, keptRank, offset, keptShape[8], keptStrides[8]
const KS: u32 = 5u;
const KT: u32 = 13u;

fn isNanE(v: ELEM) -> bool {
  return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u && IS_FLOAT;
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let o = gid.x + gid.y * nwg.x * 256u;
  if (o >= P[0]) { return; }
  var rem = o;
  var p = bitcast<i32>(P[4]);
  for (var d = i32(P[3]) - 1; d >= 0; d--) {
    let size = P[KS + u32(d)];
    p += i32(rem % size) * bitcast<i32>(P[KT + u32(d)]);
    rem = rem / size;
  }
  let stride = bitcast<i32>(P[2]);
  var best = x[u32(p)];
  var at = 0u;
  for (var i = 1u; i < P[1]; i++) {
    if (isNanE(best)) { break; }
    p += stride;
    let v = x[u32(p)];
    if (v > best || isNanE(v)) {
      best = v;
      at = i;
    }
  }
  out[o] = i32(at);
}
