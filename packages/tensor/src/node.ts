/**
 * @statetune/tensor/node: safetensors files on disk (Node only).
 *
 * @packageDocumentation
 */

export { loadSafetensors, saveSafetensors } from './io/files.js';
export {
  readSafetensorsFile,
  SafetensorsFile,
  writeSafetensorsFile,
} from './io/safetensors-file.js';
