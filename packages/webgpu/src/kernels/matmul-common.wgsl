// Shared by the matmul kernels (prepended by matmul.ts): the bindings, the parameter layout,
// the operand offsets of one batch entry and the store into C.

@group(0) @binding(0) var<storage, read_write> c: array<f32>;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read> P: array<u32>;

// P: M, N, K, accumulate, batchRank, aOff, bOff, cOff, aSi, aSk, bSk, bSj, ldc, cBatch,
//    batchStart, batchShape[6], aBatch[6], bBatch[6]
const BS: u32 = 15u;
const AB: u32 = 21u;
const BB: u32 = 27u;

// The element offsets of A and B for batch entry `batch` (batch strides may be 0: broadcast).
fn batchOffsets(batch: u32) -> vec2<i32> {
  var aOff = bitcast<i32>(P[5]);
  var bOff = bitcast<i32>(P[6]);
  var rem = batch;
  for (var d = i32(P[4]) - 1; d >= 0; d--) {
    let size = P[BS + u32(d)];
    let idx = i32(rem % size);
    rem = rem / size;
    aOff += idx * bitcast<i32>(P[AB + u32(d)]);
    bOff += idx * bitcast<i32>(P[BB + u32(d)]);
  }
  return vec2<i32>(aOff, bOff);
}

// Writes C(i, j) of batch entry `batch`, or adds to it with `accumulate`.
fn storeC(batch: u32, i: u32, j: u32, v: f32) {
  let at = P[7] + batch * P[13] + i * P[12] + j;
  if (P[3] != 0u) {
    c[at] = c[at] + v;
  } else {
    c[at] = v;
  }
}
