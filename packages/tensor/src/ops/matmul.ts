import { record } from '../autograd.js';
import { isFloat, promoteTypes } from '../dtype.js';
import { fmtShape, TensorError } from '../errors.js';
import { broadcastShapes, broadcastStrides } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { add } from './binary.js';
import { cast } from './unary.js';
import { sameBackend, sumToShape, wrap } from './util.js';

/**
 * The matrix layout of a tensor's last two axes: row-major as is, or row-major once
 * transposed (a transposed view costs nothing), or neither (copied).
 */
function matrixOperand(t: Tensor): { src: Tensor; trans: boolean } {
  const r = t.rank;
  const [rows, cols] = [t.shape[r - 2], t.shape[r - 1]];
  const [sr, sc] = [t.strides[r - 2], t.strides[r - 1]];
  if ((sc === 1 || cols === 1) && (sr === cols || rows === 1)) return { src: t, trans: false };
  if ((sr === 1 || rows === 1) && (sc === rows || cols === 1)) {
    const shape = [...t.shape.slice(0, -2), cols, rows];
    const strides = [...t.strides.slice(0, -2), sc, sr];
    return { src: t.withLayout(shape, strides, t.offset), trans: true };
  }
  return {
    src: wrap(t.backend, t.backend.copy(t.kernelView(), t.dtype), t.shape, t.dtype),
    trans: false,
  };
}

/** Batched matrix product with NumPy broadcasting of leading axes; 1-D operands as in torch.matmul. */
export function matmul(a: Tensor, b: Tensor): Tensor {
  const backend = sameBackend('matmul', a, b);
  if (a.rank === 0 || b.rank === 0) {
    throw new TensorError(
      'matmul',
      `operands must have at least one axis, got ${fmtShape(a.shape)} and ${fmtShape(b.shape)}`,
    );
  }
  // Checked before 1-D operands gain an axis, so that messages show the shapes as given.
  const kA = a.shape[a.rank - 1];
  const kB = b.shape[b.rank === 1 ? 0 : b.rank - 2];
  if (kA !== kB) {
    throw new TensorError(
      'matmul',
      `inner sizes differ: ${fmtShape(a.shape)} @ ${fmtShape(b.shape)} (${kA} vs ${kB})`,
    );
  }
  if (!isFloat(a.dtype) || !isFloat(b.dtype)) {
    throw new TensorError(
      'matmul',
      `operands must be float tensors, got ${a.dtype} and ${b.dtype}`,
    );
  }
  if (a.rank === 1 && b.rank === 1) return matmul(a.unsqueeze(0), b.unsqueeze(-1)).reshape([]);
  if (a.rank === 1) return matmul(a.unsqueeze(0), b).squeeze(-2);
  if (b.rank === 1) return matmul(a, b.unsqueeze(-1)).squeeze(-1);
  const dtype = promoteTypes(a.dtype, b.dtype);
  a = cast(a, dtype);
  b = cast(b, dtype);
  const [m, k] = [a.shape[a.rank - 2], a.shape[a.rank - 1]];
  const n = b.shape[b.rank - 1];
  // A weight without batch axes against a contiguous batch: one tall matrix product, whose
  // weight gradient then needs no reduction over the batch.
  if (b.rank === 2 && a.rank > 2 && a.isContiguous) {
    const lead = a.shape.slice(0, -1);
    const rows = lead.reduce((p, d) => p * d, 1);
    return matmul(a.reshape(rows, k), b).reshape([...lead, n]);
  }
  let batchShape: number[];
  try {
    batchShape = broadcastShapes('matmul', a.shape.slice(0, -2), b.shape.slice(0, -2));
  } catch {
    throw new TensorError(
      'matmul',
      `batch axes do not broadcast: ${fmtShape(a.shape)} @ ${fmtShape(b.shape)} ` +
        `(batch ${fmtShape(a.shape.slice(0, -2))} and ${fmtShape(b.shape.slice(0, -2))})`,
    );
  }
  const A = matrixOperand(a);
  const B = matrixOperand(b);
  const batched = (t: Tensor) => {
    const v = t.kernelView();
    const outer = v.shape.slice(0, -2);
    const strides = broadcastStrides(outer, v.strides.slice(0, -2), batchShape);
    return {
      ...v,
      shape: [...batchShape, ...v.shape.slice(-2)],
      strides: [...strides, ...v.strides.slice(-2)],
    };
  };
  const data = backend.matmul({
    a: batched(A.src),
    b: batched(B.src),
    transA: A.trans,
    transB: B.trans,
    batchShape,
    m,
    n,
    k,
  });
  const out = wrap(backend, data, [...batchShape, m, n], dtype);
  return record('matmul', [a, b], out, (g) => [
    a.requiresGrad
      ? operandGrad(
          a,
          A.trans,
          () => matmul(g, b.transpose(-2, -1)),
          () => matmul(b, g.transpose(-2, -1)),
        )
      : null,
    b.requiresGrad
      ? operandGrad(
          b,
          B.trans,
          () => matmul(a.transpose(-2, -1), g),
          () => matmul(g.transpose(-2, -1), a),
        )
      : null,
  ]);
}

/**
 * The gradient of a matmul operand in the operand's own layout. For a row-major operand it is
 * `direct()`, contiguous. For a transposed view (the weight of `x @ W^T`) it is `swapped()`,
 * the gradient of the underlying matrix computed contiguously (`dW = dy^T @ x` with the
 * kernel's transpose flags, no copies), handed back as a transposed view of it: the
 * transpose's own backward then turns it into a contiguous gradient, so a large weight never
 * receives a gradient that is a strided view.
 */
function operandGrad(
  t: Tensor,
  trans: boolean,
  direct: () => Tensor,
  swapped: () => Tensor,
): Tensor {
  if (!trans) return sumToShape(direct(), t.shape);
  const r = t.rank;
  const flipped = [...t.shape.slice(0, -2), t.shape[r - 1], t.shape[r - 2]];
  return sumToShape(swapped(), flipped).transpose(-2, -1);
}

/** x @ weight^T + bias, with weight of shape (out, in) as in PyTorch's nn.Linear. */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor | null): Tensor {
  if (weight.rank !== 2) {
    throw new TensorError(
      'linear',
      `weight must have shape (out, in), got ${fmtShape(weight.shape)}`,
    );
  }
  const inFeatures = weight.shape[1];
  if (x.rank === 0 || x.shape[x.rank - 1] !== inFeatures) {
    throw new TensorError(
      'linear',
      `input of shape ${fmtShape(x.shape)} does not end in ${inFeatures} features (weight ${fmtShape(weight.shape)})`,
    );
  }
  if (bias && (bias.rank !== 1 || bias.shape[0] !== weight.shape[0])) {
    throw new TensorError(
      'linear',
      `bias must have shape [${weight.shape[0]}], got ${fmtShape(bias.shape)}`,
    );
  }
  const y = matmul(x, weight.transpose(-2, -1));
  return bias ? add(y, bias) : y;
}
