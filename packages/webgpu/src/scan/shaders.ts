import { WGSL } from '../shaders.gen.js';

/** The scan kernels' WGSL files, by name under `src/scan/` without `.wgsl`. */
export type ScanShaderPart =
  | 'common'
  | 'geometry'
  | 'cell'
  | 'reduce-subgroup'
  | 'reduce-workgroup'
  | 'forward-carry'
  | 'forward'
  | 'backward-prep'
  | 'backward-carry'
  | 'backward'
  | 'backward-params'
  | 'backward-bc'
  | 'gate-grad'
  | 'copy';

/**
 * One shader module's source: the parts joined in order. WGSL has no `#include`, so shared
 * code (sizes and maths, geometry, the state-axis reduction) is prepended by the driver; a
 * part that begins with an `enable` directive must come first.
 */
export function scanShader(parts: readonly ScanShaderPart[]): string {
  return parts.map((part) => WGSL[`scan/${part}`]).join('\n');
}
