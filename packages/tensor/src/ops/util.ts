import type { Backend } from '../backend.js';
import { type DType, isFloat } from '../dtype.js';
import { fmtShape, TensorError } from '../errors.js';
import { broadcastStrides, type Shape, shapesEqual } from '../shape.js';
import { Tensor } from '../tensor.js';

/** Wraps a kernel's freshly allocated output. */
export function wrap(backend: Backend, data: object, shape: Shape, dtype: DType): Tensor {
  return Tensor.fromData(data, shape, dtype, backend);
}

/** The backend shared by all tensor inputs of an op, or an error naming the op. */
export function sameBackend(op: string, ...tensors: (Tensor | null | undefined)[]): Backend {
  let backend: Backend | null = null;
  for (const t of tensors) {
    if (!t) continue;
    if (backend && t.backend !== backend) {
      throw new TensorError(
        op,
        `inputs live on different backends (${backend.name} and ${t.backend.name}); move them to one backend first`,
      );
    }
    backend = t.backend;
  }
  if (!backend) throw new TensorError(op, 'needs at least one tensor input');
  return backend;
}

/** A tensor's layout read as if broadcast to `shape` (stride 0 on stretched axes). */
export function broadcastView(t: Tensor, shape: Shape) {
  const v = t.kernelView();
  if (shapesEqual(v.shape, shape)) return v;
  return { ...v, shape, strides: broadcastStrides(v.shape, v.strides, shape) };
}

/** Sums a gradient over the axes along which its input was broadcast, back to `shape`. */
export function sumToShape(g: Tensor, shape: Shape): Tensor {
  if (shapesEqual(g.shape, shape)) return g;
  const lead = g.rank - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < g.rank; i++) {
    if (i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1)) axes.push(i);
  }
  const summed = axes.length > 0 ? g.sum(axes, true) : g;
  return summed.reshape([...shape]);
}

/** Throws unless the tensor holds floats. */
export function requireFloat(op: string, name: string, t: Tensor): void {
  if (!isFloat(t.dtype)) {
    throw new TensorError(op, `${name} must be a float tensor, got ${t.dtype}`);
  }
}

/** Throws unless the tensor has exactly this shape. */
export function requireShape(op: string, name: string, t: Tensor, shape: Shape): void {
  if (!shapesEqual(t.shape, shape)) {
    throw new TensorError(
      op,
      `${name} must have shape ${fmtShape(shape)}, got ${fmtShape(t.shape)}`,
    );
  }
}

/** Throws unless the tensor has this rank. */
export function requireRank(
  op: string,
  name: string,
  t: Tensor,
  rank: number,
  layout: string,
): void {
  if (t.rank !== rank) {
    throw new TensorError(
      op,
      `${name} must have ${rank} axes (${layout}), got shape ${fmtShape(t.shape)}`,
    );
  }
}
