import { Tokenizer } from '@huggingface/tokenizers';
import { DataError } from '../errors.js';
import { parseJson } from '../readers/json.js';
import { checkIds } from './common.js';
import type { DecodeOptions, EncodeOptions, SpecialToken, TextTokenizer } from './types.js';

/** Options of {@link HfTokenizer.fromJSON}. */
export interface HfTokenizerOptions {
  /**
   * The end-of-sequence token. Default: `eos_token` of the config, else `<|endoftext|>`
   * (GPT-NeoX, id 0), else the first special token.
   */
  readonly eosToken?: string;
  /**
   * The padding token. Default: `pad_token` of the config, else the EOS token, as the paper's
   * code sets it (`pad_token = eos_token = "<|endoftext|>"`, id 0).
   */
  readonly padToken?: string;
  /**
   * Default of {@link DecodeOptions.cleanUpTokenizationSpaces}. Default: the config's
   * `clean_up_tokenization_spaces`, else `true` (transformers 4.40, which the paper used).
   */
  readonly cleanUpTokenizationSpaces?: boolean;
  /** `tokenizer_config.json`, when there is one (its `eos_token`/`pad_token` are read). */
  readonly config?: Record<string, unknown>;
  /** Name used in error messages (e.g. the file the JSON came from). */
  readonly source?: string;
}

function tokenText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (
    value &&
    typeof value === 'object' &&
    typeof (value as { content?: unknown }).content === 'string'
  ) {
    return (value as { content: string }).content;
  }
  return undefined;
}

/**
 * A Hugging Face tokenizer (`tokenizer.json`: BPE, WordPiece, Unigram with their normalizers,
 * pre-tokenizers and decoders), run by the pure-JavaScript `@huggingface/tokenizers`, so it
 * works in Node and in browsers. For Mamba this is GPT-NeoX-20B: 50,277 ids, `<|endoftext|>`
 * (id 0) as EOS and padding, no BOS.
 *
 * @example
 * ```ts
 * const tok = HfTokenizer.fromJSON(await (await fetch(url)).json());
 * tok.encode('Hello world'); // [12092, 1533]
 * ```
 */
export class HfTokenizer implements TextTokenizer {
  readonly vocabSize: number;
  readonly eosToken: string;
  readonly eosTokenId: number;
  readonly padTokenId: number;
  readonly specialTokens: readonly SpecialToken[];
  /** Default of {@link DecodeOptions.cleanUpTokenizationSpaces}. */
  readonly cleanUpTokenizationSpaces: boolean;
  readonly #tok: Tokenizer;
  readonly #vocab: Map<string, number>;
  readonly #idToToken: (string | undefined)[];

  private constructor(tok: Tokenizer, options: HfTokenizerOptions) {
    const source = options.source ?? 'tokenizer.json';
    const config = options.config ?? {};
    this.#tok = tok;
    this.#vocab = tok.get_vocab(true);
    let maxId = -1;
    for (const id of this.#vocab.values()) if (id > maxId) maxId = id;
    this.vocabSize = maxId + 1;
    this.#idToToken = new Array(this.vocabSize);
    for (const [token, id] of this.#vocab) this.#idToToken[id] = token;
    const specials: SpecialToken[] = [];
    for (const [id, added] of tok.get_added_tokens_decoder()) {
      if (added.special) specials.push({ token: added.content, id });
    }
    specials.sort((a, b) => a.id - b.id);
    this.specialTokens = specials;

    const eos =
      options.eosToken ??
      tokenText(config.eos_token) ??
      (this.#vocab.has('<|endoftext|>') ? '<|endoftext|>' : specials[0]?.token);
    if (eos === undefined || !this.#vocab.has(eos)) {
      throw new DataError(
        source,
        `end-of-sequence token ${JSON.stringify(eos)} is not in the vocabulary; pass { eosToken }`,
      );
    }
    const pad = options.padToken ?? tokenText(config.pad_token) ?? eos;
    if (!this.#vocab.has(pad)) {
      throw new DataError(source, `padding token ${JSON.stringify(pad)} is not in the vocabulary`);
    }
    this.eosToken = eos;
    this.eosTokenId = this.#vocab.get(eos)!;
    this.padTokenId = this.#vocab.get(pad)!;
    const clean = config.clean_up_tokenization_spaces;
    this.cleanUpTokenizationSpaces =
      options.cleanUpTokenizationSpaces ?? (typeof clean === 'boolean' ? clean : true);
  }

  /**
   * Builds a tokenizer from the content of a `tokenizer.json` (parsed, or as text).
   * Node users can call `loadTokenizer(path)` from `@statetune/data/node` instead.
   */
  static fromJSON(json: object | string, options: HfTokenizerOptions = {}): HfTokenizer {
    const source = options.source ?? 'tokenizer.json';
    const parsed = typeof json === 'string' ? parseJson(json, source) : json;
    if (!parsed || typeof parsed !== 'object' || !('model' in parsed)) {
      throw new DataError(source, 'not a Hugging Face tokenizer.json (no "model" entry)');
    }
    let tok: Tokenizer;
    try {
      // tokenizers.js reads only a few config keys; clean-up is applied per decode call below.
      tok = new Tokenizer(parsed, { ...(options.config ?? {}) });
    } catch (e) {
      throw new DataError(source, `cannot build the tokenizer: ${(e as Error).message}`);
    }
    return new HfTokenizer(tok, options);
  }

  encode(text: string, options: EncodeOptions = {}): number[] {
    if (typeof text !== 'string') {
      throw new TypeError(`HfTokenizer.encode: expected a string, got ${typeof text}`);
    }
    if (text.length === 0) return [];
    return this.#tok.encode(text, { add_special_tokens: options.addSpecialTokens ?? true }).ids;
  }

  encodeBatch(texts: readonly string[], options: EncodeOptions = {}): number[][] {
    return texts.map((t) => this.encode(t, options));
  }

  decode(ids: ArrayLike<number>, options: DecodeOptions = {}): string {
    checkIds(ids, 'HfTokenizer.decode');
    const known: number[] = [];
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (id >= 0 && id < this.vocabSize && this.#idToToken[id] !== undefined) known.push(id);
    }
    if (known.length === 0) return '';
    return this.#tok.decode(known, {
      skip_special_tokens: options.skipSpecialTokens ?? false,
      clean_up_tokenization_spaces:
        options.cleanUpTokenizationSpaces ?? this.cleanUpTokenizationSpaces,
    });
  }

  decodeBatch(ids: readonly ArrayLike<number>[], options: DecodeOptions = {}): string[] {
    return ids.map((s) => this.decode(s, options));
  }

  tokenToId(token: string): number | undefined {
    return this.#vocab.get(token);
  }

  idToToken(id: number): string | undefined {
    return Number.isInteger(id) && id >= 0 ? this.#idToToken[id] : undefined;
  }

  /** The pieces `text` splits into (`["Hello", "Ġworld"]`). */
  tokenize(text: string): string[] {
    return text.length === 0 ? [] : this.#tok.tokenize(text);
  }
}
