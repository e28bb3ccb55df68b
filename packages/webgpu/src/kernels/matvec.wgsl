// C = A @ B for a few rows of A (a decoding step or a short prompt, where the 64x64 tiles of
// matmul.wgsl would compute 64 rows to keep one). One invocation per column j of C and run of
// up to 8 rows keeps the sums in registers and walks k once, so each element of B is read once
// per 8 rows. Runs after matmul-common.wgsl; the grid is (ceil(N / 64), ceil(M / 8), batch
// entries).

const MAX_ROWS: u32 = 8u;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let row0 = wid.y * MAX_ROWS;
  let M = min(P[0] - row0, MAX_ROWS);
  let N = P[1];
  let K = P[2];
  let j = wid.x * 64u + t;
  if (j >= N) { return; }
  let batch = wid.z + P[14];
  let offs = batchOffsets(batch);
  let aSi = bitcast<i32>(P[8]);
  let aSk = bitcast<i32>(P[9]);
  let bSk = bitcast<i32>(P[10]);
  var ak = offs.x + i32(row0) * aSi;
  var bk = offs.y + i32(j) * bitcast<i32>(P[11]);
  var acc: array<f32, MAX_ROWS>;
  for (var k = 0u; k < K; k++) {
    let bv = b[u32(bk)];
    for (var r = 0u; r < M; r++) {
      acc[r] = fma(a[u32(ak + i32(r) * aSi)], bv, acc[r]);
    }
    ak += aSk;
    bk += bSk;
  }
  for (var r = 0u; r < M; r++) {
    storeC(batch, row0 + r, j, acc[r]);
  }
}
