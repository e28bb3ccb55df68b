import { describe, expect, it } from 'vitest';
import { splitSentences, treebankWordTokenize, wordTokenize } from '../src/index.js';

// Expected outputs are the examples of NLTK's own documentation.
describe("NLTK's word tokenizer", () => {
  it('NLTKWordTokenizer docstring: only the final period of the text is split', () => {
    const s =
      'Good muffins cost $3.88 (roughly 3,36 euros)\nin New York.  Please buy me\ntwo of them.\nThanks.';
    expect(treebankWordTokenize(s)).toEqual([
      'Good',
      'muffins',
      'cost',
      '$',
      '3.88',
      '(',
      'roughly',
      '3,36',
      'euros',
      ')',
      'in',
      'New',
      'York.',
      'Please',
      'buy',
      'me',
      'two',
      'of',
      'them.',
      'Thanks',
      '.',
    ]);
  });

  it('TreebankWordTokenizer docstring: clitics and commas', () => {
    expect(treebankWordTokenize("They'll save and invest more.")).toEqual([
      'They',
      "'ll",
      'save',
      'and',
      'invest',
      'more',
      '.',
    ]);
    expect(treebankWordTokenize("hi, my name can't hello,")).toEqual([
      'hi',
      ',',
      'my',
      'name',
      'ca',
      "n't",
      'hello',
      ',',
    ]);
    expect(treebankWordTokenize('"Quoted" text')).toEqual(['``', 'Quoted', "''", 'text']);
  });

  it('word_tokenize docstring: sentences first, so every sentence-final period splits', () => {
    const s = 'Good muffins cost $3.88\nin New York.  Please buy me\ntwo of them.\n\nThanks.';
    expect(wordTokenize(s)).toEqual([
      'Good',
      'muffins',
      'cost',
      '$',
      '3.88',
      'in',
      'New',
      'York',
      '.',
      'Please',
      'buy',
      'me',
      'two',
      'of',
      'them',
      '.',
      'Thanks',
      '.',
    ]);
  });

  it('Punkt docstring: abbreviations and initials do not end sentences', () => {
    const text =
      'Punkt knows that the periods in Mr. Smith and Johann S. Bach do not mark sentence boundaries.  And sometimes sentences can start with non-capitalized words.  i is a good variable name.';
    expect(splitSentences(text)).toEqual([
      'Punkt knows that the periods in Mr. Smith and Johann S. Bach do not mark sentence boundaries.',
      'And sometimes sentences can start with non-capitalized words.',
      'i is a good variable name.',
    ]);
  });

  it('an ellipsis before a lowercase word and a decimal number do not end a sentence', () => {
    expect(splitSentences('Wait... what is 3.5 here? Nothing. Done')).toEqual([
      'Wait... what is 3.5 here?',
      'Nothing.',
      'Done',
    ]);
    expect(splitSentences('He left . She stayed')).toEqual(['He left .', 'She stayed']);
  });
});
