/**
 * The three modes of NLTK's `PorterStemmer`: the 1980 paper, Martin Porter's later
 * extensions, and NLTK's further extensions (NLTK's default).
 */
export type PorterMode = 'NLTK_EXTENSIONS' | 'MARTIN_EXTENSIONS' | 'ORIGINAL_ALGORITHM';

// A rule: suffix (or '*d' for "ends in a double consonant"), replacement, and an optional
// condition on the stem left after removing the suffix. The first rule whose suffix
// matches decides: if its condition fails, no later rule is tried.
type Rule = readonly [suffix: string, replacement: string, condition?: (stem: string) => boolean];

// NLTK_EXTENSIONS maps these forms to a fixed stem before any rule runs.
const IRREGULAR: Record<string, string> = {
  sky: 'sky',
  skies: 'sky',
  dying: 'die',
  lying: 'lie',
  tying: 'tie',
  news: 'news',
  innings: 'inning',
  inning: 'inning',
  outings: 'outing',
  outing: 'outing',
  cannings: 'canning',
  canning: 'canning',
  howe: 'howe',
  proceed: 'proceed',
  exceed: 'exceed',
  succeed: 'succeed',
};

function isVowelLetter(c: string): boolean {
  return c === 'a' || c === 'e' || c === 'i' || c === 'o' || c === 'u';
}

/**
 * The Porter stemmer as NLTK's `nltk.stem.porter.PorterStemmer` implements it, in any of
 * its three modes (default `NLTK_EXTENSIONS`, which is what `rouge_score` and NLTK's METEOR
 * use). `stem()` lowercases its input first, as NLTK's `stem(word, to_lowercase=True)`.
 *
 * @example
 * ```ts
 * new PorterStemmer().stem('generously'); // 'gener'
 * ```
 */
export class PorterStemmer {
  /** The mode this stemmer runs in. */
  readonly mode: PorterMode;

  constructor(mode: PorterMode = 'NLTK_EXTENSIONS') {
    if (
      mode !== 'NLTK_EXTENSIONS' &&
      mode !== 'MARTIN_EXTENSIONS' &&
      mode !== 'ORIGINAL_ALGORITHM'
    ) {
      throw new Error(
        `PorterStemmer: mode must be NLTK_EXTENSIONS, MARTIN_EXTENSIONS or ORIGINAL_ALGORITHM, got ${String(mode)}`,
      );
    }
    this.mode = mode;
  }

  /** Stems one word (lowercased first). */
  stem(word: string): string {
    const lower = word.toLowerCase();
    if (this.mode === 'NLTK_EXTENSIONS' && Object.hasOwn(IRREGULAR, word)) {
      return IRREGULAR[word];
    }
    // Words of one or two letters are left alone except in the original algorithm.
    if (this.mode !== 'ORIGINAL_ALGORITHM' && word.length <= 2) return lower;
    let s = this.step1a(lower);
    s = this.step1b(s);
    s = this.step1c(s);
    s = this.step2(s);
    s = this.step3(s);
    s = this.step4(s);
    s = this.step5a(s);
    return this.step5b(s);
  }

  private isConsonant(word: string, i: number): boolean {
    const c = word[i];
    if (isVowelLetter(c)) return false;
    if (c === 'y') return i === 0 ? true : !this.isConsonant(word, i - 1);
    return true;
  }

  /** Porter's m: the number of vowel-consonant sequences in [C](VC){m}[V]. */
  private measure(stem: string): number {
    let m = 0;
    let prevVowel = false;
    for (let i = 0; i < stem.length; i++) {
      const cons = this.isConsonant(stem, i);
      if (cons && prevVowel) m++;
      prevVowel = !cons;
    }
    return m;
  }

  private positive = (stem: string): boolean => this.measure(stem) > 0;

  private containsVowel(stem: string): boolean {
    for (let i = 0; i < stem.length; i++) if (!this.isConsonant(stem, i)) return true;
    return false;
  }

  private endsDoubleConsonant(word: string): boolean {
    const n = word.length;
    return n >= 2 && word[n - 1] === word[n - 2] && this.isConsonant(word, n - 1);
  }

  /** Condition *o: ends consonant-vowel-consonant, the last not w, x or y. */
  private endsCvc(word: string): boolean {
    const n = word.length;
    if (
      n >= 3 &&
      this.isConsonant(word, n - 3) &&
      !this.isConsonant(word, n - 2) &&
      this.isConsonant(word, n - 1) &&
      word[n - 1] !== 'w' &&
      word[n - 1] !== 'x' &&
      word[n - 1] !== 'y'
    ) {
      return true;
    }
    // NLTK also treats a two-letter vowel-consonant word as *o.
    return (
      this.mode === 'NLTK_EXTENSIONS' &&
      n === 2 &&
      !this.isConsonant(word, 0) &&
      this.isConsonant(word, 1)
    );
  }

  private applyRules(word: string, rules: readonly Rule[]): string {
    for (const [suffix, replacement, condition] of rules) {
      if (suffix === '*d' && this.endsDoubleConsonant(word)) {
        const stem = word.slice(0, -2);
        return !condition || condition(stem) ? stem + replacement : word;
      }
      if (word.endsWith(suffix)) {
        const stem = word.slice(0, word.length - suffix.length);
        return !condition || condition(stem) ? stem + replacement : word;
      }
    }
    return word;
  }

