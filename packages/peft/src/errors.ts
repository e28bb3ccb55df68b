/**
 * A PEFT problem a user can act on: a bad config, an adapter folder that does not fit the
 * model, an unknown adapter name. The message says what and where.
 */
export class PeftError extends Error {
  override name = 'PeftError';
}
