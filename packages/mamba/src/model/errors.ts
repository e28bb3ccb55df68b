/**
 * Thrown for a model call or checkpoint that does not fit the model: a wrong shape, a
 * missing tensor, an entry-point tensor of the wrong size. The message says which layer or
 * tensor and what was expected.
 */
export class MambaModelError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MambaModelError';
  }
}