  private step1a(word: string): string {
    if (this.mode === 'NLTK_EXTENSIONS' && word.endsWith('ies') && word.length === 4) {
      return `${word.slice(0, -3)}ie`;
    }
    return this.applyRules(word, [
      ['sses', 'ss'],
      ['ies', 'i'],
      ['ss', 'ss'],
      ['s', ''],
    ]);
  }

  private step1b(word: string): string {
    if (this.mode === 'NLTK_EXTENSIONS' && word.endsWith('ied')) {
      return word.slice(0, -3) + (word.length === 4 ? 'ie' : 'i');
    }
    if (word.endsWith('eed')) {
      const stem = word.slice(0, -3);
      return this.measure(stem) > 0 ? `${stem}ee` : word;
    }
    let stem: string | undefined;
    for (const suffix of ['ed', 'ing']) {
      if (word.endsWith(suffix)) {
        const s = word.slice(0, word.length - suffix.length);
        if (this.containsVowel(s)) {
          stem = s;
          break;
        }
      }
    }
    if (stem === undefined) return word;
    const last = stem[stem.length - 1];
    return this.applyRules(stem, [
      ['at', 'ate'],
      ['bl', 'ble'],
      ['iz', 'ize'],
      ['*d', last, () => last !== 'l' && last !== 's' && last !== 'z'],
      ['', 'e', (s) => this.measure(s) === 1 && this.endsCvc(s)],
    ]);
  }

  private step1c(word: string): string {
    const condition =
      this.mode === 'NLTK_EXTENSIONS'
        ? (s: string) => s.length > 1 && this.isConsonant(s, s.length - 1)
        : (s: string) => this.containsVowel(s);
    return this.applyRules(word, [['y', 'i', condition]]);
  }

  private step2(word: string): string {
    if (
      this.mode === 'NLTK_EXTENSIONS' &&
      word.endsWith('alli') &&
      this.positive(word.slice(0, -4))
    ) {
      return this.step2(`${word.slice(0, -4)}al`);
    }
    const p = this.positive;
    const rules: Rule[] = [
      ['ational', 'ate', p],
      ['tional', 'tion', p],
      ['enci', 'ence', p],
      ['anci', 'ance', p],
      ['izer', 'ize', p],
      this.mode === 'ORIGINAL_ALGORITHM' ? ['abli', 'able', p] : ['bli', 'ble', p],
      ['alli', 'al', p],
      ['entli', 'ent', p],
      ['eli', 'e', p],
      ['ousli', 'ous', p],
      ['ization', 'ize', p],
      ['ation', 'ate', p],
      ['ator', 'ate', p],
      ['alism', 'al', p],
      ['iveness', 'ive', p],
      ['fulness', 'ful', p],
      ['ousness', 'ous', p],
      ['aliti', 'al', p],
      ['iviti', 'ive', p],
      ['biliti', 'ble', p],
    ];
    if (this.mode === 'NLTK_EXTENSIONS') {
      rules.push(['fulli', 'ful', p]);
      // The 'l' of 'logi' stays with the stem for the measure, so 'geo' works like 'philo'.
      rules.push(['logi', 'log', () => this.positive(word.slice(0, -3))]);
    } else if (this.mode === 'MARTIN_EXTENSIONS') {
      rules.push(['logi', 'log', p]);
    }
    return this.applyRules(word, rules);
  }

  private step3(word: string): string {
    const p = this.positive;
    return this.applyRules(word, [
      ['icate', 'ic', p],
      ['ative', '', p],
      ['alize', 'al', p],
      ['iciti', 'ic', p],
      ['ical', 'ic', p],
      ['ful', '', p],
      ['ness', '', p],
    ]);
  }

  private step4(word: string): string {
    const gt1 = (s: string) => this.measure(s) > 1;
    return this.applyRules(word, [
      ['al', '', gt1],
      ['ance', '', gt1],
      ['ence', '', gt1],
      ['er', '', gt1],
      ['ic', '', gt1],
      ['able', '', gt1],
      ['ible', '', gt1],
      ['ant', '', gt1],
      ['ement', '', gt1],
      ['ment', '', gt1],
      ['ent', '', gt1],
      ['ion', '', (s) => gt1(s) && (s.endsWith('s') || s.endsWith('t'))],
      ['ou', '', gt1],
      ['ism', '', gt1],
      ['ate', '', gt1],
      ['iti', '', gt1],
      ['ous', '', gt1],
      ['ive', '', gt1],
      ['ize', '', gt1],
    ]);
  }

  private step5a(word: string): string {
    // Both rules share the suffix 'e', so (unlike elsewhere) the second is tried when the
    // first's condition fails.
    if (word.endsWith('e')) {
      const stem = word.slice(0, -1);
      const m = this.measure(stem);
      if (m > 1) return stem;
      if (m === 1 && !this.endsCvc(stem)) return stem;
    }
    return word;
  }

  private step5b(word: string): string {
    return this.applyRules(word, [['ll', 'l', () => this.measure(word.slice(0, -1)) > 1]]);
  }
}
