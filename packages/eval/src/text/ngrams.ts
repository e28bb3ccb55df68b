/**
 * Unambiguous key of an n-gram: each token prefixed with its length, so no token content
 * (spaces, control characters) can make two different n-grams collide.
 */
export function ngramKey(tokens: readonly string[], start: number, n: number): string {
  let key = '';
  for (let i = start; i < start + n; i++) key += `${tokens[i].length}:${tokens[i]}`;
  return key;
}

/**
 * Counts the n-grams of a token list, one map per order: `result[n - 1]` holds the
 * n-grams of order n, for n = 1..maxOrder.
 */
export function countNgrams(tokens: readonly string[], maxOrder: number): Map<string, number>[] {
  const out: Map<string, number>[] = [];
  for (let n = 1; n <= maxOrder; n++) {
    const counts = new Map<string, number>();
    for (let i = 0; i + n <= tokens.length; i++) {
      const key = ngramKey(tokens, i, n);
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    out.push(counts);
  }
  return out;
}

/** Merges `b` into `a` keeping the larger count of each n-gram (Python's `Counter |`). */
export function maxMerge(a: Map<string, number>, b: Map<string, number>): void {
  for (const [k, v] of b) {
    const cur = a.get(k);
    if (cur === undefined || v > cur) a.set(k, v);
  }
}
