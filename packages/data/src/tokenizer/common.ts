import type { DecodeOptions, TextTokenizer } from './types.js';

/** Checks that every entry of `ids` is an integer; `where` names the caller. */
export function checkIds(ids: ArrayLike<number>, where: string): void {
  for (let i = 0; i < ids.length; i++) {
    if (!Number.isInteger(ids[i])) {
      throw new TypeError(`${where}: token id at position ${i} is not an integer: ${ids[i]}`);
    }
  }
}

/**
 * The transformers `clean_up_tokenization` rule: drop the space before `. ? ! ,` and before the
 * contractions `'s 'm 've 're n't` (also `" ' "` -> `"'"`).
 */
export function cleanUpTokenization(text: string): string {
  return text
    .replaceAll(' .', '.')
    .replaceAll(' ?', '?')
    .replaceAll(' !', '!')
    .replaceAll(' ,', ',')
    .replaceAll(" ' ", "'")
    .replaceAll(" n't", "n't")
    .replaceAll(" 'm", "'m")
    .replaceAll(" 's", "'s")
    .replaceAll(" 've", "'ve")
    .replaceAll(" 're", "'re");
}

/**
 * Decodes a generated sequence or a generation label the way the paper's evaluation does:
 * one trailing EOS is removed, then the ids are decoded with special tokens kept and the
 * tokenizer's default clean-up of tokenisation spaces (`options` can override both).
 */
export function decodeForEvaluation(
  tokenizer: TextTokenizer,
  ids: ArrayLike<number>,
  options: DecodeOptions = {},
): string {
  let end = ids.length;
  if (end > 0 && ids[end - 1] === tokenizer.eosTokenId) end--;
  const kept = Array.prototype.slice.call(ids, 0, end) as number[];
  return tokenizer.decode(kept, options);
}
