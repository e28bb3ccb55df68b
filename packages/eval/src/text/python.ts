// Python's notion of whitespace (`str.split()` / `str.strip()` with no argument), which
// differs from JavaScript's `\s`: it includes U+001C..U+001F and U+0085 but not U+FEFF. The
// reference implementations split with Python, so we must too.
const PY_WS =
  '\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const PY_WS_RUN = new RegExp(`[${PY_WS}]+`, 'u');
const PY_WS_END = new RegExp(`[${PY_WS}]+$`, 'u');
const PY_WS_START = new RegExp(`^[${PY_WS}]+`, 'u');

/** `s.split()` in Python: split on runs of whitespace, dropping empty pieces. */
export function pySplit(s: string): string[] {
  const parts = s.split(PY_WS_RUN);
  return parts.filter((p) => p.length > 0);
}

/** `s.rstrip()` in Python. */
export function pyRstrip(s: string): string {
  return s.replace(PY_WS_END, '');
}

/** `s.strip()` in Python. */
export function pyStrip(s: string): string {
  return s.replace(PY_WS_START, '').replace(PY_WS_END, '');
}

/**
 * `format(x, f".{digits}f")` in Python. JavaScript's `toFixed` rounds exact ties away from
 * zero, Python to even (`f"{6.25:.1f}"` is `6.2`); other values round the same in both.
 */
export function pyFixed(x: number, digits: number): string {
  const s = x.toFixed(digits);
  if (!Number.isFinite(x)) return s;
  // A tie needs the exact binary value to end in 5 one place after `digits`; 40 more places
  // show every digit of such a value.
  const exact = Math.abs(x).toFixed(Math.min(100, digits + 40));
  const tail = exact.slice(exact.indexOf('.') + 1 + digits);
  if (!/^50*$/.test(tail)) return s;
  const down = (Math.sign(x) * (Math.abs(x) - 0.5 * 10 ** -digits)).toFixed(digits);
  const last = Number(down.replace(/\D/g, '').slice(-1));
  return last % 2 === 0 ? down : s;
}
