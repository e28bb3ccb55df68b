import type { MambaForCausalLM } from '@statetune/mamba';
import { type Generator, rand, type Tensor } from '@statetune/tensor';
import { PeftError } from './errors.js';

/**
 * PyTorch's `kaiming_uniform_(t, a=sqrt(5))` for a tensor whose fan-in is `fanIn`:
 * U(-1/sqrt(fanIn), 1/sqrt(fanIn)) (how PEFT initialises lora_A and the paper's code its
 * random adapters).
 */
export function kaimingUniform(
  shape: readonly number[],
  fanIn: number,
  generator: Generator,
): Tensor {
  const bound = 1 / Math.sqrt(fanIn);
  return rand(shape, { low: -bound, high: bound, generator });
}

/**
 * The layer indices an adapter covers: all, or `layers_to_transform` checked against the
 * model's depth.
 */
export function selectedLayers(
  model: MambaForCausalLM,
  layers: readonly number[] | null,
  adapterName: string,
): number[] {
  const n = model.config.nLayer;
  if (layers === null) return Array.from({ length: n }, (_, i) => i);
  const bad = layers.filter((i) => i >= n);
  if (bad.length > 0) {
    throw new PeftError(
      `adapter "${adapterName}": layers_to_transform names layer(s) ${bad.join(', ')} but the model has ${n} layers (0-${n - 1})`,
    );
  }
  return [...layers].sort((a, b) => a - b);
}

/** Number of layers a config covers. */
export function layerCount(nLayer: number, layers: readonly number[] | null): number {
  return layers === null ? nLayer : layers.filter((i) => i < nLayer).length;
}

/** The saved-key prefix of layer i's mixer. */
export function mixerKey(layer: number): string {
  return `backbone.layers.${layer}.mixer`;
}
