import { record, recordMulti } from '../autograd.js';
import { isFloat } from '../dtype.js';
import { isGradEnabled } from '../engine.js';
import { fmtShape, TensorError } from '../errors.js';
import {
  broadcastShapes,
  checkShape,
  contiguousStrides,
  normalizeAxis,
  type Shape,
  shapesEqual,
  sizeOf,
} from '../shape.js';
import type { Tensor } from '../tensor.js';
import { broadcastView, sameBackend, sumToShape, wrap } from './util.js';

/**
 * Ops that change how memory is read: views share the input's memory (reshape of a
 * contiguous tensor, permute, expand, slice); copies make contiguous memory.
 */

/** A contiguous copy, recorded for autograd. */
export function clone(x: Tensor): Tensor {
  const out = wrap(x.backend, x.backend.copy(x.kernelView(), x.dtype), x.shape, x.dtype);
  return record('clone', [x], out, (g) => [g]);
}

/** x itself when contiguous, else a contiguous copy. */
export function contiguous(x: Tensor): Tensor {
  return x.isContiguous ? x : clone(x);
}

/** Copies `source` into `target`'s memory in place, broadcasting and converting the dtype. */
export function assign(target: Tensor, source: Tensor): void {
  sameBackend('assign', target, source);
  if (target.requiresGrad && isGradEnabled()) {
    throw new TensorError(
      'assign',
      `cannot overwrite ${target.name ?? 'a tensor'} in place while it requires a gradient and gradients are recorded ` +
        '(a recorded graph may have saved it); wrap the write in noGrad()',
    );
  }
  // The source must broadcast to the target's shape itself, not merely with it.
  const shape = broadcastShapes('assign', source.shape, target.shape);
  if (!shapesEqual(shape, target.shape)) {
    throw new TensorError(
      'assign',
      `cannot write a tensor of shape ${fmtShape(source.shape)} into one of shape ${fmtShape(target.shape)}`,
    );
  }
  // Several elements of a broadcast view share one memory location: a write is ambiguous.
  const shared = target.shape.findIndex((d, i) => d > 1 && target.strides[i] === 0);
  if (shared >= 0) {
    throw new TensorError(
      'assign',
      `the target of shape ${fmtShape(target.shape)} is a broadcast view (axis ${shared} repeats one ` +
        'element); write into the tensor it was expanded from, or a contiguous() copy',
    );
  }
  // Reading and writing the same memory in one pass would read values already overwritten.
  const src =
    source.storage === target.storage
      ? wrap(
          source.backend,
          source.backend.copy(source.kernelView(), source.dtype),
          source.shape,
          source.dtype,
        )
      : source;
  target.backend.copyInto(target.kernelView(), broadcastView(src, target.shape));
  if (src !== source) src.dispose();
}

/**
 * A new tensor object over the same elements: ops that change nothing still return their own
 * tensor, so disposing the result never disposes the input.
 */
function alias(x: Tensor, op: string): Tensor {
  return viewOf(x, x.shape, x.strides, x.offset, op, (g) => g);
}

function viewOf(
  x: Tensor,
  shape: Shape,
  strides: readonly number[],
  offset: number,
  op: string,
  back: (g: Tensor) => Tensor,
): Tensor {
  const out = x.withLayout(shape, strides, offset);
  if (!isFloat(x.dtype)) return out;
  return record(op, [x], out, (g) => [back(g)]);
}

/** Same elements, another shape, never copied: the tensor must be contiguous (see {@link reshape}). */
export function view(x: Tensor, shape: readonly number[]): Tensor {
  if (!x.isContiguous) {
    throw new TensorError(
      'view',
      `a tensor of shape ${fmtShape(x.shape)} with strides ${fmtShape(x.strides)} is not contiguous; use reshape(), which copies when it must`,
    );
  }
  return reshape(x, shape);
}

