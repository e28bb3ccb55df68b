const DQS_ERROR =
  /^no such column: "([\s\S]*)" - should this be a string literal in single-quotes\?$/;

/**
 * The name SQLite could not resolve when its error says a double-quoted token should be a
 * string literal, else `undefined`.
 */
export function unresolvedDoubleQuoted(message: string): string | undefined {
  return DQS_ERROR.exec(message)?.[1];
}

/**
 * Rewrites every double-quoted token whose text is `name` into a single-quoted string
 * literal, leaving string literals, other identifiers and comments alone.
 *
 * Python's sqlite3 (which the official evaluator uses) accepts double-quoted strings, as
 * SQLite does by default: a double-quoted token that names no column is a string. The
 * SQLite inside better-sqlite3 is built without that fallback, so the runner retries a query
 * with each token SQLite reports as unresolved turned into a string, which is what the
 * fallback does.
 */
export function doubleQuotedToLiteral(sql: string, name: string): string {
  let out = '';
  let i = 0;
  const n = sql.length;
  while (i < n) {
    const c = sql[i];
    if (c === "'" || c === '"' || c === '`') {
      // A quoted run; a doubled quote inside is an escaped quote.
      let j = i + 1;
      let text = '';
      while (j < n) {
        if (sql[j] === c) {
          if (sql[j + 1] === c) {
            text += c;
            j += 2;
            continue;
          }
          break;
        }
        text += sql[j];
        j += 1;
      }
      const raw = sql.slice(i, Math.min(j + 1, n));
      out += c === '"' && text === name ? `'${text.replaceAll("'", "''")}'` : raw;
      i = j + 1;
    } else if (c === '[') {
      const j = sql.indexOf(']', i + 1);
      const end = j < 0 ? n : j + 1;
      out += sql.slice(i, end);
      i = end;
    } else if (c === '-' && sql[i + 1] === '-') {
      const j = sql.indexOf('\n', i);
      const end = j < 0 ? n : j;
      out += sql.slice(i, end);
      i = end;
    } else if (c === '/' && sql[i + 1] === '*') {
      const j = sql.indexOf('*/', i + 2);
      const end = j < 0 ? n : j + 2;
      out += sql.slice(i, end);
      i = end;
    } else {
      out += c;
      i += 1;
    }
  }
  return out;
}
