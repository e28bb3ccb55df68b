import { stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { DataError } from '../errors.js';
import type { MalformedPolicy } from '../readers/tsv.js';
import { type DartExample, dartExampleFromRecord } from '../tasks/dart.js';
import {
  COLA_TSV_COLUMNS,
  type GlueExample,
  type GlueTaskName,
  glueExampleFromRecord,
  glueExampleFromTsv,
  glueSplitFiles,
} from '../tasks/glue.js';
import { type SamsumExample, samsumExampleFromRecord } from '../tasks/samsum.js';
import {
  type SpiderExample,
  type SpiderTables,
  spiderExampleFromRecord,
  spiderTablesFromRecord,
} from '../tasks/spider.js';
import { HfTokenizer, type HfTokenizerOptions } from '../tokenizer/hf.js';
import { readJsonFile, readRecords, readTsvFile } from './io.js';

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

/**
 * Loads a Hugging Face tokenizer from a `tokenizer.json` file, or from a folder holding one
 * (and, when present, `tokenizer_config.json`).
 */
export async function loadTokenizer(
  path: string,
  options: Omit<HfTokenizerOptions, 'source'> = {},
): Promise<HfTokenizer> {
  let file = path;
  let config = options.config;
  if (await isDirectory(path)) {
    file = join(path, 'tokenizer.json');
    const configPath = join(path, 'tokenizer_config.json');
    if (config === undefined && (await stat(configPath).catch(() => undefined))?.isFile()) {
      config = (await readJsonFile(configPath)) as Record<string, unknown>;
    }
  }
  const json = (await readJsonFile(file)) as object;
  return HfTokenizer.fromJSON(json, { ...options, config, source: file });
}

/** Options of {@link loadGlueSplit}. */
export interface LoadGlueOptions {
  /**
   * Lines with the wrong number of fields: `'error'` (default) or `'skip'` (Hugging Face's
   * GLUE loader silently drops rows with missing fields).
   */
  readonly malformed?: MalformedPolicy;
}

/**
 * Loads a split of a GLUE task from the GLUE distribution's TSV files in `dir` (the task's
 * folder, e.g. `glue/RTE`): `train.tsv`, or `dev.tsv` for validation (MNLI: `dev_matched.tsv`
 * then `dev_mismatched.tsv`, ids prefixed `matched-`/`mismatched-`). CoLA's headerless files
 * and MRPC's byte-order mark are handled. Ids are row positions, as Hugging Face's `idx`.
 */
export async function loadGlueSplit(
  dir: string,
  task: GlueTaskName,
  split: 'train' | 'validation',
  options: LoadGlueOptions = {},
): Promise<GlueExample[]> {
  const files = glueSplitFiles(task, split);
  const out: GlueExample[] = [];
  for (const file of files) {
    const path = join(dir, file);
    const idPrefix = files.length > 1 ? `${file.replace(/^dev_|\.tsv$/g, '')}-` : '';
    let n = 0;
    const rows = readTsvFile(path, {
      header: task === 'cola' ? COLA_TSV_COLUMNS : true,
      malformed: options.malformed,
    });
    for await (const row of rows) {
      out.push(glueExampleFromTsv(task, row.fields, `${idPrefix}${n++}`, path, row.line));
    }
  }
  return out;
}

/**
 * Loads GLUE examples from a Hugging Face `nyu-mll/glue` export (`.parquet`, `.jsonl` or
 * `.json`), with the task's field names and integer labels. Several files are read in order
 * and concatenated, e.g. MNLI's `validation_matched` then `validation_mismatched`, which the
 * paper evaluates on together; their ids (`idx`, which restarts in each file) are then
 * prefixed with the file's position: `0:17`, `1:17`.
 */
export async function loadGlueRecords(
  paths: string | readonly string[],
  task: GlueTaskName,
): Promise<GlueExample[]> {
  const files = typeof paths === 'string' ? [paths] : paths;
  const out: GlueExample[] = [];
  for (const [f, path] of files.entries()) {
    for await (const r of readRecords(path)) {
      const ex = glueExampleFromRecord(task, r.value, String(r.index), path, r.line);
      out.push(files.length > 1 ? { ...ex, id: `${f}:${ex.id}` } : ex);
    }
  }
  return out;
}

/**
 * Loads DART examples from the official JSON (`dart-v1.1.1-full-*.json`) or a Hugging Face
 * export (parquet, JSONL). Ids are positions in the file.
 */
export async function loadDart(path: string): Promise<DartExample[]> {
  const out: DartExample[] = [];
  for await (const r of readRecords(path)) {
    out.push(dartExampleFromRecord(r.value, String(r.index), path, r.line));
  }
  return out;
}

/** Loads SAMSum examples (`id`, `dialogue`, `summary`) from JSON, JSONL or parquet. */
export async function loadSamsum(path: string): Promise<SamsumExample[]> {
  const out: SamsumExample[] = [];
  for await (const r of readRecords(path)) {
    out.push(samsumExampleFromRecord(r.value, String(r.index), path, r.line));
  }
  return out;
}

/** Reads Spider's `tables.json` into a map from `db_id` to its entry. */
export async function loadSpiderTables(path: string): Promise<Map<string, SpiderTables>> {
  const value = await readJsonFile(path);
  if (!Array.isArray(value)) throw new DataError(path, 'expected a JSON array of databases');
  const out = new Map<string, SpiderTables>();
  value.forEach((v, i) => {
    const db = spiderTablesFromRecord(v, path, i);
    out.set(db.db_id, db);
  });
  return out;
}

/** Options of {@link loadSpider}. */
export interface LoadSpiderOptions {
  /** `dev.json` or `train_spider.json` (or a Hugging Face export of either). */
  readonly examples: string;
  /** `tables.json`. */
  readonly tables: string;
  /**
   * Spider's `database` folder. When given, every example's `<db_id>/` folder must exist
   * (execution-based evaluation needs it); a missing one is an error naming the file and
   * example.
   */
  readonly databaseDir?: string;
}

/** A Spider split with its schemas. */
export interface SpiderData {
  readonly examples: SpiderExample[];
  readonly tables: Map<string, SpiderTables>;
}

/**
 * Loads a Spider split and its schemas. Every example's database must be in `tables.json`;
 * with `databaseDir`, its folder must exist too. Ids are positions in the file.
 */
export async function loadSpider(options: LoadSpiderOptions): Promise<SpiderData> {
  const tables = await loadSpiderTables(options.tables);
  const examples: SpiderExample[] = [];
  const checked = new Map<string, boolean>();
  const src = options.examples;
  for await (const r of readRecords(src)) {
    const ex = spiderExampleFromRecord(r.value, String(r.index), src, r.line);
    const where = { line: r.line, example: ex.id };
    if (!tables.has(ex.db_id)) {
      throw new DataError(
        src,
        `database ${JSON.stringify(ex.db_id)} is not in ${basename(options.tables)}`,
        where,
      );
    }
    if (options.databaseDir !== undefined) {
      let ok = checked.get(ex.db_id);
      if (ok === undefined) {
        ok = await isDirectory(join(options.databaseDir, ex.db_id));
        checked.set(ex.db_id, ok);
      }
      if (!ok) {
        throw new DataError(
          src,
          `database folder ${join(options.databaseDir, ex.db_id)} for db_id ${JSON.stringify(
            ex.db_id,
          )} is missing`,
          where,
        );
      }
    }
    examples.push(ex);
  }
  return { examples, tables };
}
