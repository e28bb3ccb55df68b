/**
 * Opening a weight file of either format from a byte source.
 *
 * @packageDocumentation
 */

import { openSafetensorsWeights } from './safetensors.js';
import type { ByteSource } from './source.js';
import { openTorchWeights } from './torch.js';
import type { WeightFile } from './weights.js';

/**
 * Opens a safetensors file or a `pytorch_model.bin` from a byte source as a weight file; the
 * source is closed if opening fails.
 */
export async function openWeightSource(
  source: ByteSource,
  format: 'safetensors' | 'pytorch',
): Promise<WeightFile> {
  try {
    return format === 'safetensors'
      ? await openSafetensorsWeights(source)
      : await openTorchWeights(source);
  } catch (error) {
    await source.close?.().catch(() => {});
    throw error;
  }
}
