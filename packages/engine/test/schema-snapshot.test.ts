// Shipped migrations are append-only, and the schema they build is the same on both backends.
// Both facts are kept in snapshots beside this file; a new migration adds its line and its changes
// with `DROVER_UPDATE_SNAPSHOTS=1 node --test packages/engine/dist/test/schema-snapshot.test.js`
// (then review the diff). An edit of a shipped migration fails here, naming the file.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { backend, openTestEngine } from './harness.js';
import type { TestEngine } from './harness.js';

const migrationsDir = new URL('../../migrations/', import.meta.url);
const fixtures = new URL('../../test/fixtures/', import.meta.url);
const update = process.env.DROVER_UPDATE_SNAPSHOTS === '1';

function readSnapshot(name: string): string {
  try {
    return readFileSync(new URL(name, fixtures), 'utf8');
  } catch {
    return '';
  }
}

describe(`the schema snapshot (${backend})`, () => {
  let t: TestEngine;
  before(async () => {
    t = await openTestEngine();
  });
  after(async () => {
    await t.close();
  });

  it('has every shipped migration unchanged, and each new one recorded', () => {
    const actual = readdirSync(migrationsDir)
      .filter((file) => file.endsWith('.sql'))
      .sort()
      .map((file) => {
        const hash = createHash('sha256').update(readFileSync(new URL(file, migrationsDir)));
        return `${hash.digest('hex')}  ${file}`;
      });
    if (update) writeFileSync(new URL('migrations.sha256', fixtures), `${actual.join('\n')}\n`);
    const recorded = readSnapshot('migrations.sha256').trim().split('\n');
    for (const line of recorded) {
      const file = line.slice(66);
      const now = actual.find((a) => a.endsWith(`  ${file}`));
      assert.ok(now, `migration ${file} was removed or renamed: add a new one instead`);
      assert.equal(
        now,
        line,
        `migration ${file} was edited after it shipped: add a new one instead`,
      );
    }
    assert.equal(
      actual.length,
      recorded.length,
      'a new migration is recorded in test/fixtures/migrations.sha256 (see this file’s header)',
    );
  });

  it('builds the recorded schema: tables, columns, indexes, functions and triggers', async () => {
    const db = t.engine.database;
    const rows = await db.query<{ line: string }>(
      `SELECT 'column ' || table_name || '.' || column_name || ' ' || data_type ||
              CASE WHEN is_nullable = 'NO' THEN ' not null' ELSE '' END ||
              coalesce(' default ' || column_default, '') AS line
       FROM information_schema.columns WHERE table_schema = current_schema()
       UNION ALL
       SELECT 'index ' || regexp_replace(indexdef, ' ON \\S+\\.', ' ON ')
       FROM pg_indexes WHERE schemaname = current_schema()
       UNION ALL
       SELECT 'function ' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ') ' ||
              md5(p.prosrc) || coalesce(' ' || array_to_string(p.proconfig, ' '), '')
       FROM pg_proc p WHERE p.pronamespace = current_schema()::regnamespace
       UNION ALL
       SELECT 'trigger ' || c.relname || '.' || tg.tgname || ' ' || p.proname
       FROM pg_trigger tg JOIN pg_class c ON c.oid = tg.tgrelid JOIN pg_proc p ON p.oid = tg.tgfoid
       WHERE c.relnamespace = current_schema()::regnamespace AND NOT tg.tgisinternal
       ORDER BY 1`,
    );
    // The schema's own name differs between test databases; the snapshot does not depend on it.
    const schema = (await db.query<{ s: string }>('SELECT current_schema() AS s'))[0]?.s ?? '';
    const actual = `${rows.map((r) => r.line.replaceAll(`${schema}.`, '')).join('\n')}\n`;
    if (update && backend === 'pglite') writeFileSync(new URL('schema.snapshot', fixtures), actual);
    assert.equal(actual, readSnapshot('schema.snapshot'));
  });
});
