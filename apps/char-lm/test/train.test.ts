import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CharVocab } from '../src/data.js';
import { train } from '../src/train.js';

const text = readFileSync(
  fileURLToPath(new URL('../data/tinyshakespeare.txt', import.meta.url)),
  'utf8',
).slice(0, 60_000);

describe('char-lm', () => {
  it('round-trips text through its vocabulary and names unknown characters', () => {
    const vocab = new CharVocab('hello world');
    expect(vocab.decode(vocab.encode('hold')).toString()).toBe('hold');
    expect(() => vocab.encode('hz')).toThrow(/character "z" at offset 1 is not in the vocabulary/);
  });

  it('learns: the training and held-out losses fall, and the run is repeatable', () => {
    const options = {
      steps: 40,
      batch: 4,
      seqlen: 32,
      lr: 5e-3,
      seed: 3,
      model: { dModel: 32, nLayer: 1, dState: 8, dConv: 4, expand: 2 },
      log: () => {},
    };
    const a = train(text, options);
    expect(a.validationAfter).toBeLessThan(a.validationBefore - 0.5);
    const first = a.losses.slice(0, 5).reduce((s, l) => s + l.loss, 0) / 5;
    const last = a.losses.slice(-5).reduce((s, l) => s + l.loss, 0) / 5;
    expect(last).toBeLessThan(first - 0.5);
    expect(a.sample.startsWith('ROMEO:\n')).toBe(true);
    const b = train(text, options);
    expect(b.losses.map((l) => l.loss)).toEqual(a.losses.map((l) => l.loss));
  });
});
