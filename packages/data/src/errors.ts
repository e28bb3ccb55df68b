/** Where a problem was found: a line of a file, or an example of a dataset. */
export interface DataLocation {
  /** 1-based line number in the source. */
  readonly line?: number;
  /** The example's id or index, for problems that belong to an example rather than a line. */
  readonly example?: string;
}

/**
 * The error this package throws for bad input: it names the source (a file name, or what the
 * caller called the input) and, where known, the line and the example, e.g.
 * `train.tsv:12: expected 4 tab-separated fields, got 3` or
 * `dev.json:40 (example 3): "query" must be a string`.
 */
export class DataError extends Error {
  /** The file (or named input) the problem is in. */
  readonly source: string;
  /** 1-based line number, when the problem is on a line. */
  readonly line: number | undefined;
  /** Example id or index, when the problem belongs to an example. */
  readonly example: string | undefined;

  constructor(source: string, message: string, where: DataLocation = {}) {
    let at = where.line !== undefined ? `${source}:${where.line}` : source;
    if (where.example !== undefined) at += ` (example ${where.example})`;
    super(`${at}: ${message}`);
    this.name = 'DataError';
    this.source = source;
    this.line = where.line;
    this.example = where.example;
  }
}
