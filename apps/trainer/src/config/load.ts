import { readFile, stat } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { nearest } from '@statetune/peft';
import { parseDocument } from 'yaml';
import { ConfigError } from './errors.js';
import { type FieldSpec, isField, RUN_SCHEMA, type RunConfig, schemaKeys } from './schema.js';

/**
 * What the config is read for: `train` needs every required key; `eval` needs no PEFT or
 * optimizer keys; `generate` needs no task either.
 */
export type ConfigMode = 'train' | 'eval' | 'generate';

/** Options of {@link parseRunConfig}. */
export interface ParseOptions {
  /** Names the config in messages (a file path, or `flags`). */
  readonly source: string;
  /** Folder relative paths of the file resolve against (default: the working directory). */
  readonly baseDir?: string;
  /**
   * Values from the command line by dotted key (`train.learning_rate`), applied over the
   * file's. Strings are coerced to the key's type; relative paths resolve against the working
   * directory.
   */
  readonly overrides?: Readonly<Record<string, unknown>>;
  /** Default `train`. */
  readonly mode?: ConfigMode;
}

const KEYS = new Map(schemaKeys());
const NULL_WORDS = new Set(['null', 'none', '~']);

function show(v: unknown): string {
  return typeof v === 'string' ? JSON.stringify(v) : (JSON.stringify(v) ?? String(v));
}

function suggest(key: string, candidates: Iterable<string>): string {
  const near = nearest(key, candidates);
  return near ? ` (did you mean "${near}"?)` : '';
}

/**
 * Checks one value against its field; returns the typed value or a problem. `fromFlag`
 * values may be strings that stand for numbers, booleans or null.
 */
