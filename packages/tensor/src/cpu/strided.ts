import type { View } from '../backend.js';
import type { HostArray } from '../dtype.js';
import { coalesce } from '../shape.js';

export { coalesce };

/**
 * Elementwise loops over strided views, compiled once per expression. The loop walks the
 * output's shape after merging axes that every operand traverses contiguously, so most
 * calls run a single flat loop; the innermost axis is always a tight loop with constant
 * strides. Expressions come from the op table (`ops/table.ts`).
 */

/** A strided operand of a loop: array, first index and per-axis strides. */
export interface Operand {
  readonly array: HostArray;
  readonly offset: number;
  readonly strides: readonly number[];
}

/** The operand of a view (the CPU backend's data handles are the typed arrays themselves). */
export function operand(v: View): Operand {
  return { array: v.data as HostArray, offset: v.offset, strides: v.strides };
}

/** A compiled loop: writes `expr(inputs)` into the output for every index of `shape`. */
export type StridedLoop = (
  shape: readonly number[],
  out: Operand,
  inputs: readonly Operand[],
) => void;

const cache = new Map<string, StridedLoop>();

/**
 * Compiles a loop computing `expr` over inputs named `names` (e.g. ['a', 'b'] and
 * 'a + b'). `helpers` is visible to the expression as `M`.
 */
export function compileLoop(names: readonly string[], expr: string, helpers: object): StridedLoop {
  const key = `${names.join(',')}:${expr}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const ins = names.map((_, i) => i);
  const src = `
"use strict";
return function loop(shape0, out, inputs) {
  const co = coalesce(shape0, [out.strides, ${ins.map((i) => `inputs[${i}].strides`).join(', ')}]);
  const shape = co.shape, S = co.strides;
  const O = out.array;
  ${ins.map((i) => `const A${i} = inputs[${i}].array;`).join('\n  ')}
  const r = shape.length;
  if (r === 0) {
    ${names.map((n, i) => `const ${n} = A${i}[inputs[${i}].offset];`).join(' ')}
    O[out.offset] = ${expr};
    return;
  }
  const n0 = shape[r - 1];
  const so = S[0][r - 1];
  ${ins.map((i) => `const s${i} = S[${i + 1}][r - 1];`).join(' ')}
  if (r === 1 && so === 1 && ${ins.map((i) => `s${i} === 1`).join(' && ') || 'true'}) {
    const oo = out.offset;
    ${ins.map((i) => `const o${i} = inputs[${i}].offset;`).join(' ')}
    for (let i = 0; i < n0; i++) {
      ${names.map((n, i) => `const ${n} = A${i}[o${i} + i];`).join(' ')}
      O[oo + i] = ${expr};
    }
    return;
  }
  let total = 1;
  for (let d = 0; d < r; d++) total *= shape[d];
  const outer = total / n0;
  const idx = new Int32Array(r);
  let po = out.offset;
  ${ins.map((i) => `let p${i} = inputs[${i}].offset;`).join(' ')}
  for (let o = 0; o < outer; o++) {
    let xo = po;
    ${ins.map((i) => `let x${i} = p${i};`).join(' ')}
    for (let i = 0; i < n0; i++) {
      ${names.map((n, i) => `const ${n} = A${i}[x${i}];`).join(' ')}
      O[xo] = ${expr};
      xo += so;
      ${ins.map((i) => `x${i} += s${i};`).join(' ')}
    }
    for (let d = r - 2; d >= 0; d--) {
      po += S[0][d];
      ${ins.map((i) => `p${i} += S[${i + 1}][d];`).join(' ')}
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
      po -= S[0][d] * shape[d];
      ${ins.map((i) => `p${i} -= S[${i + 1}][d] * shape[d];`).join(' ')}
    }
  }
};`;
  const loop = new Function('M', 'coalesce', src)(helpers, coalesce) as StridedLoop;
  cache.set(key, loop);
  return loop;
}
