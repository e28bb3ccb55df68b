import { type ChildProcess, spawn } from 'node:child_process';
import { resolveModule } from '../node/package-paths.js';
import type { SqliteCell } from './exec-match.js';
import { doubleQuotedToLiteral, unresolvedDoubleQuoted } from './sqlite-quotes.js';

/** The outcome of one query run by {@link SqliteQueryRunner}. */
export type SqliteQueryResult =
  | { ok: true; rows: SqliteCell[][] }
  | { ok: false; error: string; timedOut: boolean };

// The child process: opens each database read-only once and answers one query per message.
// better-sqlite3 runs a query synchronously and offers no interrupt, so a query that runs too
// long can only be stopped by killing the process that runs it.
// It says when it is ready, so that starting Node and loading better-sqlite3 does not count
// against a query's time limit.
const CHILD = `
const Database = require(process.argv[1]);
const dbs = new Map();
process.on('disconnect', () => process.exit(0));
process.send({ ready: true });
process.on('message', (m) => {
  let reply;
  try {
    let db = dbs.get(m.path);
    if (!db) {
      db = new Database(m.path, { readonly: true, fileMustExist: true });
      dbs.set(m.path, db);
    }
    const stmt = db.prepare(m.sql);
    if (!stmt.reader) throw new Error('the statement returns no rows (only queries are run)');
    const rows = stmt.raw(true).safeIntegers(true).all();
    // Buffers would arrive as their JSON form; plain byte arrays arrive intact.
    for (const r of rows) {
      for (let i = 0; i < r.length; i++) if (Buffer.isBuffer(r[i])) r[i] = new Uint8Array(r[i]);
    }
    reply = { id: m.id, ok: true, rows };
  } catch (e) {
    reply = { id: m.id, ok: false, error: String((e && e.message) || e) };
  }
  process.send(reply);
});
`;

// The child gets the path of better-sqlite3 as resolved from this package, so it loads the
// same copy wherever it is installed; the script itself is inline, so there is no file to
// find next to the sources or the build.
function betterSqlitePath(): string {
  return resolveModule('better-sqlite3');
}

// Starting Node and loading better-sqlite3 takes well under a second; this only stops a
// process that never comes up from hanging the evaluation.
const STARTUP_LIMIT_MS = 60_000;

interface Pending {
  id: number;
  child: ChildProcess;
  resolve: (r: SqliteQueryResult) => void;
  timer: ReturnType<typeof setTimeout>;
}

interface Child {
  process: ChildProcess;
  /** Resolves when the child can take queries: undefined, or why it could not start. */
  ready: Promise<string | undefined>;
}

/**
 * Runs SQL queries on SQLite files, read-only, each under a time limit. Queries run one at a
 * time in a child Node process (better-sqlite3 inside it); a query that passes the limit gets
 * its process killed, and the next query starts a fresh one. The limit counts from when the
 * query is sent to a started process, so starting Node does not count. Integers come back
 * as `bigint`, so they stay exact. Call {@link SqliteQueryRunner.close} when done (or use
 * `using`).
 */
export class SqliteQueryRunner {
  readonly #timeoutMs: number;
  #child: Child | null = null;
  #pending: Pending | null = null;
  #queue: Promise<unknown> = Promise.resolve();
  #nextId = 0;

  /** @param timeoutMs the default time limit per query, in milliseconds (default 30 000). */
  constructor(timeoutMs = 30_000) {
    this.#timeoutMs = timeoutMs;
  }

  /**
   * Runs one statement on the database at `dbPath` and returns its rows as arrays of cells,
   * or the error (SQLite's message, or the time limit). Statements that return no rows are
   * refused, so nothing is ever written.
   */
  run(dbPath: string, sql: string, timeoutMs = this.#timeoutMs): Promise<SqliteQueryResult> {
    const next = this.#queue.then(() => this.#runWithDqs(dbPath, sql, timeoutMs));
    this.#queue = next.catch(() => undefined);
    return next;
  }

