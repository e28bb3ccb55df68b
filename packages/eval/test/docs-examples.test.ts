import { describe, expect, it } from 'vitest';
import { bleu, corpusBleu, glueMetric, meteor, rouge } from '../src/index.js';
import { loadWordNet } from '../src/node.js';

// The usage examples of the reference implementations' own documentation, with the outputs
// printed there.
describe('documentation examples of the reference implementations', () => {
  it('evaluate bleu', () => {
    const r = bleu(
      ['hello there general kenobi', 'foo bar foobar'],
      [['hello there general kenobi', 'hello there !'], ['foo bar foobar']],
    );
    expect(r).toEqual({
      bleu: 1,
      precisions: [1, 1, 1, 1],
      brevity_penalty: 1,
      length_ratio: 1.1666666666666667,
      translation_length: 7,
      reference_length: 6,
    });
  });

  it('evaluate rouge', () => {
    expect(rouge(['hello there', 'general kenobi'], ['hello there', 'general kenobi'])).toEqual({
      rouge1: 1,
      rouge2: 1,
      rougeL: 1,
      rougeLsum: 1,
    });
  });

  it('evaluate meteor, one and three references: 0.6944', () => {
    const wordnet = loadWordNet();
    const pred = [
      'It is a guide to action which ensures that the military always obeys the commands of the party',
    ];
    const r1 =
      'It is a guide to action that ensures that the military will forever heed Party commands';
    const r2 =
      'It is the guiding principle which guarantees the military forces always being under the command of the Party';
    const r3 = 'It is the practical guide for the army always to heed the directions of the party';
    expect(meteor(pred, [r1], { wordnet }).meteor).toBeCloseTo(0.6944, 4);
    expect(meteor(pred, [[r1, r2, r3]], { wordnet }).meteor).toBeCloseTo(0.6944, 4);
  });

  it('evaluate glue', () => {
    expect(glueMetric('mrpc', [0, 1], [0, 1])).toEqual({ accuracy: 1, f1: 1 });
    const stsb = glueMetric('stsb', [0, 1, 2, 3, 4, 5], [0, 1, 2, 3, 4, 5]);
    expect(stsb.pearson).toBeCloseTo(1, 12);
    expect(stsb.spearmanr).toBeCloseTo(1, 12);
    expect(glueMetric('cola', [1, 1], [0, 1])).toEqual({ matthews_correlation: 0 });
  });

  it('sacreBLEU README: score line and signature', () => {
    const refs = [
      ['The dog bit the man.', 'It was not unexpected.', 'The man bit him first.'],
      ['The dog had bit the man.', 'No one was surprised.', 'The man had bitten the dog.'],
    ];
    const sys = ['The dog bit the man.', "It wasn't surprising.", 'The man had just bitten him.'];
    const s = corpusBleu(sys, refs, { version: '2.0.0' });
    expect(s.formatted).toBe(
      'BLEU = 48.53 82.4/50.0/45.5/37.5 (BP = 0.943 ratio = 0.944 hyp_len = 17 ref_len = 18)',
    );
    expect(s.signature).toBe('nrefs:2|case:mixed|eff:no|tok:13a|smooth:exp|version:2.0.0');
  });
});
