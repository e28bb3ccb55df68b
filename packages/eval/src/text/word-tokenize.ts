// NLTK's `word_tokenize`, which `evaluate`'s METEOR tokenizes with: sentences first
// (Punkt), then NLTK's Treebank-style word tokenizer on each sentence. The regexes follow
// Python's Unicode semantics: `\w` is a letter, number or underscore, `\d` a decimal digit,
// and `$` also matches before a final newline.

const W = '[\\p{L}\\p{N}_]';
const END = '(?=\\n?$)';

type Sub = [RegExp, string];

const STARTING_QUOTES: Sub[] = [
  [/([«“‘„]|`+)/gu, ' $1 '],
  [/^"/u, '``'],
  [/(``)/gu, ' $1 '],
  [/([ ([{<])("|'{2})/gu, '$1 `` '],
  // An opening single quote before a word, unless it starts a clitic ('re, 've, 's ...).
  [new RegExp(`(?<!${W})(')(?!(?:re|ve|ll|m|t|s|d|n)(?!${W}))(?=${W})`, 'giu'), '$1 '],
];

const PUNCTUATION: Sub[] = [
  [new RegExp(`([^.])(\\.)([\\])}>"'»”’ ]*)\\s*${END}`, 'gu'), '$1 $2 $3 '],
  [/([:,])([^\p{Nd}])/gu, ' $1 $2'],
  [new RegExp(`([:,])${END}`, 'gu'), ' $1 '],
  [/\.{2,}/gu, ' $& '],
  [/[;@#$%&]/gu, ' $& '],
  [/[\u2012-\u2015]/gu, ' $& '],
  [new RegExp(`([^.])(\\.)([\\])}>"']*)\\s*${END}`, 'gu'), '$1 $2$3 '],
  [/[?!]/gu, ' $& '],
  [/([^'])' /gu, "$1 ' "],
  [/[*]/gu, ' $& '],
];

const PARENS: Sub = [/[\][(){}<>]/gu, ' $& '];
const DOUBLE_DASH: Sub = [/--/gu, ' -- '];

const ENDING_QUOTES: Sub[] = [
  [/([»”’])/gu, ' $1 '],
  [/''/gu, " '' "],
  [/"/gu, " '' "],
  [/\s+/gu, ' '],
  [/([^' ])('[sS]|'[mM]|'[dD]|') /gu, '$1 $2 '],
  [/([^' ])('ll|'LL|'re|'RE|'ve|'VE|n't|N'T) /gu, '$1 $2 '],
];

const B = (s: string) => `(?<!${W})${s}(?!${W})`;
const CONTRACTIONS: RegExp[] = [
  new RegExp(B('(can)(not)'), 'giu'),
  new RegExp(B("(d)('ye)"), 'giu'),
  new RegExp(B('(gim)(me)'), 'giu'),
  new RegExp(B('(gon)(na)'), 'giu'),
  new RegExp(B('(got)(ta)'), 'giu'),
  new RegExp(B('(lem)(me)'), 'giu'),
  new RegExp(B("(more)('n)"), 'giu'),
  new RegExp(`(?<!${W})(wan)(na)(?=\\s)`, 'giu'),
  new RegExp(` ('t)(is)(?!${W})`, 'giu'),
  new RegExp(` ('t)(was)(?!${W})`, 'giu'),
];

/**
 * NLTK's `NLTKWordTokenizer.tokenize` on one sentence: Penn-Treebank-style splitting of
 * punctuation, quotes (`"` becomes `` and ''), clitics (`n't`, `'s`, ...) and a final period.
 */
export function treebankWordTokenize(text: string): string[] {
  for (const [re, s] of STARTING_QUOTES) text = text.replace(re, s);
  for (const [re, s] of PUNCTUATION) text = text.replace(re, s);
  text = text.replace(PARENS[0], PARENS[1]);
  text = text.replace(DOUBLE_DASH[0], DOUBLE_DASH[1]);
  text = ` ${text} `;
  for (const [re, s] of ENDING_QUOTES) text = text.replace(re, s);
  for (const re of CONTRACTIONS) text = text.replace(re, ' $1 $2 ');
  return text.split(/\s+/u).filter((t) => t.length > 0);
}

// Abbreviations that do not end a sentence. Punkt's English model learned a longer list;
// these are the common ones.
const ABBREVIATIONS = new Set(
  (
    'mr mrs ms dr prof sr jr st mt ft vs etc inc ltd co corp dept univ gen gov sen rep col ' +
    'lt sgt capt cmdr adm rev hon jan feb mar apr jun jul aug sep sept oct nov dec ' +
    'no nos vol vols pp fig figs approx est e.g i.e u.s u.k u.n a.m p.m ca cf al'
  ).split(' '),
);

/**
 * Splits text into sentences the way Punkt's English model mostly does: after a token
 * ending in `.`, `?` or `!` (closing quotes and brackets allowed) that is followed by
 * whitespace, except after a known abbreviation or a single letter (an initial), and,
 * after a number or an ellipsis, only when the next word starts with a capital. An
 * approximation of Punkt, exact for text without abbreviations.
 */
export function splitSentences(text: string): string[] {
  const out: string[] = [];
  const re = /(\S*?)([.?!]+)(["')\]}»”’]*)(\s+)(?=(\S))/gu;
  let start = 0;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    const word = m[1].replace(/^.*[\s(["'«“‘]/u, '');
    const ends = m[2];
    const next = m[5];
    let split = true;
    if (/^\.{2,}$/u.test(ends)) {
      // An ellipsis ends a sentence only before a capitalised word.
      split = /\p{Lu}/u.test(next);
    } else if (ends === '.') {
      const lower = word.toLowerCase().replace(/^[(["'`«“‘]+/u, '');
      // Punkt's model counts single letters (initials) as abbreviations; after a number it
      // splits when the next word looks like a sentence start.
      if (ABBREVIATIONS.has(lower) || /^\p{L}$/u.test(lower)) split = false;
      else if (/^[\p{Nd},.]+$/u.test(lower)) split = /\p{Lu}/u.test(next);
    }
    if (split) {
      const endAt = m.index + m[0].length - m[4].length;
      out.push(text.slice(start, endAt));
      start = m.index + m[0].length;
    }
  }
  if (start < text.length) out.push(text.slice(start));
  return out.map((s) => s.trim()).filter((s) => s.length > 0);
}

/**
 * NLTK's `word_tokenize`: sentences (see {@link splitSentences}), then
 * {@link treebankWordTokenize} on each. This is what `evaluate`'s METEOR tokenizes with.
 */
export function wordTokenize(text: string): string[] {
  return splitSentences(text).flatMap(treebankWordTokenize);
}
