import { PeftError } from './errors.js';

/** How one config key is checked and what it defaults to. */
export interface FieldSpec<T> {
  /** The value when the key is absent (absent means required). */
  readonly default?: T;
  /** Turns the raw JSON value into T or returns a problem (`must be ...`). */
  readonly parse: (value: unknown) => T | { readonly problem: string };
  /** One line for docs and `--help`. */
  readonly doc: string;
}

/** A method's config keys. */
export type Schema<C> = { readonly [K in keyof C]: FieldSpec<C[K]> };

/** Keys every adapter_config.json may carry whatever the method (PEFT writes these). */
const COMMON_KEYS = new Set([
  'peft_type',
  'task_type',
  'base_model_name_or_path',
  'inference_mode',
  'revision',
  'auto_mapping',
  'peft_version',
]);

/**
 * Checks a raw config object against a schema at the boundary: unknown keys are errors that
 * name the nearest valid key, missing required keys and bad values name the key and what it
 * must be. `source` names where the object came from (`adapters/sst2/adapter_config.json`).
 */
export function parseWithSchema<C>(
  raw: Readonly<Record<string, unknown>>,
  schema: Schema<C>,
  source: string,
  tolerated: Readonly<Record<string, unknown>> = {},
): C {
  const keys = Object.keys(schema) as (keyof C & string)[];
  const problems: string[] = [];
  for (const k of Object.keys(raw)) {
    if (COMMON_KEYS.has(k) || keys.includes(k as keyof C & string)) continue;
    if (Object.hasOwn(tolerated, k)) {
      // Keys Hugging Face PEFT writes for features this package does not have: fine at
      // their default (the feature is off), an error otherwise.
      if (JSON.stringify(raw[k]) !== JSON.stringify(tolerated[k])) {
        problems.push(
          `"${k}" is not supported (only ${JSON.stringify(tolerated[k])}), got ${JSON.stringify(raw[k])}`,
        );
      }
      continue;
    }
    const near = nearest(k, [...keys, ...COMMON_KEYS]);
    problems.push(`unknown key "${k}"${near ? ` (did you mean "${near}"?)` : ''}`);
  }
  const out: Record<string, unknown> = {};
  for (const k of keys) {
    const spec = schema[k] as FieldSpec<unknown>;
    const v = raw[k];
    if (v === undefined) {
      if (!('default' in spec)) problems.push(`"${k}" is required: ${spec.doc}`);
      else out[k] = spec.default;
      continue;
    }
    const parsed = spec.parse(v);
    if (isProblem(parsed)) problems.push(`"${k}" ${parsed.problem}, got ${JSON.stringify(v)}`);
    else out[k] = parsed;
  }
  if (problems.length > 0) throw new PeftError(`${source}: ${problems.join('; ')}`);
  return out as C;
}

function isProblem(v: unknown): v is { problem: string } {
  return typeof v === 'object' && v !== null && 'problem' in v && Object.keys(v).length === 1;
}

/** The candidate closest to `word` by edit distance, when it is close enough to be a typo. */
export function nearest(word: string, candidates: Iterable<string>): string | null {
  let best: string | null = null;
  let bestD = Number.POSITIVE_INFINITY;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return best !== null && bestD <= Math.max(2, Math.floor(word.length / 3)) ? best : null;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length];
}

// Field parsers shared by the methods' schemas.

/** A positive integer. */
export const positiveInt = (v: unknown) =>
  Number.isInteger(v) && (v as number) > 0
    ? (v as number)
    : { problem: 'must be a positive integer' };

/** A finite number. */
export const finiteNumber = (v: unknown) =>
  typeof v === 'number' && Number.isFinite(v) ? v : { problem: 'must be a finite number' };

/** A probability in [0, 1). */
export const dropoutRate = (v: unknown) =>
  typeof v === 'number' && v >= 0 && v < 1 ? v : { problem: 'must be a number in [0, 1)' };

/** A boolean. */
export const bool = (v: unknown) =>
  typeof v === 'boolean' ? v : { problem: 'must be true or false' };

/** One of the listed strings. */
export function oneOf<T extends string>(...allowed: T[]) {
  return (v: unknown) =>
    typeof v === 'string' && (allowed as string[]).includes(v)
      ? (v as T)
      : { problem: `must be one of ${allowed.map((a) => `"${a}"`).join(', ')}` };
}

/** A positive integer or null. */
export const positiveIntOrNull = (v: unknown) => (v === null ? null : positiveInt(v));

/** A string or null. */
export const stringOrNull = (v: unknown) =>
  v === null || typeof v === 'string'
    ? (v as string | null)
    : { problem: 'must be a string or null' };

/** Layer indices (non-negative integers, no repeats), a single index, or null for all layers. */
export const layerList = (v: unknown): readonly number[] | null | { problem: string } => {
  if (v === null) return null;
  const list = typeof v === 'number' ? [v] : v;
  if (
    !Array.isArray(list) ||
    list.length === 0 ||
    !list.every((i) => Number.isInteger(i) && i >= 0) ||
    new Set(list).size !== list.length
  ) {
    return { problem: 'must be null (all layers) or a list of distinct layer indices' };
  }
  return list as number[];
};

/** A non-empty list of distinct strings. */
export const stringList = (v: unknown): readonly string[] | { problem: string } => {
  const list = typeof v === 'string' ? [v] : v;
  if (
    !Array.isArray(list) ||
    list.length === 0 ||
    !list.every((s) => typeof s === 'string' && s.length > 0) ||
    new Set(list).size !== list.length
  ) {
    return { problem: 'must be a non-empty list of distinct names' };
  }
  return list as string[];
};
