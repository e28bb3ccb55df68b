/** Options of {@link TextTokenizer.encode}. */
export interface EncodeOptions {
  /**
   * Let the tokenizer's post-processor add its special tokens (BOS/EOS templates). Default
   * `true`, as Hugging Face's `encode`. GPT-NeoX's post-processor adds none, so the ids are the
   * same either way for it. Special tokens written in the text (`<|endoftext|>`) are always
   * recognised, whatever this says.
   */
  readonly addSpecialTokens?: boolean;
}

/** Options of {@link TextTokenizer.decode}. */
export interface DecodeOptions {
  /** Leave special tokens (`<|endoftext|>`, `<|padding|>`) out of the text. Default `false`. */
  readonly skipSpecialTokens?: boolean;
  /**
   * Remove the spaces that word-level tokenisation put before punctuation and contractions
   * (`"a ."` -> `"a."`, `" n't"` -> `"n't"`), as transformers 4.40's decode did by default
   * (the paper's evaluation decoded this way). Default: the tokenizer's setting.
   */
  readonly cleanUpTokenizationSpaces?: boolean;
}

/** A special token: its text and id. */
export interface SpecialToken {
  readonly token: string;
  readonly id: number;
}

/**
 * What the rest of statetune needs from a tokenizer: text to ids and back, the vocabulary,
 * and the special tokens. {@link HfTokenizer} (any Hugging Face `tokenizer.json`, e.g.
 * GPT-NeoX-20B for Mamba) and {@link ByteTokenizer} (bytes, for small models) implement it.
 */
export interface TextTokenizer {
  /** Number of ids: every id is in `0 .. vocabSize - 1` (added tokens included). */
  readonly vocabSize: number;
  /** The end-of-sequence token, appended to generation labels. */
  readonly eosToken: string;
  /** Id of {@link eosToken}. */
  readonly eosTokenId: number;
  /** Id used to pad input batches. */
  readonly padTokenId: number;
  /** Every special token, in id order. */
  readonly specialTokens: readonly SpecialToken[];
  /** Token ids of `text`. */
  encode(text: string, options?: EncodeOptions): number[];
  /** Token ids of several texts. */
  encodeBatch(texts: readonly string[], options?: EncodeOptions): number[][];
  /** Text of token ids; ids outside the vocabulary are skipped (as Hugging Face's Rust tokenizers do). */
  decode(ids: ArrayLike<number>, options?: DecodeOptions): string;
  /** Texts of several id sequences. */
  decodeBatch(ids: readonly ArrayLike<number>[], options?: DecodeOptions): string[];
  /** Id of a vocabulary entry (`"Ġworld"`, `"0"`, `"<|endoftext|>"`), or undefined. */
  tokenToId(token: string): number | undefined;
  /** Vocabulary entry of an id, or undefined outside the vocabulary. */
  idToToken(id: number): string | undefined;
}
