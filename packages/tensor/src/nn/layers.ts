import type { DType } from '../dtype.js';
import { TensorError } from '../errors.js';
import { causalConv1d } from '../ops/conv.js';
import { ones, rand, randn, zeros } from '../ops/creation.js';
import { dropout } from '../ops/dropout.js';
import { embedding } from '../ops/indexing.js';
import { linear } from '../ops/matmul.js';
import { rmsNorm } from '../ops/norm.js';
import type { Generator } from '../random.js';
import type { Tensor } from '../tensor.js';
import { Module } from './module.js';

/**
 * How a layer fills its parameters when it is constructed:
 * - `'default'`: PyTorch's initialisation for the layer (random draws for `Linear`,
 *   `Conv1d` and `Embedding`, ones for `RMSNorm`'s scale);
 * - `'zeros'`: no draw at all; every parameter is zero-filled memory. Meant for a model
 *   whose weights a checkpoint loader overwrites right away: construction costs only the
 *   allocation (a 50280 x 768 table takes milliseconds instead of seconds), and the
 *   generator's stream does not advance, so later draws are those of a model that drew
 *   nothing.
 */
export type LayerInit = 'default' | 'zeros';

/** Options shared by layers that create weights. */
export interface LayerOptions {
  readonly dtype?: DType;
  /** Stream for the initial values (default: the global generator). */
  readonly generator?: Generator;
  /** How the parameters start (default `'default'`); see {@link LayerInit}. */
  readonly init?: LayerInit;
}

function positiveInt(layer: string, name: string, v: number): void {
  if (!Number.isInteger(v) || v <= 0)
    throw new TensorError(layer, `${name} must be a positive integer, got ${v}`);
}

function checkInit(layer: string, o: LayerOptions): boolean {
  const init = o.init ?? 'default';
  if (init !== 'default' && init !== 'zeros') {
    throw new TensorError(layer, `init must be 'default' or 'zeros', got ${String(init)}`);
  }
  return init === 'zeros';
}

/**
 * U(-bound, bound), the shape of PyTorch's default kaiming_uniform(a=sqrt(5)) init: bound =
 * 1/sqrt(fan_in); zeros without a draw for `init: 'zeros'`.
 */
function uniformInit(shape: number[], fanIn: number, o: LayerOptions): Tensor {
  if (o.init === 'zeros') return zeros(shape, { dtype: o.dtype });
  const bound = fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0;
  return rand(shape, { low: -bound, high: bound, dtype: o.dtype, generator: o.generator });
}

/** y = x W^T + b, weight (out, in), initialised as torch.nn.Linear (or zeros, see {@link LayerInit}). */
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
    checkInit('Linear', options);
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

/** Lookup table (num, dim), initialised N(0, 1) as torch.nn.Embedding (or zeros, see {@link LayerInit}). */
export class Embedding extends Module {
  readonly weight: Tensor;

  /**
   * @param options - `std`: the standard deviation of the N(0, std^2) initial values
   *   (default 1, as `torch.nn.Embedding`; Mamba and GPT-style models use 0.02).
   */
  constructor(num: number, dim: number, options: LayerOptions & { std?: number } = {}) {
    super();
    positiveInt('Embedding', 'num', num);
    positiveInt('Embedding', 'dim', dim);
    const std = options.std ?? 1;
    if (!(std >= 0 && Number.isFinite(std))) {
      throw new TensorError('Embedding', `std must be a finite number >= 0, got ${std}`);
    }
    const weight = checkInit('Embedding', options)
      ? zeros([num, dim], { dtype: options.dtype })
      : randn([num, dim], { std, dtype: options.dtype, generator: options.generator });
    this.weight = this.registerParameter('weight', weight);
  }

  /** Rows for int32 ids of any shape: (...ids, dim). */
  forward(ids: Tensor): Tensor {
    return embedding(this.weight, ids);
  }
}

/** RMSNorm over the last axis with a learned scale (ones at init; zeros with `init: 'zeros'`). */
export class RMSNorm extends Module {
  readonly weight: Tensor;
  readonly eps: number;

  constructor(dim: number, options: { eps?: number; dtype?: DType; init?: LayerInit } = {}) {
    super();
    positiveInt('RMSNorm', 'dim', dim);
    this.eps = options.eps ?? 1e-5;
    const init = checkInit('RMSNorm', options) ? zeros : ones;
    this.weight = this.registerParameter('weight', init([dim], { dtype: options.dtype }));
  }

  forward(x: Tensor): Tensor {
    return rmsNorm(x, this.weight, this.eps);
  }
}

/**
 * Depthwise causal 1-D convolution over (batch, channels, len), with weight stored as
 * PyTorch's Conv1d(groups=channels) stores it, (channels, 1, width), so checkpoints load
 * unchanged. Initialised as torch.nn.Conv1d (or zeros, see {@link LayerInit}).
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
    checkInit('Conv1d', options);
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
