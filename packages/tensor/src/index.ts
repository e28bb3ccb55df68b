/**
 * @statetune/tensor: tensors with autograd, a CPU backend and the Backend interface device
 * backends implement, the selective-scan op, nn layers, optimizers, schedules and
 * safetensors. File helpers for Node live in `@statetune/tensor/node`.
 *
 * @packageDocumentation
 */

export type {
  AdamWStep,
  Backend,
  BackendData,
  MatmulArgs,
  MemoryInfo,
  RandomKey,
  ScanArgs,
  ScanGradients,
  ScanOutputs,
  SgdStep,
  View,
} from './backend.js';
export { CpuBackend } from './cpu/backend.js';
export { cpuThreads, setCpuThreads, shutdownPool as shutdownCpuWorkers } from './cpu/pool.js';
export { type DType, type HostArray, isFloat, promoteTypes } from './dtype.js';
export {
  type BackendName,
  dispose,
  findBackend,
  getBackend,
  isGradEnabled,
  keep,
  listBackends,
  noGrad,
  registerBackend,
  type SetBackendOptions,
  setBackend,
  tidy,
  withGradEnabled,
} from './engine.js';
export { TensorError } from './errors.js';
export {
  decodeSafetensorsTensor,
  parseSafetensorsHeader,
  readSafetensorsHeaderLength,
  type SafetensorsDType,
  type SafetensorsEntry,
  SafetensorsError,
  type SafetensorsHeader,
} from './io/safetensors.js';
export {
  type LoadTensorsOptions,
  type SaveTensorsOptions,
  tensorsFromSafetensors,
  tensorsToSafetensors,
} from './io/tensors.js';
export {
  Conv1d,
  Dropout,
  Embedding,
  type LayerInit,
  type LayerOptions,
  Linear,
  RMSNorm,
} from './nn/layers.js';
export { type LoadResult, Module, ModuleList } from './nn/module.js';
export { add, clamp, compare, div, maximum, minimum, mul, pow, sub, where } from './ops/binary.js';
export { causalConv1d } from './ops/conv.js';
export {
  arange,
  type CreateOptions,
  full,
  fullLike,
  ones,
  onesLike,
  type RandomOptions,
  rand,
  randn,
  tensor,
  zeros,
  zerosLike,
} from './ops/creation.js';
export { type DropoutOptions, dropout } from './ops/dropout.js';
export {
  abs,
  ceil,
  cos,
  exp,
  expm1,
  floor,
  gelu,
  log,
  log1p,
  neg,
  reciprocal,
  relu,
  round,
  rsqrt,
  sigmoid,
  sign,
  silu,
  sin,
  softplus,
  sqrt,
  square,
  tanh,
} from './ops/functional.js';
export { embedding, indexSelect } from './ops/indexing.js';
export { type CrossEntropyOptions, crossEntropy } from './ops/loss.js';
export { linear, matmul } from './ops/matmul.js';
export { rmsNorm } from './ops/norm.js';
export { argmax, max, mean, min, sum } from './ops/reduce.js';
export { type SelectiveScanInputs, type SelectiveScanOutputs, selectiveScan } from './ops/scan.js';
export { logSoftmax, softmax } from './ops/softmax.js';
export { BINARY_OPS, type BinaryOp, type ReduceOp, UNARY_OPS, type UnaryOp } from './ops/table.js';
export { cast } from './ops/unary.js';
export { concat, reshape, split, stack, view } from './ops/views.js';
export { AdamW, type AdamWOptions } from './optim/adamw.js';
export { clipGradNorm } from './optim/clip.js';
export {
  Optimizer,
  type OptimizerState,
  type ParamGroup,
  type ResolvedGroup,
} from './optim/optimizer.js';
export {
  constantSchedule,
  cosineSchedule,
  type LrLambda,
  LrScheduler,
  linearSchedule,
} from './optim/schedule.js';
export { SGD, type SgdOptions } from './optim/sgd.js';
export { optimizerStateFromTensors, optimizerStateToTensors } from './optim/state-file.js';
export { defaultGenerator, Generator, type GeneratorState, manualSeed } from './random.js';
export { broadcastShapes, coalesce, type Shape } from './shape.js';
export { type GradNode, type NestedArray, Storage, Tensor } from './tensor.js';
