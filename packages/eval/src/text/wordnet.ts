import { MetricError } from '../errors.js';

/** WordNet parts of speech as the database files name them. */
export type WordNetPos = 'noun' | 'verb' | 'adj' | 'adv';

/** One synset: its part of speech, byte offset in `data.<pos>` and lemma names. */
export interface Synset {
  pos: WordNetPos;
  offset: number;
  /** Lemma names as the data file spells them (case kept, spaces as `_`, no `(a)` marks). */
  lemmas: string[];
}

/**
 * Reads one WordNet database file by name (`index.noun`, `data.verb`, `adj.exc`, ...).
 * Returns undefined when the file does not exist (exception lists are optional).
 */
export type WordNetFileReader = (name: string) => Uint8Array | string | undefined;

// NLTK's order of parts of speech in `synsets()` and its morphy detachment rules.
const POS_LIST: readonly WordNetPos[] = ['noun', 'verb', 'adj', 'adv'];
const SUBSTITUTIONS: Record<WordNetPos, readonly [string, string][]> = {
  noun: [
    ['s', ''],
    ['ses', 's'],
    ['ves', 'f'],
    ['xes', 'x'],
    ['zes', 'z'],
    ['ches', 'ch'],
    ['shes', 'sh'],
    ['men', 'man'],
    ['ies', 'y'],
  ],
  verb: [
    ['s', ''],
    ['ies', 'y'],
    ['es', 'e'],
    ['es', ''],
    ['ed', 'e'],
    ['ed', ''],
    ['ing', 'e'],
    ['ing', ''],
  ],
  adj: [
    ['er', ''],
    ['est', ''],
    ['er', 'e'],
    ['est', 'e'],
  ],
  adv: [],
};

const decoder = new TextDecoder('utf-8');
const encoder = new TextEncoder();

function asBytes(x: Uint8Array | string): Uint8Array {
  return typeof x === 'string' ? encoder.encode(x) : x;
}

function asText(x: Uint8Array | string): string {
  return typeof x === 'string' ? x : decoder.decode(x);
}

/**
 * The WordNet lookups NLTK's METEOR needs, over the Princeton database files: `synsets`
 * (with NLTK's `morphy`: exception lists, then detachment rules applied until a form is in
 * the index) and the lemma names of each synset. Files are read on first use per part of
 * speech and cached, as are the synonym sets.
 */
export class WordNet {
  private readonly read: WordNetFileReader;
  private readonly index = new Map<WordNetPos, Map<string, string>>();
  private readonly data = new Map<WordNetPos, Uint8Array>();
  private readonly exceptions = new Map<WordNetPos, Map<string, string[]>>();
  private readonly synonymCache = new Map<string, ReadonlySet<string>>();

  /** @param read returns the contents of a database file by name. */
  constructor(read: WordNetFileReader) {
    this.read = read;
  }

  private file(name: string, required: boolean): Uint8Array | string | undefined {
    const f = this.read(name);
    if (f === undefined && required) {
      throw new MetricError('WordNet', `database file ${name} is missing`);
    }
    return f;
  }

  // Lemma -> its index line. Lines are split on first use only: morphy needs no more
  // than membership, and parsing every line up front costs more than the rest of a load.
  private indexOf(pos: WordNetPos): Map<string, string> {
    let m = this.index.get(pos);
    if (m) return m;
    m = new Map();
    const text = asText(this.file(`index.${pos}`, true)!);
    let start = 0;
    while (start < text.length) {
      let end = text.indexOf('\n', start);
      if (end < 0) end = text.length;
      // Lines that start with a space are the licence header.
      if (end > start && text.charCodeAt(start) !== 32) {
        const space = text.indexOf(' ', start);
        const cut = space < 0 || space > end ? end : space;
        m.set(text.slice(start, cut), text.slice(start, end));
      }
      start = end + 1;
    }
    this.index.set(pos, m);
    return m;
  }

