import type { DType } from '../dtype.js';
import { TensorError } from '../errors.js';
import { causalConv1d } from '../ops/conv.js';
import { ones, rand, randn } from '../ops/creation.js';
import { dropout } from '../ops/dropout.js';
import { embedding } from '../ops/indexing.js';
import { linear } from '../ops/matmul.js';
import { rmsNorm } from '../ops/norm.js';
import type { Generator } from '../random.js';
import type { Tensor } from '../tensor.js';
import { Module } from './module.js';

/** Options shared by layers that create weights. */
export interface LayerOptions {
  readonly dtype?: DType;
  /** Stream for the initial values (default: the global generator). */
  readonly generator?: Generator;
}

function positiveInt(layer: string, name: string, v: number): void {
  if (!Number.isInteger(v) || v <= 0)
    throw new TensorError(layer, `${name} must be a positive integer, got ${v}`);
}

/** U(-bound, bound), the shape of PyTorch's default kaiming_uniform(a=sqrt(5)) init: bound = 1/sqrt(fan_in). */
function uniformInit(shape: number[], fanIn: number, o: LayerOptions): Tensor {
  const bound = fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0;
  return rand(shape, { low: -bound, high: bound, dtype: o.dtype, generator: o.generator });
}

/** y = x W^T + b, weight (out, in), initialised as torch.nn.Linear. */
export class Linear extends Module {
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly weight: Tensor;
  readonly bias: Tensor | null;

  constructor(
    inFeatures: number,
    outFeatures: number,
    options: LayerOptions & { bias?: boolean } = {},
  ) {
    super();
    positiveInt('Linear', 'inFeatures', inFeatures);
    positiveInt('Linear', 'outFeatures', outFeatures);
    this.inFeatures = inFeatures;
    this.outFeatures = outFeatures;
    this.weight = this.registerParameter(
      'weight',
      uniformInit([outFeatures, inFeatures], inFeatures, options),
    );
    this.bias =
      options.bias === false
        ? null
        : this.registerParameter('bias', uniformInit([outFeatures], inFeatures, options));
  }

  forward(x: Tensor): Tensor {
    return linear(x, this.weight, this.bias);
  }
}

/** Lookup table (num, dim), initialised N(0, 1) as torch.nn.Embedding. */
export class Embedding extends Module {
  readonly weight: Tensor;

  constructor(num: number, dim: number, options: LayerOptions = {}) {
    super();
    positiveInt('Embedding', 'num', num);
    positiveInt('Embedding', 'dim', dim);
    this.weight = this.registerParameter(
      'weight',
      randn([num, dim], { dtype: options.dtype, generator: options.generator }),
    );
  }

  /** Rows for int32 ids of any shape: (...ids, dim). */
  forward(ids: Tensor): Tensor {
    return embedding(this.weight, ids);
  }
}

/** RMSNorm over the last axis with a learned scale (ones at init). */
export class RMSNorm extends Module {
  readonly weight: Tensor;
  readonly eps: number;

  constructor(dim: number, options: { eps?: number; dtype?: DType } = {}) {
    super();
    positiveInt('RMSNorm', 'dim', dim);
    this.eps = options.eps ?? 1e-5;
    this.weight = this.registerParameter('weight', ones([dim], { dtype: options.dtype }));
  }

  forward(x: Tensor): Tensor {
    return rmsNorm(x, this.weight, this.eps);
  }
}

/**
 * Depthwise causal 1-D convolution over (batch, channels, len), with weight stored as
 * PyTorch's Conv1d(groups=channels) stores it, (channels, 1, width), so checkpoints load
 * unchanged.
 */
export class Conv1d extends Module {
  readonly channels: number;
  readonly kernelSize: number;
  readonly weight: Tensor;
  readonly bias: Tensor | null;

  constructor(
    channels: number,
    kernelSize: number,
    options: LayerOptions & { bias?: boolean } = {},
  ) {
    super();
    positiveInt('Conv1d', 'channels', channels);
    positiveInt('Conv1d', 'kernelSize', kernelSize);
    this.channels = channels;
    this.kernelSize = kernelSize;
    this.weight = this.registerParameter(
      'weight',
      uniformInit([channels, 1, kernelSize], kernelSize, options),
    );
    this.bias =
      options.bias === false
        ? null
        : this.registerParameter('bias', uniformInit([channels], kernelSize, options));
  }

  forward(x: Tensor): Tensor {
    return causalConv1d(x, this.weight, this.bias);
  }
}

/** Inverted dropout while training; the identity in eval mode. */
export class Dropout extends Module {
  private readonly generator: Generator | undefined;

  constructor(
    readonly p: number,
    options: { generator?: Generator } = {},
  ) {
    super();
    this.generator = options.generator;
    if (!(p >= 0 && p <= 1)) throw new TensorError('Dropout', `p must be in [0, 1], got ${p}`);
  }

  forward(x: Tensor): Tensor {
    return dropout(x, this.p, { training: this.training, generator: this.generator });
  }
}
