/**
 * The float64 matmul kernel, for references and accumulations rather than speed: op(b) is
 * copied block by block into a row-major scratch, then each output row is updated with
 * four rows of that block at a time (one pass over the output row per four k).
 */

const KC = 128;
const NC = 256;

let scratch: Float64Array | undefined;

/**
 * `out[outOffset + i * n + j] = sum_p op(a)[i, p] * op(b)[p, j]` for one batch entry, with
 * the layouts of `matmulF64`.
 */
export function matmulF64Block(
  out: Float64Array,
  outOffset: number,
  a: Float64Array,
  aOffset: number,
  transA: boolean,
  b: Float64Array,
  bOffset: number,
  transB: boolean,
  m: number,
  n: number,
  k: number,
): void {
  out.fill(0, outOffset, outOffset + m * n);
  scratch ??= new Float64Array(KC * NC);
  const bp = scratch;
  // op(a)[i, p] = a[aOffset + i * aRow + p * aCol]
  const aRow = transA ? 1 : k;
  const aCol = transA ? m : 1;
  for (let jc = 0; jc < n; jc += NC) {
    const nc = Math.min(NC, n - jc);
    for (let pc = 0; pc < k; pc += KC) {
      const kc = Math.min(KC, k - pc);
      for (let p = 0; p < kc; p++) {
        const r = p * nc;
        if (transB) {
          for (let j = 0; j < nc; j++) bp[r + j] = b[bOffset + (jc + j) * k + pc + p];
        } else {
          const src = bOffset + (pc + p) * n + jc;
          for (let j = 0; j < nc; j++) bp[r + j] = b[src + j];
        }
      }
      for (let i = 0; i < m; i++) {
        const o = outOffset + i * n + jc;
        const ai = aOffset + i * aRow + pc * aCol;
        let p = 0;
        for (; p + 4 <= kc; p += 4) {
          const a0 = a[ai + p * aCol];
          const a1 = a[ai + (p + 1) * aCol];
          const a2 = a[ai + (p + 2) * aCol];
          const a3 = a[ai + (p + 3) * aCol];
          const r0 = p * nc;
          const r1 = r0 + nc;
          const r2 = r1 + nc;
          const r3 = r2 + nc;
          for (let j = 0; j < nc; j++) {
            out[o + j] += a0 * bp[r0 + j] + a1 * bp[r1 + j] + a2 * bp[r2 + j] + a3 * bp[r3 + j];
          }
        }
        for (; p < kc; p++) {
          const ap = a[ai + p * aCol];
          const r = p * nc;
          for (let j = 0; j < nc; j++) out[o + j] += ap * bp[r + j];
        }
      }
    }
  }
}
