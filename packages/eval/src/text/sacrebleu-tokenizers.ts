import { pySplit } from './python.js';

/** The sacreBLEU tokenizers this package implements (`tokenize=` in sacreBLEU). */
export type SacreTokenizerName = '13a' | 'intl' | 'char' | 'none';

// mteval-v13a.pl as sacreBLEU's TokenizerRegexp has it: isolate most ASCII punctuation
// (not the apostrophe, period, comma or dash), then periods and commas that are not between
// digits, then a dash after a digit.
const RE_13A: [RegExp, string][] = [
  [/([{-~[-` -&(-+:-@/])/g, ' $1 '],
  [/([^0-9])([.,])/g, '$1 $2 '],
  [/([.,])([^0-9])/g, ' $1 $2'],
  [/([0-9])(-)/g, '$1 $2 '],
];

/**
 * sacreBLEU's `13a` tokenizer (mteval-v13a): drops `<skipped>`, joins `-\n` hyphenation,
 * unescapes `&quot; &amp; &lt; &gt;`, splits punctuation, and returns the tokens joined by
 * single spaces.
 */
export function tokenize13a(line: string): string {
  line = line.replaceAll('<skipped>', '').replaceAll('-\n', '').replaceAll('\n', ' ');
  if (line.includes('&')) {
    line = line
      .replaceAll('&quot;', '"')
      .replaceAll('&amp;', '&')
      .replaceAll('&lt;', '<')
      .replaceAll('&gt;', '>');
  }
  line = ` ${line} `;
  for (const [re, rep] of RE_13A) line = line.replace(re, rep);
  return pySplit(line).join(' ');
}

const RE_INTL: [RegExp, string][] = [
  [/(\P{N})(\p{P})/gu, '$1 $2 '],
  [/(\p{P})(\P{N})/gu, ' $1 $2'],
  [/(\p{S})/gu, ' $1 '],
];

/**
 * sacreBLEU's `intl` tokenizer (mteval-v14 international): splits Unicode punctuation that
 * is not between digits and every Unicode symbol. Unicode categories come from the
 * JavaScript engine's Unicode tables, which may be a newer Unicode version than Python's.
 */
export function tokenizeIntl(line: string): string {
  for (const [re, rep] of RE_INTL) line = line.replace(re, rep);
  return pySplit(line).join(' ');
}

/** sacreBLEU's `char` tokenizer: every code point (spaces included) joined by spaces. */
export function tokenizeChar(line: string): string {
  return Array.from(line).join(' ');
}

/** Returns the sacreBLEU tokenizer of that name. */
export function sacreTokenizer(name: SacreTokenizerName): (line: string) => string {
  switch (name) {
    case '13a':
      return tokenize13a;
    case 'intl':
      return tokenizeIntl;
    case 'char':
      return tokenizeChar;
    case 'none':
      return (line) => line;
  }
}
