import type { FormattedExample } from './types.js';

/** The separator and end-of-input marker of every task (`tokenizer.sep_token` in the paper's code). */
export const SEPARATOR = '###';

/**
 * The end-of-sequence token appended to generation labels (GPT-NeoX's `<|endoftext|>`, id 0).
 * Tokenizing a label that ends with it gives the tokenizer's own EOS id.
 */
export const EOS = '<|endoftext|>';

/**
 * A generation example without a prompt prefix, as SAMSum and the synthetic tasks have:
 * input `input + "###"`, label `target + "<|endoftext|>"`, reference `target`.
 */
export function unprefixedGenerationExample(
  id: string,
  input: string,
  target: string,
): FormattedExample {
  return { id, prefix: '', input: input + SEPARATOR, label: target + EOS, references: [target] };
}
