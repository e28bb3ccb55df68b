import { treebankWordTokenize } from '../text/word-tokenize.js';
import { SpiderError } from './errors.js';

/** Python list indexing: negative indexes count from the end; out of range throws. */
export function pyIndex<T>(list: readonly T[], i: number, where: string): T {
  const j = i < 0 ? list.length + i : i;
  if (j < 0 || j >= list.length) {
    throw new SpiderError(where, `token index ${i} out of range (${list.length} tokens)`);
  }
  return list[j];
}

/** Python slice `list[a:b]` (negative bounds count from the end). */
function pySlice<T>(list: readonly T[], a: number, b: number): T[] {
  const n = list.length;
  const lo = a < 0 ? Math.max(0, n + a) : Math.min(a, n);
  const hi = b < 0 ? Math.max(0, n + b) : Math.min(b, n);
  return list.slice(lo, Math.max(lo, hi));
}

/**
 * `tokenize` of process_sql.py: single quotes become double quotes, each quoted string is
 * kept whole as one token (with its quotes and case), the rest goes through NLTK's word
 * tokenizer ({@link treebankWordTokenize}: `a=b` stays one token) and is lower-cased, and `!`, `>`, `<` followed by `=` are merged back into one
 * operator. Throws a {@link SpiderError} on an odd number of quotes.
 */
export function tokenizeSpiderSql(sql: string): string[] {
  let s = sql.replaceAll("'", '"');
  const quotes: number[] = [];
  for (let i = 0; i < s.length; i++) if (s[i] === '"') quotes.push(i);
  if (quotes.length % 2 !== 0) {
    throw new SpiderError('tokenizeSpiderSql', `unexpected quote (an odd number of quotes)`);
  }
  // Replace from the last pair backwards, so earlier indexes stay valid.
  const values = new Map<string, string>();
  for (let i = quotes.length - 1; i >= 0; i -= 2) {
    const q1 = quotes[i - 1];
    const q2 = quotes[i];
    const key = `__val_${q1}_${q2}__`;
    values.set(key, s.slice(q1, q2 + 1));
    s = s.slice(0, q1) + key + s.slice(q2 + 1);
  }
  // process_sql calls NLTK's word_tokenize. No quotes are left at this point, so its quote
  // rules do nothing, and its Punkt sentence splitter is not reproduced (it only acts on a
  // period followed by a space).
  let toks = treebankWordTokenize(s).map((t) => {
    const lower = t.toLowerCase();
    return values.get(lower) ?? lower;
  });
  const eqs: number[] = [];
  toks.forEach((t, i) => {
    if (t === '=') eqs.push(i);
  });
  for (const eq of eqs.reverse()) {
    const pre = pyIndex(toks, eq - 1, 'tokenizeSpiderSql');
    if (pre === '!' || pre === '>' || pre === '<') {
      toks = [...pySlice(toks, 0, eq - 1), `${pre}=`, ...pySlice(toks, eq + 1, toks.length)];
    }
  }
  return toks;
}
