import { recordMulti } from '../autograd.js';
import { fmtShape, TensorError } from '../errors.js';
import type { Tensor } from '../tensor.js';
import { requireFloat, sameBackend, wrap } from './util.js';

/**
 * Depthwise causal 1-D convolution, as Mamba's conv1d (groups = channels, left padding
 * width - 1, first `len` outputs kept): y[b,c,t] = bias[c] + sum_k w[c,k] x[b,c,t-width+1+k].
 * x is (batch, channels, len); weight is (channels, width) or PyTorch's (channels, 1, width).
 */
export function causalConv1d(x: Tensor, weight: Tensor, bias?: Tensor | null): Tensor {
  const backend = sameBackend('causalConv1d', x, weight, bias);
  requireFloat('causalConv1d', 'input', x);
  if (x.rank !== 3) {
    throw new TensorError(
      'causalConv1d',
      `input must be (batch, channels, len), got ${fmtShape(x.shape)}`,
    );
  }
  const [batch, channels, len] = x.shape;
  const w2 =
    weight.rank === 3 && weight.shape[1] === 1
      ? weight.reshape(weight.shape[0], weight.shape[2])
      : weight;
  if (w2.rank !== 2 || w2.shape[0] !== channels || w2.dtype !== x.dtype) {
    throw new TensorError(
      'causalConv1d',
      `weight must be ${x.dtype} (channels=${channels}, width) or (channels, 1, width), got ${weight.dtype} ${fmtShape(weight.shape)}`,
    );
  }
  const width = w2.shape[1];
  if (width < 1) throw new TensorError('causalConv1d', 'kernel width must be at least 1');
  if (bias && (bias.rank !== 1 || bias.shape[0] !== channels || bias.dtype !== x.dtype)) {
    throw new TensorError(
      'causalConv1d',
      `bias must be ${x.dtype} of shape [${channels}], got ${bias.dtype} ${fmtShape(bias.shape)}`,
    );
  }
  const xs = x.contiguous();
  const ws = w2.contiguous();
  const bs = bias?.contiguous() ?? null;
  const y = wrap(
    backend,
    backend.conv1d(
      xs.kernelView(),
      ws.kernelView(),
      bs?.kernelView() ?? null,
      batch,
      channels,
      len,
      width,
    ),
    x.shape,
    x.dtype,
  );
  recordMulti('causalConv1d', [xs, ws, bs], [y], (grads) => {
    const g = grads[0];
    if (!g) return [null, null, null];
    const d = backend.conv1dGrad(
      xs.kernelView(),
      ws.kernelView(),
      g.contiguous().kernelView(),
      batch,
      channels,
      len,
      width,
      bs !== null,
    );
    return [
      wrap(backend, d.dx, x.shape, x.dtype),
      wrap(backend, d.dweight, ws.shape, x.dtype),
      d.dbias && bs ? wrap(backend, d.dbias, bs.shape, x.dtype) : null,
    ];
  });
  return y;
}
