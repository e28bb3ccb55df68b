/**
 * The error every op throws for bad input: it names the op, and the message says what was
 * wrong (shapes, dtypes, values) and what was expected.
 */
export class TensorError extends Error {
  /** The op or function that rejected its input, e.g. `matmul`. */
  readonly op: string;

  constructor(op: string, message: string) {
    super(`${op}: ${message}`);
    this.name = 'TensorError';
    this.op = op;
  }
}

/** Formats a shape the way messages show it: `[2, 3, 4]`. */
export function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}
