import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DroverError } from '@drover/protocol';
import { backend, databaseUrl, openTestEngine, uniqueType } from './harness.js';
import type { TestEngine } from './harness.js';
import { migrate, schemaVersion } from '../src/migrate.js';
import { PgDatabase } from '../src/pg-database.js';
import { PgliteDatabase } from '../src/pglite-database.js';
import type { Database } from '../src/database.js';

describe(`migrations (${backend})`, () => {
  let t: TestEngine;
  let db: Database;
  before(async () => {
    t = await openTestEngine();
    const { job } = await t.engine.submit({ group: 'mig', taskType: uniqueType() });
    assert.ok(job);
    await t.engine.close();
    db =
      backend === 'postgres'
        ? await PgDatabase.open(databaseUrl, t.schema ?? '')
        : await PgliteDatabase.open(`${t.dataDir ?? ''}/pg`, 'drover');
  });
  after(async () => {
    await db.close();
    await t.close().catch(() => undefined);
  });

  it('applies nothing the second time, and changes no data', async () => {
    const jobsBefore = await db.query('SELECT id, status, updated_at FROM jobs ORDER BY id');
    const report = await migrate(db);
    assert.deepEqual(report.applied, []);
    assert.equal(report.from, report.to);
    const again = await migrate(db);
    assert.deepEqual(again.applied, []);
    assert.deepEqual(
      await db.query('SELECT id, status, updated_at FROM jobs ORDER BY id'),
      jobsBefore,
    );
    const { current, required } = await schemaVersion(db);
    assert.equal(current, required);
  });

  it('refuses a database migrated by a newer Drover', async () => {
    await db.query(`INSERT INTO migrations (id, name) VALUES (9999, 'from_the_future')`);
    try {
      await assert.rejects(
        migrate(db),
        (error: unknown) =>
          error instanceof DroverError && error.code === 'DROVER_E_SCHEMA_TOO_NEW',
      );
    } finally {
      await db.query('DELETE FROM migrations WHERE id = 9999');
    }
  });
});
