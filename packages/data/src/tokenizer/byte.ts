import { checkIds, cleanUpTokenization } from './common.js';
import type { DecodeOptions, EncodeOptions, SpecialToken, TextTokenizer } from './types.js';

/** Options of {@link ByteTokenizer}. */
export interface ByteTokenizerOptions {
  /**
   * Special tokens, given ids `0 .. n-1` in this order; the 256 byte values follow at
   * `n .. n+255`. Default `['<|endoftext|>']`, so that id 0 is EOS and padding as with
   * GPT-NeoX.
   */
  readonly specialTokens?: readonly string[];
  /** The EOS token, one of the special tokens. Default: the first. */
  readonly eosToken?: string;
  /** The padding token, one of the special tokens. Default: the EOS token. */
  readonly padToken?: string;
}

const encoder = new TextEncoder();
// Not streaming, so one decoder serves every call.
const decoder = new TextDecoder();

/**
 * A byte-level tokenizer for small models: special tokens first, then one id per UTF-8 byte
 * (`vocabSize = specials + 256`). Any text round-trips exactly; special-token strings in the
 * text become their ids, as with {@link HfTokenizer}.
 */
export class ByteTokenizer implements TextTokenizer {
  readonly vocabSize: number;
  readonly eosToken: string;
  readonly eosTokenId: number;
  readonly padTokenId: number;
  readonly specialTokens: readonly SpecialToken[];
  /** Id of byte 0; byte b has id `byteOffset + b`. */
  readonly byteOffset: number;
  readonly #specialIds: Map<string, number>;
  readonly #pattern: RegExp;

  constructor(options: ByteTokenizerOptions = {}) {
    const specials = options.specialTokens ?? ['<|endoftext|>'];
    if (specials.length === 0) {
      throw new RangeError('ByteTokenizer: at least one special token (the EOS token) is needed');
    }
    this.#specialIds = new Map();
    specials.forEach((s, i) => {
      if (s.length === 0) throw new RangeError('ByteTokenizer: a special token is empty');
      if (this.#specialIds.has(s)) {
        throw new RangeError(`ByteTokenizer: special token ${JSON.stringify(s)} is listed twice`);
      }
      this.#specialIds.set(s, i);
    });
    this.specialTokens = specials.map((token, id) => ({ token, id }));
    this.byteOffset = specials.length;
    this.vocabSize = specials.length + 256;
    const eos = options.eosToken ?? specials[0];
    const pad = options.padToken ?? eos;
    for (const [what, t] of [
      ['eosToken', eos],
      ['padToken', pad],
    ] as const) {
      if (!this.#specialIds.has(t)) {
        throw new RangeError(`ByteTokenizer: ${what} ${JSON.stringify(t)} is not a special token`);
      }
    }
    this.eosToken = eos;
    this.eosTokenId = this.#specialIds.get(eos)!;
    this.padTokenId = this.#specialIds.get(pad)!;
    // Longest first, so that a special token that contains another wins.
    const alternatives = [...specials]
      .sort((a, b) => b.length - a.length)
      .map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
    this.#pattern = new RegExp(`(${alternatives.join('|')})`);
  }

  encode(text: string, _options: EncodeOptions = {}): number[] {
    if (typeof text !== 'string') {
      throw new TypeError(`ByteTokenizer.encode: expected a string, got ${typeof text}`);
    }
    const ids: number[] = [];
    const parts = text.split(this.#pattern);
    for (let p = 0; p < parts.length; p++) {
      const part = parts[p];
      // split() with one capture group puts the separators at odd positions.
      if (p % 2 === 1) {
        ids.push(this.#specialIds.get(part)!);
        continue;
      }
      for (const b of encoder.encode(part)) ids.push(this.byteOffset + b);
    }
    return ids;
  }

  encodeBatch(texts: readonly string[], options: EncodeOptions = {}): number[][] {
    return texts.map((t) => this.encode(t, options));
  }

  decode(ids: ArrayLike<number>, options: DecodeOptions = {}): string {
    checkIds(ids, 'ByteTokenizer.decode');
    const skip = options.skipSpecialTokens ?? false;
    let out = '';
    const bytes: number[] = [];
    const flush = () => {
      if (bytes.length > 0) {
        out += decoder.decode(Uint8Array.from(bytes));
        bytes.length = 0;
      }
    };
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (id < 0 || id >= this.vocabSize) continue;
      if (id < this.byteOffset) {
        flush();
        if (!skip) out += this.specialTokens[id].token;
      } else {
        bytes.push(id - this.byteOffset);
      }
    }
    flush();
    return options.cleanUpTokenizationSpaces ? cleanUpTokenization(out) : out;
  }

  decodeBatch(ids: readonly ArrayLike<number>[], options: DecodeOptions = {}): string[] {
    return ids.map((s) => this.decode(s, options));
  }

  tokenToId(token: string): number | undefined {
    const special = this.#specialIds.get(token);
    if (special !== undefined) return special;
    const bytes = encoder.encode(token);
    return bytes.length === 1 ? this.byteOffset + bytes[0] : undefined;
  }

  idToToken(id: number): string | undefined {
    if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) return undefined;
    if (id < this.byteOffset) return this.specialTokens[id].token;
    const b = id - this.byteOffset;
    // Bytes above 0x7f are not text on their own; show them as <0xNN>.
    return b < 0x80
      ? String.fromCharCode(b)
      : `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`;
  }
}
