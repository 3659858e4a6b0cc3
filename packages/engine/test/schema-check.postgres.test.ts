import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DroverError } from '@drover/protocol';
import { openEngine } from '../src/index.js';
import { databaseUrl, dropSchema } from './harness.js';

describe('schema check on open (postgres)', () => {
  it('asks for `drover migrate` instead of migrating a shared server on its own', async () => {
    const schema = `t_unmigrated_${process.pid}`;
    try {
      await assert.rejects(
        openEngine({ databaseUrl, schema }),
        (error: unknown) =>
          error instanceof DroverError &&
          error.code === 'DROVER_E_SCHEMA_TOO_OLD' &&
          /drover migrate/.test(error.message),
      );
      const engine = await openEngine({ databaseUrl, schema, migrate: true });
      assert.ok(engine.migration?.applied.includes('0001_init'));
      await engine.close();
      const reopened = await openEngine({ databaseUrl, schema });
      await reopened.close();
    } finally {
      await dropSchema(schema);
    }
  });

  it('says clearly when the server does not answer', async () => {
    await assert.rejects(
      openEngine({ databaseUrl: 'postgres://root@127.0.0.1:1/nothing', schema: 'x' }),
      (error: unknown) =>
        error instanceof DroverError &&
        error.code === 'DROVER_E_DATABASE_UNAVAILABLE' &&
        /127\.0\.0\.1:1/.test(error.message),
    );
  });
});
