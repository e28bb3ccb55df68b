/**
 * Assembling a {@link Checkpoint} from `config.json` and weight files, and validating it.
 *
 * @packageDocumentation
 */

import { detectConfigLayout, type MambaConfig, parseMambaConfig } from '../config.js';
import type { CheckpointDType } from './convert.js';
import { CheckpointError, CheckpointValidationError, type MisshapedTensor } from './errors.js';
import {
  canonicalTensorName,
  EMBEDDING,
  expectedTensors,
  LM_HEAD,
  STATE_SPACES_EMBEDDING,
} from './names.js';
import type { WeightFile } from './weights.js';

/** One tensor of a checkpoint. */
export interface CheckpointTensorInfo {
  /** The canonical (Hugging Face `MambaForCausalLM`) name. */
  readonly name: string;
  readonly shape: readonly number[];
  /** How the file stores it; {@link Checkpoint.read} always gives float32. */
  readonly dtype: CheckpointDType;
  /** The name in the file (differs from `name` for the state-spaces embedding). */
  readonly sourceName: string;
}

/** An opened checkpoint: its configuration and lazily read tensors. */
export interface Checkpoint {
  readonly config: MambaConfig;
  /** The tensor naming of the weights: Hugging Face or original state-spaces. */
  readonly layout: 'hf' | 'state-spaces';
  readonly format: 'safetensors' | 'pytorch';
  /** Where the checkpoint came from (a directory, URL or `<memory>`), for messages. */
  readonly source: string;
  /** The tensors by canonical name, in model order, without `lm_head.weight` when tied. */
  tensors(): readonly CheckpointTensorInfo[];
  /**
   * Reads one tensor by canonical name, converted to float32, in C order. Only that tensor's
   * bytes are read. With tied embeddings `lm_head.weight` reads the embedding.
   */
  read(name: string): Promise<Float32Array>;
  /** Closes the underlying files; later reads fail. */
  close(): Promise<void>;
}

/** The files of a checkpoint, however they are stored (internal). */
export interface CheckpointFiles {
  /** Names the checkpoint in messages (a directory or URL). */
  readonly name: string;
  /** The text of a small file (`config.json`, an index), or undefined when absent. */
  readText(file: string): Promise<string | undefined>;
  /** Opens a weight file, or returns undefined when absent. */
  openWeights(file: string, format: 'safetensors' | 'pytorch'): Promise<WeightFile | undefined>;
  /** Joins the checkpoint name and a file name for messages. */
  describe(file: string): string;
}

function parseJson(text: string, where: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new CheckpointError(where, `is not valid JSON (${(error as Error).message})`);
  }
}

/** The shard file names of an index file, checked to be plain file names. */
function shardNames(index: unknown, where: string, extension: string): string[] {
  const weightMap = (index as { weight_map?: unknown } | null)?.weight_map;
  if (typeof weightMap !== 'object' || weightMap === null || Array.isArray(weightMap)) {
    throw new CheckpointError(
      where,
      '"weight_map" must be an object mapping tensor names to shard files',
    );
  }
  const names = new Set<string>();
  for (const [tensor, file] of Object.entries(weightMap)) {
    if (
      typeof file !== 'string' ||
      file === '' ||
      file.includes('/') ||
      file.includes('\\') ||
      file === '.' ||
      file === '..' ||
      !file.endsWith(extension)
    ) {
      throw new CheckpointError(
        where,
        `"weight_map"."${tensor}" must name a ${extension} file in the same directory, got ${JSON.stringify(file)}`,
      );
    }
    names.add(file);
  }
  if (names.size === 0) throw new CheckpointError(where, '"weight_map" is empty');
  return [...names].sort();
}

/** Opens the weight files of a checkpoint, trying the Hugging Face file names in order. */
async function openAllWeights(files: CheckpointFiles): Promise<WeightFile[]> {
  const opened: WeightFile[] = [];
  const closeAll = async () => {
    await Promise.all(opened.map((f) => f.close().catch(() => {})));
  };
  try {
    for (const [format, base] of [
      ['safetensors', 'model.safetensors'],
      ['pytorch', 'pytorch_model.bin'],
    ] as const) {
      const indexName = `${base}.index.json`;
      const indexText = await files.readText(indexName);
      if (indexText !== undefined) {
        const where = files.describe(indexName);
        const index = parseJson(indexText, where);
        const weightMap = (index as { weight_map: Record<string, string> }).weight_map;
        const byShard = new Map<string, WeightFile>();
        for (const shard of shardNames(
          index,
          where,
          format === 'safetensors' ? '.safetensors' : '.bin',
        )) {
          const file = await files.openWeights(shard, format);
          if (file === undefined) {
            throw new CheckpointError(where, `lists shard "${shard}", which does not exist`);
          }
          opened.push(file);
          byShard.set(shard, file);
        }
        // Every tensor the index names must be in the shard it names.
        for (const [tensor, shard] of Object.entries(weightMap)) {
          if (!byShard.get(shard)?.tensors.has(tensor)) {
            throw new CheckpointError(
              where,
              `says tensor "${tensor}" is in ${shard}, but that shard has no such tensor`,
            );
          }
        }
        return opened;
      }
      const single = await files.openWeights(base, format);
      if (single !== undefined) return [single];
    }
  } catch (error) {
    await closeAll();
    throw error;
  }
  throw new CheckpointError(
    files.name,
    'has no weights: expected model.safetensors, model.safetensors.index.json with its shards, pytorch_model.bin or pytorch_model.bin.index.json',
  );
}

