import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { HfTokenizer } from '../src/index.js';
import { loadTokenizer } from '../src/node.js';

/** The shared real-data folder: STATETUNE_DATA when set, else `<repo>/../shared/data`. */
export const DATA_DIR =
  process.env.STATETUNE_DATA ?? fileURLToPath(new URL('../../../../shared/data', import.meta.url));

/** Whether the real data is present (tests that need it skip with a reason otherwise). */
export const HAS_DATA = existsSync(join(DATA_DIR, 'SOURCES.md'));

/** Why data tests were skipped. */
export const NO_DATA_REASON = `real data folder not found at ${DATA_DIR} (set STATETUNE_DATA)`;

if (!HAS_DATA) console.warn(`[data tests] skipping real-data tests: ${NO_DATA_REASON}`);

/** A path inside the data folder. */
export function dataPath(...parts: string[]): string {
  return join(DATA_DIR, ...parts);
}

let neox: Promise<HfTokenizer> | undefined;

/** The GPT-NeoX-20B tokenizer of the data folder, loaded once per test file. */
export function neoxTokenizer(): Promise<HfTokenizer> {
  neox ??= loadTokenizer(dataPath('tokenizer', 'gpt-neox-20b', 'tokenizer.json'));
  return neox;
}

/** Collects an async iterable. */
export async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}
