import { SpiderError } from './errors.js';
import type { SpiderGold } from './evaluate.js';

function pyLines(text: string): string[] {
  // Python's str.strip() removes whitespace at both ends; blank lines are skipped.
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
}

/**
 * Reads a gold file as evaluation.py does: one `SQL<TAB>db_id` per line, lines stripped and
 * blank lines skipped. Throws a {@link SpiderError} naming a line without exactly one tab.
 */
export function parseSpiderGoldLines(text: string): SpiderGold[] {
  return pyLines(text).map((line, i) => {
    const parts = line.split('\t');
    if (parts.length !== 2) {
      throw new SpiderError(
        'parseSpiderGoldLines',
        `line ${i + 1} (not counting blank lines) must be "SQL<TAB>db_id", got ${parts.length} fields`,
      );
    }
    return { sql: parts[0], dbId: parts[1] };
  });
}

/**
 * Reads a prediction file as evaluation.py does: lines stripped, blank lines skipped (so an
 * empty prediction shifts the ones after it, as in the official script), and only the text
 * before a first tab kept.
 */
export function parseSpiderPredictionLines(text: string): string[] {
  return pyLines(text).map((line) => line.split('\t')[0]);
}