/** Same elements, another shape; -1 infers one axis. A view when the layout allows, else a copy. */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  const target = [...shape];
  const infer = target.indexOf(-1);
  if (infer !== target.lastIndexOf(-1)) {
    throw new TensorError('reshape', `only one axis can be -1, got ${fmtShape(shape)}`);
  }
  if (infer >= 0) {
    const known = target.reduce((p, d, i) => (i === infer ? p : p * d), 1);
    if (known === 0 || x.size % known !== 0) {
      throw new TensorError(
        'reshape',
        `cannot reshape ${fmtShape(x.shape)} (${x.size} elements) into ${fmtShape(shape)}`,
      );
    }
    target[infer] = x.size / known;
  }
  checkShape('reshape', target);
  if (sizeOf(target) !== x.size) {
    throw new TensorError(
      'reshape',
      `cannot reshape ${fmtShape(x.shape)} (${x.size} elements) into ${fmtShape(shape)} (${sizeOf(target)} elements)`,
    );
  }
  if (shapesEqual(target, x.shape)) return alias(x, 'reshape');
  const src = x.isContiguous ? x : clone(x);
  return viewOf(src, target, contiguousStrides(target), src.offset, 'reshape', (g) =>
    reshape(g, src.shape),
  );
}

/** Merges axes start..end (inclusive) into one. */
export function flatten(x: Tensor, start = 0, end = -1): Tensor {
  if (x.rank === 0) return reshape(x, [1]);
  const s = normalizeAxis('flatten', start, x.rank);
  const e = normalizeAxis('flatten', end, x.rank);
  if (s > e) throw new TensorError('flatten', `start axis ${start} comes after end axis ${end}`);
  const merged = x.shape.slice(s, e + 1).reduce((p, d) => p * d, 1);
  return reshape(x, [...x.shape.slice(0, s), merged, ...x.shape.slice(e + 1)]);
}

/** Reorders axes: output axis i is input axis axes[i]. */
export function permute(x: Tensor, axes: readonly number[]): Tensor {
  if (axes.length !== x.rank) {
    throw new TensorError(
      'permute',
      `needs ${x.rank} axes for shape ${fmtShape(x.shape)}, got ${JSON.stringify(axes)}`,
    );
  }
  const norm = axes.map((a) => normalizeAxis('permute', a, x.rank));
  if (new Set(norm).size !== norm.length) {
    throw new TensorError('permute', `${JSON.stringify(axes)} is not a permutation of the axes`);
  }
  if (norm.every((a, i) => a === i)) return alias(x, 'permute');
  const inverse = new Array<number>(norm.length);
  norm.forEach((a, i) => {
    inverse[a] = i;
  });
  return viewOf(
    x,
    norm.map((a) => x.shape[a]),
    norm.map((a) => x.strides[a]),
    x.offset,
    'permute',
    (g) => permute(g, inverse),
  );
}

/** Swaps two axes. */
export function transpose(x: Tensor, a = -2, b = -1): Tensor {
  if (x.rank < 2 && a === -2 && b === -1) return alias(x, 'transpose');
  const axes = Array.from({ length: x.rank }, (_, i) => i);
  const i = normalizeAxis('transpose', a, x.rank);
  const j = normalizeAxis('transpose', b, x.rank);
  [axes[i], axes[j]] = [axes[j], axes[i]];
  return permute(x, axes);
}

/** Broadcasts to `shape` without copying (-1 keeps an axis). */
export function expand(x: Tensor, shape: readonly number[]): Tensor {
  const lead = shape.length - x.rank;
  if (lead < 0) {
    throw new TensorError(
      'expand',
      `cannot expand shape ${fmtShape(x.shape)} to fewer axes ${fmtShape(shape)}`,
    );
  }
  const target = shape.map((d, i) => (d === -1 && i >= lead ? x.shape[i - lead] : d));
  checkShape('expand', target);
  const out = broadcastShapes('expand', x.shape, target);
  if (!shapesEqual(out, target)) {
    throw new TensorError(
      'expand',
      `cannot expand shape ${fmtShape(x.shape)} to ${fmtShape(shape)}`,
    );
  }
  if (shapesEqual(target, x.shape)) return alias(x, 'expand');
  const v = broadcastView(x, target);
  return viewOf(x, target, v.strides, x.offset, 'expand', (g) => sumToShape(g, x.shape));
}