  // Synset offsets of an index line: lemma pos synset_cnt p_cnt [ptr_symbol...] sense_cnt
  // tagsense_cnt synset_offset...
  private offsetsOf(pos: WordNetPos, lemma: string): number[] {
    const line = this.indexOf(pos).get(lemma);
    if (line === undefined) return [];
    const t = line.trim().split(/\s+/);
    const nSynsets = Number(t[2]);
    const start = 4 + Number(t[3]) + 2;
    const offsets: number[] = [];
    for (let k = 0; k < nSynsets; k++) offsets.push(Number(t[start + k]));
    return offsets;
  }

  private exceptionsOf(pos: WordNetPos): Map<string, string[]> {
    let m = this.exceptions.get(pos);
    if (m) return m;
    m = new Map();
    const f = this.file(`${pos}.exc`, false);
    if (f !== undefined) {
      for (const line of asText(f).split('\n')) {
        const t = line.trim().split(/\s+/);
        if (t[0]) m.set(t[0], t.slice(1));
      }
    }
    this.exceptions.set(pos, m);
    return m;
  }

  /**
   * NLTK's `_morphy(form, pos)`: the base forms of `form` that the index lists for `pos`.
   * An exception-list entry wins outright; otherwise the form itself and one round of
   * detachment rules are tried, then further rounds until something is found.
   */
  morphy(form: string, pos: WordNetPos): string[] {
    const index = this.indexOf(pos);
    const filter = (forms: readonly string[]) => {
      const out: string[] = [];
      for (const f of forms) if (index.has(f) && !out.includes(f)) out.push(f);
      return out;
    };
    const exc = this.exceptionsOf(pos).get(form);
    if (exc) return filter([form, ...exc]);
    const subs = SUBSTITUTIONS[pos];
    const apply = (forms: readonly string[]) => {
      const out: string[] = [];
      for (const f of forms) {
        for (const [old, rep] of subs) {
          if (f.endsWith(old)) out.push(f.slice(0, f.length - old.length) + rep);
        }
      }
      return out;
    };
    let forms = apply([form]);
    const first = filter([form, ...forms]);
    if (first.length > 0) return first;
    while (forms.length > 0) {
      forms = apply(forms);
      const found = filter(forms);
      if (found.length > 0) return found;
    }
    return [];
  }

  private synsetAt(pos: WordNetPos, offset: number): Synset {
    let bytes = this.data.get(pos);
    if (!bytes) {
      bytes = asBytes(this.file(`data.${pos}`, true)!);
      this.data.set(pos, bytes);
    }
    let end = offset;
    while (end < bytes.length && bytes[end] !== 10) end++;
    const t = decoder.decode(bytes.subarray(offset, end)).split(' ');
    if (Number(t[0]) !== offset) {
      throw new MetricError('WordNet', `data.${pos} has no synset at byte offset ${offset}`);
    }
    const nWords = Number.parseInt(t[3], 16);
    const lemmas: string[] = [];
    for (let k = 0; k < nWords; k++) lemmas.push(t[4 + 2 * k].replace(/\(.*\)$/, ''));
    return { pos, offset, lemmas };
  }

  /** NLTK's `wordnet.synsets(word)` over all parts of speech (word lowercased). */
  synsets(word: string, pos?: WordNetPos): Synset[] {
    const lemma = word.toLowerCase();
    const out: Synset[] = [];
    for (const p of pos ? [pos] : POS_LIST) {
      for (const form of this.morphy(lemma, p)) {
        for (const off of this.offsetsOf(p, form)) out.push(this.synsetAt(p, off));
      }
    }
    return out;
  }

  /**
   * The synonyms METEOR matches against: lemma names without `_` of every synset of
   * `word`, plus `word` itself (cached).
   */
  synonyms(word: string): ReadonlySet<string> {
    let s = this.synonymCache.get(word);
    if (s) return s;
    const set = new Set<string>([word]);
    for (const syn of this.synsets(word))
      for (const l of syn.lemmas) if (!l.includes('_')) set.add(l);
    s = set;
    this.synonymCache.set(word, s);
    return s;
  }
}
