// Loads the built package both ways (ES module and CommonJS) and uses the Node-only parts:
// one SQLite query through the child process, under a time limit, and WordNet 3.0 with its
// exception lists. Run after `npx tsup`: `node scripts/smoke-dist.mjs`.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const require = createRequire(import.meta.url);
const Database = require('better-sqlite3');

const dir = mkdtempSync(join(tmpdir(), 'eval-smoke-'));
const dbPath = join(dir, 'smoke.sqlite');
const db = new Database(dbPath);
db.exec("CREATE TABLE t (a INTEGER, b TEXT); INSERT INTO t VALUES (1, 'x'), (2, 'y');");
db.close();

async function check(label, mod) {
  const runner = new mod.SqliteQueryRunner(10_000);
  try {
    const r = await runner.run(dbPath, 'SELECT a, b FROM t ORDER BY a');
    assert.deepEqual(
      r,
      {
        ok: true,
        rows: [
          [1n, 'x'],
          [2n, 'y'],
        ],
      },
      `${label}: query result`,
    );
    const slow = await runner.run(
      dbPath,
      'WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c) SELECT count(*) FROM c',
      300,
    );
    assert.equal(slow.ok, false, `${label}: endless query must fail`);
    assert.equal(slow.timedOut, true, `${label}: endless query must time out`);
  } finally {
    runner.close();
  }
  // better-sqlite3 loaded in this process too (the schema reader).
  const schema = mod.readSqliteSpiderSchema(dbPath, 'smoke');
  assert.deepEqual([...schema.tables.keys()], ['t'], `${label}: schema from SQLite`);
  const wn = mod.loadWordNet();
  assert.deepEqual(wn.morphy('geese', 'noun'), ['goose'], `${label}: noun.exc`);
  assert.deepEqual(wn.morphy('went', 'verb'), ['go'], `${label}: verb.exc`);
  console.log(`${label}: ok (SQLite query, time limit, schema, WordNet with exceptions)`);
}

try {
  await check('import dist/node.js', await import('@statetune/eval/node'));
  await check('require dist/node.cjs', require('@statetune/eval/node'));
  assert.equal(typeof require('@statetune/eval').bleu, 'function', 'require dist/index.cjs');
  assert.equal(typeof (await import('@statetune/eval')).bleu, 'function', 'import dist/index.js');
  console.log('index: ok (import and require)');
} finally {
  rmSync(dir, { recursive: true, force: true });
}