/** Removes axes of size 1 (the given ones, or all). */
export function squeeze(x: Tensor, axis?: number | readonly number[]): Tensor {
  const axes =
    axis === undefined
      ? x.shape.flatMap((d, i) => (d === 1 ? [i] : []))
      : (typeof axis === 'number' ? [axis] : axis).map((a) => normalizeAxis('squeeze', a, x.rank));
  // As torch.squeeze: a named axis whose size is not 1 is left as it is.
  const drop = axes.filter((a) => x.shape[a] === 1);
  if (drop.length === 0) return alias(x, 'squeeze');
  const keepAxis = (_: number, i: number) => !drop.includes(i);
  return viewOf(x, x.shape.filter(keepAxis), x.strides.filter(keepAxis), x.offset, 'squeeze', (g) =>
    reshape(g, x.shape),
  );
}

/** Inserts an axis of size 1 at `axis` (which may equal the rank). */
export function unsqueeze(x: Tensor, axis: number): Tensor {
  const a = normalizeAxis('unsqueeze', axis, x.rank + 1);
  const shape = [...x.shape];
  const strides = [...x.strides];
  shape.splice(a, 0, 1);
  strides.splice(a, 0, a < x.rank ? x.strides[a] * x.shape[a] : 1);
  return viewOf(x, shape, strides, x.offset, 'unsqueeze', (g) => reshape(g, x.shape));
}

function sliceBounds(
  op: string,
  size: number,
  start: number,
  end: number | undefined,
  step: number,
): [number, number, number] {
  if (!Number.isInteger(step) || step <= 0) {
    throw new TensorError(op, `step must be a positive integer, got ${step}`);
  }
  const clampIdx = (i: number) => Math.min(Math.max(i < 0 ? i + size : i, 0), size);
  const s = clampIdx(start);
  const e = end === undefined ? size : clampIdx(end);
  const n = e > s ? Math.ceil((e - s) / step) : 0;
  return [s, n, step];
}

/** Elements start..end (exclusive) by `step` along `axis`, as Python slices with a positive step (bounds clamp, negatives count from the end). */
export function slice(x: Tensor, axis: number, start: number, end?: number, step = 1): Tensor {
  const a = normalizeAxis('slice', axis, x.rank);
  if (!Number.isInteger(start) || (end !== undefined && !Number.isInteger(end))) {
    throw new TensorError('slice', `bounds must be integers, got ${start}..${end}`);
  }
  const [s, n, st] = sliceBounds('slice', x.shape[a], start, end, step);
  if (s === 0 && n === x.shape[a] && st === 1) return alias(x, 'slice');
  const shape = [...x.shape];
  const strides = [...x.strides];
  shape[a] = n;
  strides[a] = x.strides[a] * st;
  return viewOf(x, shape, strides, x.offset + s * x.strides[a], 'slice', (g) => {
    // The gradient of a slice is zero outside it: write g into a zero tensor's window.
    const dx = wrap(g.backend, g.backend.allocate(g.dtype, x.size), x.shape, g.dtype);
    const dense = contiguousStrides(x.shape);
    const windowStrides = dense.map((d, i) => (i === a ? d * st : d));
    g.backend.copyInto(
      {
        data: dx.kernelView().data,
        dtype: g.dtype,
        shape,
        strides: windowStrides,
        offset: s * dense[a],
      },
      g.kernelView(),
    );
    return dx;
  });
}

/** `length` elements from `start` (negative counts from the end) along `axis`; errors past the end, as torch.narrow. */
export function narrow(x: Tensor, axis: number, start: number, length: number): Tensor {
  const a = normalizeAxis('narrow', axis, x.rank);
  const size = x.shape[a];
  const s = start < 0 ? start + size : start;
  if (
    !Number.isInteger(start) ||
    !Number.isInteger(length) ||
    s < 0 ||
    s > size ||
    length < 0 ||
    s + length > size
  ) {
    throw new TensorError(
      'narrow',
      `start ${start} and length ${length} do not fit axis ${a} of size ${size} (shape ${fmtShape(x.shape)})`,
    );
  }
  return slice(x, a, s, s + length);
}

/** The sub-tensor at `index` along `axis`, with that axis removed. */
export function select(x: Tensor, axis: number, index: number): Tensor {
  const a = normalizeAxis('select', axis, x.rank);
  const size = x.shape[a];
  if (!Number.isInteger(index) || index < -size || index >= size) {
    throw new TensorError('select', `index ${index} is out of range for axis ${a} of size ${size}`);
  }
  const i = index < 0 ? index + size : index;
  return squeeze(slice(x, a, i, i + 1), a);
}

