/**
 * The error every metric and loop throws for bad input: it names the function, and the
 * message says what was wrong and what was expected.
 */
export class MetricError extends Error {
  /** The function that rejected its input, e.g. `bleu`. */
  readonly fn: string;

  constructor(fn: string, message: string) {
    super(`${fn}: ${message}`);
    this.name = 'MetricError';
    this.fn = fn;
  }
}

/** Throws unless `predictions` and `references` are non-empty and equally long. */
export function checkPairs(
  fn: string,
  predictions: readonly unknown[],
  references: readonly unknown[],
): void {
  if (!Array.isArray(predictions) || !Array.isArray(references)) {
    throw new MetricError(fn, 'predictions and references must be arrays');
  }
  if (predictions.length !== references.length) {
    throw new MetricError(
      fn,
      `got ${predictions.length} predictions but ${references.length} references; pass one reference entry per prediction`,
    );
  }
  if (predictions.length === 0) {
    throw new MetricError(fn, 'no predictions to score (both lists are empty)');
  }
}

/** Throws unless every entry is a string. */
export function checkStrings(fn: string, what: string, values: readonly unknown[]): void {
  for (let i = 0; i < values.length; i++) {
    if (typeof values[i] !== 'string') {
      throw new MetricError(fn, `${what}[${i}] must be a string, got ${describe(values[i])}`);
    }
  }
}

/**
 * Normalises references that may be one string or several per prediction into lists, and
 * rejects an empty list of references for a prediction.
 */
export function referenceLists(
  fn: string,
  references: readonly (string | readonly string[])[],
): string[][] {
  return references.map((r, i) => {
    if (typeof r === 'string') return [r];
    if (!Array.isArray(r)) {
      throw new MetricError(fn, `references[${i}] must be a string or an array of strings`);
    }
    if (r.length === 0) throw new MetricError(fn, `references[${i}] is an empty list`);
    for (let k = 0; k < r.length; k++) {
      if (typeof r[k] !== 'string') {
        throw new MetricError(fn, `references[${i}][${k}] must be a string, got ${describe(r[k])}`);
      }
    }
    return [...r];
  });
}

/** Short description of a value for error messages. */
export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'number') return String(v);
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v);
  return typeof v;
}
