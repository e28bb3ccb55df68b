import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ByteTokenizer, decodeForEvaluation, HfTokenizer } from '../src/index.js';
import { loadTokenizer } from '../src/node.js';
import { dataPath, HAS_DATA, neoxTokenizer } from './helpers.js';

interface VectorCase {
  text: string;
  ids: number[];
  tokens: string[];
  decoded: string;
}

describe.skipIf(!HAS_DATA)('GPT-NeoX tokenizer (real tokenizer.json)', () => {
  const vectors = HAS_DATA
    ? (JSON.parse(
        readFileSync(dataPath('tokenizer', 'gpt-neox-20b', 'encode_vectors.json'), 'utf8'),
      ) as { vocab_size_with_added: number; cases: VectorCase[] })
    : { vocab_size_with_added: 0, cases: [] };

  it('encodes every vector of encode_vectors.json to the expected ids and tokens', async () => {
    const tok = await neoxTokenizer();
    expect(vectors.cases.length).toBe(30);
    for (const c of vectors.cases) {
      expect(tok.encode(c.text), JSON.stringify(c.text)).toEqual(c.ids);
      expect(tok.tokenize(c.text), JSON.stringify(c.text)).toEqual(c.tokens);
      expect(tok.decode(c.ids, { skipSpecialTokens: true }), JSON.stringify(c.text)).toBe(
        c.decoded,
      );
    }
  });

  it('has the vocabulary and special tokens of GPT-NeoX-20B', async () => {
    const tok = await neoxTokenizer();
    expect(tok.vocabSize).toBe(vectors.vocab_size_with_added);
    expect(tok.vocabSize).toBe(50277);
    expect(tok.eosToken).toBe('<|endoftext|>');
    expect(tok.eosTokenId).toBe(0);
    expect(tok.padTokenId).toBe(0);
    expect(tok.specialTokens).toEqual([
      { token: '<|endoftext|>', id: 0 },
      { token: '<|padding|>', id: 1 },
    ]);
    // The GLUE class tokens the paper looks up with tokenizer.vocab["0"|"1"|"2"].
    expect(['0', '1', '2'].map((t) => tok.tokenToId(t))).toEqual([17, 18, 19]);
    expect(tok.idToToken(1533)).toBe('Ġworld');
    expect(tok.idToToken(50276)).toBe('  ');
    expect(tok.idToToken(50277)).toBeUndefined();
    expect(tok.tokenToId('no such token in the vocabulary')).toBeUndefined();
  });

  it('treats ### as ordinary text and <|endoftext|> in text as id 0', async () => {
    const tok = await neoxTokenizer();
    expect(tok.encode('###')).toEqual([4118]);
    expect(tok.encode('a<|endoftext|>b')).toEqual([66, 0, 67]);
    // The ByteLevel post-processor adds no special tokens either way.
    expect(tok.encode('x')).toEqual([89]);
    expect(tok.encode('x', { addSpecialTokens: false })).toEqual([89]);
    expect(tok.encode('')).toEqual([]);
    expect(tok.encodeBatch(['Hello world', ''])).toEqual([[12092, 1533], []]);
  });

  it('round-trips whitespace, unicode and long texts without clean-up', async () => {
    const tok = await neoxTokenizer();
    const texts = [
      '  two leading, three trailing   ',
      '\t\ttabs\tand\nnewlines\r\n\n',
      'naïve café — 日本語 🙂 Привет',
      'x'.repeat(3000),
      "don 't split , me .",
      readFileSync(dataPath('corpus', 'tinyshakespeare.txt'), 'utf8').slice(0, 20000),
    ];
    for (const t of texts) {
      const ids = tok.encode(t);
      expect(tok.decode(ids, { cleanUpTokenizationSpaces: false })).toBe(t);
    }
    // Long inputs stay linear-ish: 20k characters is a few thousand tokens.
    expect(tok.encode(texts[5]).length).toBeGreaterThan(4000);
  });

  it('decodes as transformers 4.40 did by default (clean-up on) unless told not to', async () => {
    const tok = await neoxTokenizer();
    const ids = tok.encode("Hello , world . I 'm do n't");
    expect(tok.decode(ids)).toBe("Hello, world. I'm don't");
    expect(tok.decode(ids, { cleanUpTokenizationSpaces: false })).toBe(
      "Hello , world . I 'm do n't",
    );
    const off = await loadTokenizer(dataPath('tokenizer', 'gpt-neox-20b'), {
      cleanUpTokenizationSpaces: false,
    });
    expect(off.decode(ids)).toBe("Hello , world . I 'm do n't");
  });

  it('keeps or skips special tokens, and skips ids outside the vocabulary', async () => {
    const tok = await neoxTokenizer();
    expect(tok.decode([12092, 0, 1533])).toBe('Hello<|endoftext|> world');
    expect(tok.decode([12092, 0, 1533], { skipSpecialTokens: true })).toBe('Hello world');
    // Mamba's embedding is padded to 50280; ids 50277..50279 have no token.
    expect(tok.decode([12092, 50277, 50279, 1533])).toBe('Hello world');
    expect(tok.decode([])).toBe('');
    expect(tok.decode(Int32Array.from([12092, 1533]))).toBe('Hello world');
    expect(() => tok.decode([1.5])).toThrow(/position 0 is not an integer/);
  });

  it('decodes for evaluation: one trailing EOS removed, specials otherwise kept', async () => {
    const tok = await neoxTokenizer();
    expect(decodeForEvaluation(tok, [12092, 1533, 0])).toBe('Hello world');
    expect(decodeForEvaluation(tok, [12092, 0, 0])).toBe('Hello<|endoftext|>');
    expect(decodeForEvaluation(tok, [])).toBe('');
  });

  it('loads from a folder or a file, and explains a bad file', async () => {
    const dir = await loadTokenizer(dataPath('tokenizer', 'gpt-neox-20b'));
    expect(dir.encode('Hello world')).toEqual([12092, 1533]);
    await expect(loadTokenizer(dataPath('tokenizer', 'missing.json'))).rejects.toThrow(
      /missing\.json: file not found/,
    );
    expect(() => HfTokenizer.fromJSON('{"model": ', { source: 'broken.json' })).toThrow(
      /broken\.json:1: invalid JSON at column 11/,
    );
    expect(() => HfTokenizer.fromJSON({ version: '1.0' })).toThrow(/no "model" entry/);
  });
});