function coerce(spec: FieldSpec, value: unknown, fromFlag: boolean): { ok: unknown } | string {
  if (value === null || (fromFlag && typeof value === 'string' && NULL_WORDS.has(value))) {
    return spec.nullable ? { ok: null } : 'must not be null';
  }
  const k = spec.kind;
  switch (k.type) {
    case 'string':
    case 'path':
      if (typeof value === 'number' && fromFlag) return { ok: String(value) };
      if (typeof value !== 'string' || value.length === 0) return 'must be a non-empty string';
      return { ok: value };
    case 'object-or-path':
      if (typeof value === 'string' && value.length > 0) {
        if (value.trim().startsWith('{')) {
          try {
            return { ok: JSON.parse(value) };
          } catch (e) {
            return `is not valid JSON: ${(e as Error).message}`;
          }
        }
        return { ok: value };
      }
      if (typeof value === 'object' && value !== null && !Array.isArray(value))
        return { ok: value };
      return 'must be a PEFT config object or a path to an adapter_config.json-style file';
    case 'bool':
      if (typeof value === 'boolean') return { ok: value };
      if (value === 'true') return { ok: true };
      if (value === 'false') return { ok: false };
      return 'must be true or false';
    case 'enum':
      if (typeof value === 'string' && k.values.includes(value)) return { ok: value };
      return `must be one of ${k.values.join(', ')}${typeof value === 'string' ? suggest(value, k.values) : ''}`;
    case 'number':
    case 'int': {
      const n =
        typeof value === 'number'
          ? value
          : typeof value === 'string' && value.trim() !== ''
            ? Number(value)
            : Number.NaN;
      const what = k.type === 'int' ? 'an integer' : 'a number';
      if (!Number.isFinite(n)) return `must be ${what}`;
      if (k.type === 'int' && !Number.isInteger(n)) return `must be ${what}`;
      if (k.min !== undefined) {
        const excl = k.type === 'number' && k.exclusiveMin === true;
        if (excl ? n <= k.min : n < k.min) return `must be ${what} ${excl ? '>' : '>='} ${k.min}`;
      }
      return { ok: n };
    }
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Validates a raw run config (parsed YAML) with command-line overrides at the boundary:
 * unknown keys are errors naming the nearest valid key, values are checked against
 * {@link RUN_SCHEMA}, defaults filled, relative paths resolved. Every problem is reported at
 * once.
 *
 * @throws {@link ConfigError} listing the problems.
 */
export function parseRunConfig(raw: unknown, options: ParseOptions): RunConfig {
  const { source } = options;
  const baseDir = options.baseDir ?? process.cwd();
  const mode = options.mode ?? 'train';
  const problems: string[] = [];
  if (raw !== null && raw !== undefined && !isObject(raw)) {
    throw new ConfigError(`${source}: a run config must be a mapping of keys, got ${show(raw)}`);
  }
  const file = (raw ?? {}) as Record<string, unknown>;
  const sectionNames = Object.keys(RUN_SCHEMA);
  const allKeys = [...KEYS.keys()];
  // Flat view: dotted key -> [value, from flag, base folder].
  const values = new Map<string, { value: unknown; flag: boolean; base: string }>();
  let peftInline: Record<string, unknown> | null = null;
  for (const [top, v] of Object.entries(file)) {
    const node = (RUN_SCHEMA as Record<string, FieldSpec | Record<string, FieldSpec>>)[top];
    if (node === undefined) {
      problems.push(`unknown key "${top}"${suggest(top, [...sectionNames, ...allKeys])}`);
      continue;
    }
    if (isField(node)) {
      values.set(top, { value: v, flag: false, base: baseDir });
      continue;
    }
    if (v === null) continue;
    if (!isObject(v)) {
      problems.push(`"${top}" must be a mapping of keys (${Object.keys(node).join(', ')})`);
      continue;
    }
    for (const [k, vv] of Object.entries(v)) {
      const key = `${top}.${k}`;
      if (!KEYS.has(key)) {
        problems.push(
          `unknown key "${key}"${suggest(k, Object.keys(node)) || suggest(key, allKeys)}`,
        );
        continue;
      }
      values.set(key, { value: vv, flag: false, base: baseDir });
    }
  }
  for (const [key, v] of Object.entries(options.overrides ?? {})) {
    if (v === undefined) continue;
    if (key.startsWith('peft.')) {
      // --peft.variant y edits an inline PEFT config key by key.
      peftInline ??= {};
      peftInline[key.slice(5)] = v;
      continue;
    }
    if (!KEYS.has(key)) {
      problems.push(`unknown option "--${key}"${suggest(key, allKeys)}`);
      continue;
    }
    values.set(key, { value: v, flag: true, base: process.cwd() });
  }

  const out: Record<string, Record<string, unknown> | unknown> = {};
  for (const [key, spec] of KEYS) {
    const got = values.get(key);
    let value: unknown;
    if (got === undefined || got.value === undefined) {
      const optionalHere =
        (mode !== 'train' && (key === 'peft' || key.startsWith('train.'))) ||
        (mode === 'generate' && key.startsWith('task.'));
      if (!('default' in spec)) {
        if (!optionalHere && !(key === 'peft' && peftInline)) {
          problems.push(`"${key}" is required: ${spec.doc}`);
        }
        value = null;
      } else value = spec.default;
    } else {
      const r = coerce(spec, got.value, got.flag);
      if (typeof r === 'string') {
        problems.push(`"${key}" ${r}, got ${show(got.value)}`);
        continue;
      }
      value = r.ok;
      if (typeof value === 'string') {
        const isPath =
          spec.kind.type === 'path' ||
          (key === 'tokenizer' && value !== 'byte') ||
          spec.kind.type === 'object-or-path';
        if (isPath && !isAbsolute(value)) value = resolve(got.base, value);
      }
    }
    const dot = key.indexOf('.');
    if (dot < 0) out[key] = value;
    else {
      const sec = key.slice(0, dot);
      out[sec] ??= {};
      (out[sec] as Record<string, unknown>)[key.slice(dot + 1)] = value;
    }
  }
  if (peftInline) {
    if (typeof out.peft === 'string') {
      problems.push('"--peft.<key>" flags edit an inline PEFT config, but "peft" is a path');
    } else {
      out.peft = { ...((out.peft as Record<string, unknown> | null) ?? {}), ...peftInline };
    }
  }
  const train = out.train as Record<string, unknown>;
  if (mode === 'train' && train.epochs === null && train.max_steps === null) {
    problems.push('"train.epochs" or "train.max_steps" is required: how long to train');
  }
  if (problems.length > 0) {
    throw new ConfigError(`${source}:\n  - ${problems.join('\n  - ')}`);
  }
  return out as unknown as RunConfig;
}

/**
 * Reads a YAML run config and validates it with command-line overrides (see
 * {@link parseRunConfig}); relative paths in the file resolve against its folder. With no
 * file, the flags alone make the config.
 *
 * @throws {@link ConfigError} when the file is missing or unreadable, is not valid YAML, or
 * fails validation.
 */
export async function loadRunConfig(
  file: string | null,
  overrides: Readonly<Record<string, unknown>> = {},
  mode: ConfigMode = 'train',
): Promise<RunConfig> {
  if (file === null) {
    // Without a file every key comes from flags; say so, as the usual fix is `--config`.
    const source =
      'no --config file given, so every key must come from flags (--config run.yaml, or see --help)';
    return parseRunConfig({}, { source, overrides, mode });
  }
  const path = resolve(file);
  const info = await stat(path).catch(() => null);
  if (!info) {
    throw new ConfigError(`config file ${path} does not exist (expected a YAML run config)`);
  }
  if (!info.isFile()) {
    throw new ConfigError(`config ${path} is not a file (expected a YAML run config)`);
  }
  const text = await readFile(path, 'utf8');
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(`${path} is not valid YAML: ${doc.errors[0].message}`);
  }
  return parseRunConfig(doc.toJS(), { source: path, baseDir: dirname(path), overrides, mode });
}

/**
 * Flattens parsed command-line options (nested by dots, as cac gives them) into dotted
 * keys, keeping only leaves.
 */
export function flattenOptions(
  options: Readonly<Record<string, unknown>>,
  prefix = '',
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(options)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (isObject(v)) Object.assign(out, flattenOptions(v, key));
    else out[key] = v;
  }
  return out;
}