  // SQLite's double-quoted-string fallback, done by hand (see doubleQuotedToLiteral).
  async #runWithDqs(dbPath: string, sql: string, timeoutMs: number): Promise<SqliteQueryResult> {
    let text = sql;
    for (let attempt = 0; ; attempt++) {
      const result = await this.#runNow(dbPath, text, timeoutMs);
      if (result.ok || attempt >= 64) return result;
      const name = unresolvedDoubleQuoted(result.error);
      if (name === undefined) return result;
      const next = doubleQuotedToLiteral(text, name);
      if (next === text) return result;
      text = next;
    }
  }

  #spawn(): Child {
    const child = spawn(process.execPath, ['-e', CHILD, betterSqlitePath()], {
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      serialization: 'advanced',
    });
    let stderr = '';
    const why = () => (stderr.trim() ? `: ${stderr.trim()}` : '');
    child.stderr?.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-2000);
    });
    const ready = new Promise<string | undefined>((resolve) => {
      const startup = setTimeout(() => {
        resolve(`the SQLite process did not start within ${STARTUP_LIMIT_MS} ms${why()}`);
        child.kill('SIGKILL');
      }, STARTUP_LIMIT_MS);
      startup.unref();
      child.on('message', (m: { ready?: boolean }) => {
        if (m?.ready === true) {
          clearTimeout(startup);
          resolve(undefined);
        }
      });
      child.on('error', (e) => resolve(`the SQLite process failed: ${e.message}`));
      child.on('exit', (code, signal) =>
        resolve(`the SQLite process exited while starting (${signal ?? `code ${code}`})${why()}`),
      );
    });
    child.on('message', (m: { id: number; ok: boolean; rows?: SqliteCell[][]; error?: string }) => {
      const p = this.#pending;
      if (!p || p.id !== m.id || p.child !== child) return;
      this.#settle(
        m.ok
          ? { ok: true, rows: m.rows ?? [] }
          : { ok: false, error: m.error ?? 'unknown error', timedOut: false },
      );
    });
    child.on('error', (e) => {
      if (this.#pending?.child !== child) return;
      this.#settle({
        ok: false,
        error: `the SQLite process failed: ${e.message}`,
        timedOut: false,
      });
    });
    child.on('exit', (code, signal) => {
      if (this.#child?.process === child) this.#child = null;
      const p = this.#pending;
      if (p && p.child === child) {
        this.#settle({
          ok: false,
          error: `the SQLite process exited (${signal ?? `code ${code}`})${why()}`,
          timedOut: false,
        });
      }
    });
    return { process: child, ready };
  }

  #settle(result: SqliteQueryResult): void {
    const p = this.#pending;
    if (!p) return;
    this.#pending = null;
    clearTimeout(p.timer);
    p.resolve(result);
  }

  async #runNow(dbPath: string, sql: string, timeoutMs: number): Promise<SqliteQueryResult> {
    this.#child ??= this.#spawn();
    const { process: child, ready } = this.#child;
    const failed = await ready;
    if (failed !== undefined) {
      if (this.#child?.process === child) this.#child = null;
      return { ok: false, error: failed, timedOut: false };
    }
    const id = this.#nextId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        // Settle first, so the exit handler finds nothing pending and the timeout is reported.
        this.#settle({
          ok: false,
          error: `the query ran longer than the time limit of ${timeoutMs} ms`,
          timedOut: true,
        });
        if (this.#child?.process === child) this.#child = null;
        child.kill('SIGKILL');
      }, timeoutMs);
      this.#pending = { id, child, resolve, timer };
      child.send({ id, path: dbPath, sql });
    });
  }

  /** Stops the child process. The runner can still be used; it starts a new one. */
  close(): void {
    const child = this.#child?.process;
    this.#child = null;
    if (child) {
      if (child.connected) child.disconnect();
      child.kill('SIGKILL');
    }
  }

  /** Same as {@link SqliteQueryRunner.close}, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }
}