describe('HfTokenizer (a tiny word-level tokenizer.json, no data needed)', () => {
  const json = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [
      {
        id: 0,
        content: '<eos>',
        single_word: false,
        lstrip: false,
        rstrip: false,
        normalized: false,
        special: true,
      },
    ],
    normalizer: null,
    pre_tokenizer: { type: 'Whitespace' },
    post_processor: null,
    decoder: null,
    model: {
      type: 'WordLevel',
      vocab: { '<eos>': 0, hello: 1, world: 2, '[UNK]': 3 },
      unk_token: '[UNK]',
    },
  };

  it('takes the first special token as EOS and padding when nothing else says', () => {
    const tok = HfTokenizer.fromJSON(JSON.stringify(json));
    expect(tok.vocabSize).toBe(4);
    expect([tok.eosToken, tok.eosTokenId, tok.padTokenId]).toEqual(['<eos>', 0, 0]);
    expect(tok.encode('hello world<eos>')).toEqual([1, 2, 0]);
    expect(tok.specialTokens).toEqual([{ token: '<eos>', id: 0 }]);
    const viaConfig = HfTokenizer.fromJSON(json, { config: { pad_token: { content: '[UNK]' } } });
    expect(viaConfig.padTokenId).toBe(3);
  });

  it('names the source of a bad tokenizer or bad special tokens', () => {
    expect(() => HfTokenizer.fromJSON(json, { eosToken: '</s>', source: 'tiny.json' })).toThrow(
      /tiny\.json: end-of-sequence token "<\/s>" is not in the vocabulary/,
    );
    expect(() => HfTokenizer.fromJSON(json, { padToken: '<pad>', source: 'tiny.json' })).toThrow(
      /tiny\.json: padding token "<pad>" is not in the vocabulary/,
    );
    expect(() => HfTokenizer.fromJSON({ model: { type: 'Nope' } }, { source: 'x.json' })).toThrow(
      /x\.json: cannot build the tokenizer/,
    );
    expect(() => HfTokenizer.fromJSON({ version: '1.0' })).toThrow(
      /tokenizer\.json: not a Hugging Face tokenizer\.json \(no "model" entry\)/,
    );
    expect(() => HfTokenizer.fromJSON('\ufeff{"model": ', { source: 'broken.json' })).toThrow(
      /broken\.json:1: invalid JSON/,
    );
  });
});

describe('ByteTokenizer', () => {
  it('maps specials first, then the 256 bytes', () => {
    const tok = new ByteTokenizer();
    expect(tok.vocabSize).toBe(257);
    expect(tok.eosTokenId).toBe(0);
    expect(tok.padTokenId).toBe(0);
    expect(tok.encode('Ab')).toEqual([1 + 65, 1 + 98]);
    expect(tok.encode('a<|endoftext|>')).toEqual([98, 0]);
    expect(tok.tokenToId('<|endoftext|>')).toBe(0);
    expect(tok.tokenToId('a')).toBe(98);
    expect(tok.tokenToId('ab')).toBeUndefined();
    expect(tok.idToToken(98)).toBe('a');
    expect(tok.idToToken(1 + 0xc3)).toBe('<0xC3>');
    expect(tok.idToToken(257)).toBeUndefined();
  });

  it('round-trips any text, multi-byte characters included', () => {
    const tok = new ByteTokenizer({ specialTokens: ['<|endoftext|>', '<pad>', '###'] });
    expect(tok.vocabSize).toBe(259);
    const text = 'naïve 日本語 🙂\n\t  ###end';
    const ids = tok.encode(text);
    expect(ids).toContain(2);
    expect(ids.filter((i) => i === 2)).toHaveLength(1);
    expect(tok.decode(ids)).toBe(text);
    expect(tok.encode('é')).toEqual([3 + 0xc3, 3 + 0xa9]);
    expect(tok.decode(tok.encode('x<|endoftext|>y'), { skipSpecialTokens: true })).toBe('xy');
    expect(tok.decodeBatch(tok.encodeBatch(['a', 'bc']))).toEqual(['a', 'bc']);
    expect(tok.decode([0, 999, -1, 3 + 65])).toBe('<|endoftext|>A');
    // transformers' clean_up_tokenization, on request.
    const spaced = tok.encode("a . b , c ? I 'm do n't");
    expect(tok.decode(spaced, { cleanUpTokenizationSpaces: true })).toBe("a. b, c? I'm don't");
    expect(tok.decode(spaced)).toBe("a . b , c ? I 'm do n't");
  });

  it('prefers the longest special token and rejects bad options', () => {
    const tok = new ByteTokenizer({ specialTokens: ['<s>', '<s>x'] });
    expect(tok.encode('<s>x<s>')).toEqual([1, 0]);
    expect(() => new ByteTokenizer({ specialTokens: [] })).toThrow(/at least one special token/);
    expect(() => new ByteTokenizer({ specialTokens: ['a', 'a'] })).toThrow(/listed twice/);
    expect(() => new ByteTokenizer({ padToken: '<pad>' })).toThrow(/padToken "<pad>"/);
  });
});