/** Opens a checkpoint from its files (internal: used by the public openers). */
export async function openCheckpointFiles(files: CheckpointFiles): Promise<Checkpoint> {
  const configText = await files.readText('config.json');
  const configWhere = files.describe('config.json');
  if (configText === undefined) {
    throw new CheckpointError(files.name, 'has no config.json');
  }
  const configJson = parseJson(configText, configWhere);
  const config = parseMambaConfig(configJson, configWhere);
  const weights = await openAllWeights(files);
  try {
    return buildCheckpoint(files.name, config, detectConfigLayout(configJson) ?? 'hf', weights);
  } catch (error) {
    await Promise.all(weights.map((f) => f.close().catch(() => {})));
    throw error;
  }
}

function buildCheckpoint(
  source: string,
  config: MambaConfig,
  configLayout: 'hf' | 'state-spaces',
  weights: WeightFile[],
): Checkpoint {
  const located = new Map<string, { file: WeightFile; info: CheckpointTensorInfo }>();
  for (const file of weights) {
    for (const stored of file.tensors.values()) {
      const name = canonicalTensorName(stored.name);
      const other = located.get(name);
      if (other !== undefined) {
        throw new CheckpointError(
          file.name,
          other.info.sourceName === stored.name
            ? `tensor "${stored.name}" is also in ${other.file.name}`
            : `holds both "${other.info.sourceName}" and "${stored.name}", which are the same tensor in the two layouts`,
        );
      }
      located.set(name, {
        file,
        info: { name, shape: [...stored.shape], dtype: stored.dtype, sourceName: stored.name },
      });
    }
  }
  const layout =
    located.get(EMBEDDING)?.info.sourceName === STATE_SPACES_EMBEDDING
      ? 'state-spaces'
      : located.has(EMBEDDING)
        ? 'hf'
        : configLayout;

  const expected = expectedTensors(config);
  const head = located.get(LM_HEAD);
  // The original layout stores the tied head as its own entry; it is the embedding, so it is
  // left out unless its shape says otherwise (then validation reports it).
  const headIsTiedCopy =
    config.tieEmbeddings &&
    head !== undefined &&
    sameShape(head.info.shape, [config.vocabSize, config.dModel]);
  const order = [...expected.keys()];
  const rank = new Map(order.map((n, i) => [n, i]));
  const infos = [...located.values()]
    .map((l) => l.info)
    .filter((info) => !(headIsTiedCopy && info.name === LM_HEAD))
    .sort((a, b) => {
      const ra = rank.get(a.name) ?? order.length;
      const rb = rank.get(b.name) ?? order.length;
      return ra - rb || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
    });
  const formats = new Set(weights.map((w) => w.format));
  const format = formats.has('pytorch') ? 'pytorch' : 'safetensors';
  let closed = false;

  return {
    config,
    layout,
    format,
    source,
    tensors: () => infos,
    async read(name) {
      if (closed)
        throw new CheckpointError(source, `cannot read "${name}": the checkpoint is closed`);
      const target = name === LM_HEAD && config.tieEmbeddings ? EMBEDDING : name;
      const l = located.get(target);
      if (l === undefined) {
        throw new CheckpointError(
          source,
          `has no tensor "${name}"${canonicalTensorName(name) !== name ? ` (use the canonical name "${canonicalTensorName(name)}")` : ''}`,
        );
      }
      return l.file.read(l.info.sourceName);
    },
    async close() {
      if (closed) return;
      closed = true;
      await Promise.all(weights.map((f) => f.close()));
    },
  };
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/**
 * Checks that a checkpoint holds exactly the tensors its configuration needs, with the right
 * shapes.
 *
 * @throws {@link CheckpointValidationError} listing every missing, unexpected and mis-shaped
 *   tensor by canonical name, all at once.
 */
export function validateCheckpoint(ckpt: Checkpoint): void {
  const expected = expectedTensors(ckpt.config);
  const present = new Map(ckpt.tensors().map((t) => [t.name, t]));
  const missing = [...expected.keys()].filter((n) => !present.has(n));
  const unexpected: string[] = [];
  const misshaped: MisshapedTensor[] = [];
  for (const [name, info] of present) {
    const shape = expected.get(name);
    if (shape === undefined) unexpected.push(name);
    else if (!sameShape(shape, info.shape))
      misshaped.push({ name, expected: shape, got: info.shape });
  }
  if (missing.length + unexpected.length + misshaped.length > 0) {
    throw new CheckpointValidationError(ckpt.source, missing, unexpected, misshaped);
  }
}
