import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { evaluateSpiderMatch, SpiderError } from '../src/spider/index.js';
import {
  evaluateSpider,
  readSqliteSpiderSchema,
  SqliteQueryRunner,
  spiderDatabasePath,
} from '../src/spider/node.js';
import { dataDir, dataLines, hasSpiderData, skipReason, spiderTables } from './spider-helpers.js';

const databaseDir = join(dataDir, 'spider', 'database');
const DB = 'department_store';

function goldQueries() {
  return dataLines('spider', 'database', DB, `train_gold_${DB}.sql`).map((l) => {
    const [sql, dbId] = l.trim().split('\t');
    return { sql, dbId };
  });
}

describe.skipIf(!hasSpiderData)(
  `Spider execution accuracy on department_store${hasSpiderData ? '' : ` (skipped: ${skipReason})`}`,
  () => {
    it('scores the 88 gold queries against themselves 100% (exec and exact match)', async () => {
      const gold = goldQueries();
      expect(gold.length).toBe(88);
      const res = await evaluateSpider({
        gold,
        predicted: gold.map((g) => g.sql),
        tables: spiderTables(),
        databaseDir,
        etype: 'all',
        timeoutMs: 10_000,
      });
      expect(res.examples.filter((e) => !e.exec).map((e) => [e.index, e.execError])).toEqual([]);
      expect(res.scores.all.exec).toBe(1);
      expect(res.scores.all.exact).toBe(1);
      expect(res.scores.all.count).toBe(88);
      // The names the data package's Spider task declares.
      expect(res.metrics).toEqual({ execution_accuracy: 1, exact_match: 1 });
      const levels = res.scores.easy.count + res.scores.medium.count;
      expect(levels + res.scores.hard.count + res.scores.extra.count).toBe(88);
      for (const e of res.examples) expect(e.parseError).toBeUndefined();
    });

    it('marks queries that return other rows wrong, and follows res_map on column order', async () => {
      const cases: Array<[gold: string, pred: string, exec: boolean]> = [
        // other rows
        [
          'SELECT product_id FROM product_suppliers ORDER BY total_amount_purchased DESC LIMIT 3',
          'SELECT product_id FROM product_suppliers ORDER BY total_amount_purchased ASC LIMIT 3',
          false,
        ],
        [
          'SELECT count(DISTINCT product_type_code) FROM products',
          'SELECT count(product_type_code) FROM products',
          false,
        ],
        [
          "SELECT avg(product_price) FROM products WHERE product_type_code  =  'Clothes'",
          "SELECT avg(product_price) FROM products WHERE product_type_code  =  'Hardware'",
          false,
        ],
        [
          'SELECT product_id ,  product_name FROM products WHERE product_price  <  600 OR product_price  >  900',
          'SELECT product_id ,  product_name FROM products WHERE product_price  <  600 AND product_price  >  900',
          false,
        ],
        [
          'SELECT customer_phone FROM customers UNION SELECT supplier_phone FROM suppliers',
          'SELECT customer_phone FROM customers',
          false,
        ],
        // the same rows with the columns swapped: res_map matches columns by their SELECT item
        [
          'SELECT product_name ,  product_id FROM products WHERE product_price BETWEEN 600 AND 700',
          'SELECT product_id, product_name FROM products WHERE product_price BETWEEN 600 AND 700',
          true,
        ],
        // the same rows in another order: eval_exec_match compares columns as ordered lists
        [
          'SELECT product_name FROM products ORDER BY product_price',
          'SELECT product_name FROM products ORDER BY product_price DESC',
          false,
        ],
        // the same result written differently
        [
          'SELECT count(*) FROM products WHERE product_price > 500',
          'SELECT count(*) FROM products WHERE product_price > 500.0',
          true,
        ],
        // the same value under another SELECT item: res_map keys differ, so wrong
        ['SELECT count(*) FROM products', 'SELECT count(product_id) FROM products', false],
        // not parsed by the official parser (value first), so scored as the empty query
        [
          'SELECT count(*) FROM products WHERE product_price > 500',
          'SELECT count(*) FROM products WHERE 500 < product_price',
          false,
        ],
      ];
      const res = await evaluateSpider({
        gold: cases.map(([sql]) => ({ sql, dbId: DB })),
        predicted: cases.map(([, p]) => p),
        tables: spiderTables(),
        databaseDir,
        etype: 'exec',
      });
      expect(res.examples.map((e) => e.exec)).toEqual(cases.map((c) => c[2]));
      for (const e of res.examples) {
        expect(e.exact).toBeUndefined();
        if (e.index !== 9) expect(e.execError).toBeUndefined();
      }
      expect(res.examples[9].execError).toMatch(/official parser rejects it/);
      expect(res.scores.all.exec).toBeCloseTo(2 / 10, 12);
      expect(res.metrics).toEqual({ execution_accuracy: res.scores.all.exec });
    });

    it('stops a query that runs too long and counts it wrong', async () => {
      // An 8-way cross join (15^8 rows) the official parser accepts, and a recursive CTE it
      // rejects: both run until the limit.
      const cross = `SELECT count(*) FROM products AS T1 JOIN products AS T2 JOIN products AS T3 JOIN products AS T4 JOIN products AS T5 JOIN products AS T6 JOIN products AS T7 JOIN products AS T8`;
      const cte =
        'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c';
      const gold = [
        { sql: 'SELECT count(*) FROM products', dbId: DB },
        { sql: 'SELECT count(*) FROM products', dbId: DB },
        { sql: 'SELECT count(*) FROM products', dbId: DB },
      ];
      const t0 = performance.now();
      const res = await evaluateSpider({
        gold,
        predicted: [cross, cte, 'SELECT count(*) FROM products'],
        tables: spiderTables(),
        databaseDir,
        etype: 'exec',
        timeoutMs: 400,
      });
      const elapsed = performance.now() - t0;
      expect(res.examples.map((e) => e.exec)).toEqual([false, false, true]);
      expect(res.examples[0].execError).toMatch(/longer than the time limit of 400 ms/);
      expect(res.examples[1].execError).toMatch(/longer than the time limit of 400 ms/);
      expect(res.examples[1].parseError).toBeDefined();
      // Two time-outs plus process restarts, far below the seconds the queries would take.
      expect(elapsed).toBeLessThan(6000);
    });

    it('records the SQLite error of a prediction that fails', async () => {
      const gold = [{ sql: 'SELECT product_name FROM products ORDER BY product_price', dbId: DB }];
      const res = await evaluateSpider({
        gold: [...gold, ...gold, ...gold],
        predicted: [
          // accepted by the official parser (it ignores the trailing word), rejected by SQLite
          'SELECT product_name FROM products ORDER BY product_price DESCC',
          'SELECT product_name FROM products WHERE product_price > ORDER BY product_price',
          'SELECT product_nam FROM products',
        ],
        tables: spiderTables(),
        databaseDir,
        etype: 'all',
      });
      expect(res.examples.map((e) => e.exec)).toEqual([false, false, false]);
      expect(res.examples[0].execError).toMatch(/syntax error/);
      expect(res.examples[0].parseError).toBeUndefined();
      expect(res.examples[1].execError).toMatch(/syntax error/);
      expect(res.examples[1].parseError).toBeDefined();
      expect(res.examples[2].execError).toMatch(/no such column: product_nam/);
      // process_sql stops at the unknown word, so the first is still an exact match
      expect(res.examples.map((e) => e.exact)).toEqual([true, false, false]);
    });

    it('refuses statements that write, so the database stays as it is', async () => {
      using runner = new SqliteQueryRunner(5000);
      const path = spiderDatabasePath(databaseDir, DB);
      const del = await runner.run(path, 'DELETE FROM products');
      expect(del.ok).toBe(false);
      const count = await runner.run(path, 'SELECT count(*) FROM products');
      expect(count).toEqual({ ok: true, rows: [[15n]] });
      const cells = await runner.run(path, "SELECT x'0102', 1.5, NULL, 'a', 9007199254740993");
      expect(cells.ok && cells.rows[0]).toEqual([
        new Uint8Array([1, 2]),
        1.5,
        null,
        'a',
        9007199254740993n,
      ]);
    });

    it('throws a clear error for a missing database', async () => {
      const gold = [{ sql: 'SELECT count(*) FROM singer', dbId: 'concert_singer' }];
      const run = evaluateSpider({
        gold,
        predicted: ['SELECT count(*) FROM singer'],
        tables: spiderTables(),
        databaseDir,
        etype: 'exec',
      });
      await expect(run).rejects.toThrow(SpiderError);
      await expect(run).rejects.toThrow(
        `database "concert_singer" not found at ${join(databaseDir, 'concert_singer', 'concert_singer.sqlite')}`,
      );
      // exact match alone needs no database
      const match = await evaluateSpider({
        gold,
        predicted: ['SELECT count(*) FROM singer'],
        tables: spiderTables(),
        databaseDir,
        etype: 'match',
      });
      expect(match.scores.all.exact).toBe(1);
      await expect(
        evaluateSpider({ gold, predicted: ['x'], tables: spiderTables(), etype: 'all' }),
      ).rejects.toThrow(/needs "databaseDir"/);
    });

    it('throws when gold and predictions differ in number', async () => {
      const gold = goldQueries().slice(0, 3);
      const predicted = gold.slice(0, 2).map((g) => g.sql);
      await expect(
        evaluateSpider({ gold, predicted, tables: spiderTables(), databaseDir }),
      ).rejects.toThrow('3 gold examples but 2 predictions');
      expect(() => evaluateSpiderMatch({ gold, predicted, tables: spiderTables() })).toThrow(
        '3 gold examples but 2 predictions',
      );
    });

    it('reads the schema from the SQLite file like get_schema, with the same verdicts', async () => {
      const fromDb = readSqliteSpiderSchema(spiderDatabasePath(databaseDir, DB), DB);
      const tables = spiderTables().find((t) => t.db_id === DB)!;
      expect([...fromDb.tables.keys()].sort()).toEqual(
        tables.table_names_original.map((t) => t.toLowerCase()).sort(),
      );
      const gold = goldQueries();
      const predicted = gold.map((g, i) => (i % 2 ? g.sql : 'SELECT count(*) FROM products'));
      const a = await evaluateSpider({
        gold,
        predicted,
        tables: spiderTables(),
        databaseDir,
        etype: 'match',
        schemaSource: 'database',
      });
      const b = evaluateSpiderMatch({ gold, predicted, tables: spiderTables() });
      expect(a.examples).toEqual(b.examples);
    });
  },
);

describe('SqliteQueryRunner', () => {
  it('does not count starting its process against the time limit', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sqlite-runner-'));
    const path = join(dir, 'tiny.sqlite');
    const db = new Database(path);
    db.exec('CREATE TABLE t (a INTEGER); INSERT INTO t VALUES (7);');
    db.close();
    // Make the child start slowly: it busy-waits 600 ms before running its script.
    const slow = join(dir, 'slow-start.cjs');
    writeFileSync(slow, 'const end = Date.now() + 600; while (Date.now() < end);\n');
    const saved = process.env.NODE_OPTIONS;
    process.env.NODE_OPTIONS = `${saved ?? ''} --require ${JSON.stringify(slow)}`;
    try {
      using runner = new SqliteQueryRunner(300);
      expect(await runner.run(path, 'SELECT a FROM t')).toEqual({ ok: true, rows: [[7n]] });
    } finally {
      if (saved === undefined) delete process.env.NODE_OPTIONS;
      else process.env.NODE_OPTIONS = saved;
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
