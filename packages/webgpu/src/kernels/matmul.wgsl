// Batched matrix product C = A @ B in 64x64 tiles (after matmul-common.wgsl): 256
// invocations, each accumulating a 4x4 block in registers from 64x16 and 16x64 tiles staged
// in workgroup memory. A(i, k) and B(k, j) are read through strides, so transposed operands
// cost nothing; batch offsets come from the batch shape and strides (0 for a broadcast
// operand). With `accumulate` the product is added to C (a split over k, for operands larger
// than one binding).

var<workgroup> As: array<f32, 1024>;
var<workgroup> Bs: array<f32, 1024>;

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(local_invocation_index) t: u32) {
  let M = P[0];
  let N = P[1];
  let K = P[2];
  let batch = wid.z + P[14];
  let offs = batchOffsets(batch);
  let aOff = offs.x;
  let bOff = offs.y;
  let aSi = bitcast<i32>(P[8]);
  let aSk = bitcast<i32>(P[9]);
  let bSk = bitcast<i32>(P[10]);
  let bSj = bitcast<i32>(P[11]);
  let row0 = wid.y * 64u;
  let col0 = wid.x * 64u;
  var acc: array<array<f32, 4>, 4>;
  for (var k0 = 0u; k0 < K; k0 += 16u) {
    for (var q = 0u; q < 4u; q++) {
      let e = t + 256u * q;
      // A tile: 64 rows x 16 k, stored [k][i].
      let ai = e / 16u;
      let ak = e % 16u;
      var av = 0.0;
      if (row0 + ai < M && k0 + ak < K) {
        av = a[u32(aOff + i32(row0 + ai) * aSi + i32(k0 + ak) * aSk)];
      }
      As[ak * 64u + ai] = av;
      // B tile: 16 k x 64 columns, stored [k][j].
      let bk = e / 64u;
      let bj = e % 64u;
      var bv = 0.0;
      if (k0 + bk < K && col0 + bj < N) {
        bv = b[u32(bOff + i32(k0 + bk) * bSk + i32(col0 + bj) * bSj)];
      }
      Bs[bk * 64u + bj] = bv;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < 16u; kk++) {
      var av: array<f32, 4>;
      var bv: array<f32, 4>;
      for (var r = 0u; r < 4u; r++) {
        av[r] = As[kk * 64u + lid.y + 16u * r];
        bv[r] = Bs[kk * 64u + lid.x + 16u * r];
      }
      for (var r = 0u; r < 4u; r++) {
        for (var s = 0u; s < 4u; s++) {
          acc[r][s] = fma(av[r], bv[s], acc[r][s]);
        }
      }
    }
    workgroupBarrier();
  }
  for (var r = 0u; r < 4u; r++) {
    let i = row0 + lid.y + 16u * r;
    if (i >= M) { continue; }
    for (var s = 0u; s < 4u; s++) {
      let j = col0 + lid.x + 16u * s;
      if (j < N) { storeC(batch, i, j, acc[r][s]); }
    }
  }
}
