// The embedded database in its own thread: the server's event loop keeps turning while a statement
// runs, errors keep PostgreSQL's fields, transactions commit or roll back as a whole, and a
// program that never closes its engine still exits.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PgliteThreadDatabase } from '../src/pglite-thread-database.js';

const openAndLeave = fileURLToPath(new URL('./fixtures/open-and-leave.js', import.meta.url));

describe('the embedded database in its own thread', { timeout: 120_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'drover-thread-'));
  let db: PgliteThreadDatabase;

  before(async () => {
    db = await PgliteThreadDatabase.open(join(dir, 'pg'), 'drover');
    await db.exec('CREATE SCHEMA drover; CREATE TABLE drover.t (x int PRIMARY KEY)');
  });
  after(async () => {
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps the event loop turning while a statement runs', async () => {
    // A statement of about a second of work for the database.
    const work = db.query(
      'SELECT count(*) FROM generate_series(1, 3000000) g WHERE md5(g::text) LIKE $1',
      ['%ab%'],
    );
    let last = performance.now();
    let longest = 0;
    const timer = setInterval(() => {
      const now = performance.now();
      longest = Math.max(longest, now - last);
      last = now;
    }, 5);
    const started = performance.now();
    await work;
    const took = performance.now() - started;
    clearInterval(timer);
    longest = Math.max(longest, performance.now() - last);
    assert.ok(took > 200, `the statement should take a while, took ${took.toFixed(0)} ms`);
    assert.ok(
      longest < took / 2,
      `timers stopped for ${longest.toFixed(0)} ms of a ${took.toFixed(0)} ms statement`,
    );
  });

  it('gives errors with their SQLSTATE and detail', async () => {
    await db.query('INSERT INTO t VALUES (1)');
    await assert.rejects(
      db.query('INSERT INTO t VALUES (1)'),
      (error: Error & { code?: string }) => {
        assert.equal(error.code, '23505');
        assert.match(error.message, /duplicate key/);
        return true;
      },
    );
    await assert.rejects(db.query('SELECT * FROM nowhere'), { code: '42P01' });
  });

  it('commits a transaction whole, or rolls it back whole when it throws', async () => {
    const seen = await db.transaction(async (tx) => {
      await tx.query('INSERT INTO t VALUES ($1), ($2)', [10, 11]);
      return tx.query<{ n: number }>('SELECT count(*)::int AS n FROM t WHERE x >= 10');
    });
    assert.deepEqual(seen, [{ n: 2 }]);
    await assert.rejects(
      db.transaction(async (tx) => {
        await tx.query('INSERT INTO t VALUES (20)');
        throw new Error('changed my mind');
      }),
      /changed my mind/,
    );
    // A failed statement inside also rolls back what came before it.
    await assert.rejects(
      db.transaction(async (tx) => {
        await tx.query('INSERT INTO t VALUES (21)');
        await tx.query('INSERT INTO t VALUES (10)');
      }),
      { code: '23505' },
    );
    const rows = await db.query<{ x: number }>('SELECT x FROM t WHERE x >= 10 ORDER BY x');
    assert.deepEqual(
      rows.map((r) => r.x),
      [10, 11],
    );
  });

  it('runs a statement sent during a transaction after it, not inside it', async () => {
    const order: string[] = [];
    let inside!: () => void;
    const entered = new Promise<void>((resolve) => (inside = resolve));
    const tx = db.transaction(async (t) => {
      await t.query('INSERT INTO t VALUES (30)');
      inside();
      await new Promise((resolve) => setTimeout(resolve, 100));
      order.push('transaction');
      throw new Error('roll back');
    });
    await entered;
    const outside = db
      .query<{ n: number }>('SELECT count(*)::int AS n FROM t WHERE x = 30')
      .then((rows) => {
        order.push('outside');
        return rows;
      });
    await assert.rejects(tx, /roll back/);
    assert.deepEqual(await outside, [{ n: 0 }]);
    assert.deepEqual(order, ['transaction', 'outside']);
  });

  it('delivers notifications until unlistened', async () => {
    const got: string[] = [];
    const stop = await db.listen('drover_test', (payload) => got.push(payload));
    await db.query(`SELECT pg_notify('drover_test', 'one')`);
    await stop();
    await db.query(`SELECT pg_notify('drover_test', 'two')`);
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.deepEqual(got, ['one']);
  });

  it('refuses requests once closed, with a clear error', async () => {
    const other = await PgliteThreadDatabase.open(join(dir, 'pg2'), 'drover');
    await other.close();
    await other.close();
    await assert.rejects(other.query('SELECT 1'), /closed/);
  });

  it('lets a program that never closes its engine exit', () => {
    const data = mkdtempSync(join(tmpdir(), 'drover-leave-'));
    try {
      const child = spawnSync(process.execPath, [openAndLeave, data], {
        encoding: 'utf8',
        timeout: 60_000,
      });
      assert.equal(child.signal, null, `killed after 60 s: ${child.stderr}`);
      assert.equal(child.status, 0, child.stderr);
      assert.match(child.stdout, /submitted [0-9a-f-]{36}/);
    } finally {
      rmSync(data, { recursive: true, force: true });
    }
  });
});