/** Splits along `axis` into pieces of the given sizes, or of `sizes` elements each (the last may be shorter). */
export function split(x: Tensor, sizes: number | readonly number[], axis = 0): Tensor[] {
  const a = normalizeAxis('split', axis, x.rank);
  const total = x.shape[a];
  let parts: number[];
  if (typeof sizes === 'number') {
    if (!Number.isInteger(sizes) || sizes <= 0) {
      throw new TensorError('split', `piece size must be a positive integer, got ${sizes}`);
    }
    parts = [];
    for (let s = 0; s < total; s += sizes) parts.push(Math.min(sizes, total - s));
  } else {
    parts = [...sizes];
    const sum = parts.reduce((p, d) => p + d, 0);
    if (parts.some((d) => !Number.isInteger(d) || d < 0) || sum !== total) {
      throw new TensorError(
        'split',
        `sizes ${JSON.stringify(sizes)} must be non-negative integers summing to ${total} (axis ${a} of ${fmtShape(x.shape)})`,
      );
    }
  }
  const outs: Tensor[] = [];
  let start = 0;
  for (const n of parts) {
    const shape = [...x.shape];
    shape[a] = n;
    outs.push(x.withLayout(shape, x.strides, x.offset + start * x.strides[a]));
    start += n;
  }
  if (isFloat(x.dtype)) {
    // One node for all pieces: the backward is a single concat, not one zero tensor per piece.
    recordMulti('split', [x], outs, (grads) => [
      concat(
        grads.map(
          (g, i) =>
            g ?? wrap(x.backend, x.backend.allocate(x.dtype, outs[i].size), outs[i].shape, x.dtype),
        ),
        a,
      ),
    ]);
  }
  return outs;
}

/** Joins tensors along an existing axis. */
export function concat(tensors: readonly Tensor[], axis = 0): Tensor {
  if (tensors.length === 0) throw new TensorError('concat', 'needs at least one tensor');
  const first = tensors[0];
  const backend = sameBackend('concat', ...tensors);
  if (first.rank === 0) {
    throw new TensorError(
      'concat',
      'cannot join tensors without axes (shape []); use stack() for scalars',
    );
  }
  const a = normalizeAxis('concat', axis, first.rank);
  let total = 0;
  tensors.forEach((t, i) => {
    const same = t.rank === first.rank && t.shape.every((d, j) => j === a || d === first.shape[j]);
    if (!same || t.dtype !== first.dtype) {
      throw new TensorError(
        'concat',
        `tensor ${i} (${t.dtype} ${fmtShape(t.shape)}) does not match tensor 0 (${first.dtype} ${fmtShape(first.shape)}) outside axis ${a}`,
      );
    }
    total += t.shape[a];
  });
  const shape = [...first.shape];
  shape[a] = total;
  const out = wrap(backend, backend.allocate(first.dtype, sizeOf(shape)), shape, first.dtype);
  const strides = contiguousStrides(shape);
  let start = 0;
  for (const t of tensors) {
    if (t.size > 0) {
      backend.copyInto(
        {
          data: out.kernelView().data,
          dtype: out.dtype,
          shape: t.shape,
          strides,
          offset: start * strides[a],
        },
        t.kernelView(),
      );
    }
    start += t.shape[a];
  }
  if (!isFloat(first.dtype)) return out;
  return record('concat', tensors, out, (g) => {
    let s = 0;
    return tensors.map((t) => {
      const piece = t.requiresGrad ? slice(g, a, s, s + t.shape[a]) : null;
      s += t.shape[a];
      return piece;
    });
  });
}

/** Joins tensors of equal shape along a new axis. */
export function stack(tensors: readonly Tensor[], axis = 0): Tensor {
  if (tensors.length === 0) throw new TensorError('stack', 'needs at least one tensor');
  const a = normalizeAxis('stack', axis, tensors[0].rank + 1);
  tensors.forEach((t, i) => {
    if (!shapesEqual(t.shape, tensors[0].shape)) {
      throw new TensorError(
        'stack',
        `tensor ${i} has shape ${fmtShape(t.shape)}, tensor 0 has ${fmtShape(tensors[0].shape)}`,
      );
    }
  });
  return concat(
    tensors.map((t) => unsqueeze(t, a)),
    a,
  );
}
