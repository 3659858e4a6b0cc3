// A batch of reports finds its attempts by primary key. The partial indexes of active attempts
// keep an entry for every attempt active since the last vacuum; a plan that reads them costs as
// much as the attempts ended since then, however small the batch.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Statements } from '../src/statements.js';
import { backend, openTestEngine, uniqueType } from './harness.js';
import type { TestEngine } from './harness.js';
import { planNodes } from './plans.js';

class Rollback extends Error {}

describe(`reports after many ended attempts (${backend})`, { timeout: 120_000 }, () => {
  let t: TestEngine;
  const sql = new Statements();
  before(async () => {
    t = await openTestEngine();
  });
  after(async () => {
    await t.close();
  });

  it('find their attempts by primary key, not by the indexes of active attempts', async () => {
    const type = uniqueType('plan');
    await t.engine.submit({
      group: 'g',
      taskType: type,
      items: Array.from({ length: 3_050 }, (_, i) => ({ i })),
    });
    const { worker } = await t.engine.registerWorker({
      name: uniqueType('w'),
      host: 'h',
      taskTypes: [type],
      tags: [],
      slots: 50,
    });
    const claim = () =>
      t.engine.claim({ workerId: worker.id, taskTypes: [type], tags: [], limit: 50 });
    // 3,000 attempts end: every one leaves dead entries in the partial indexes until a vacuum.
    for (let i = 0; i < 60; i++) {
      const claimed = await claim();
      await t.engine.complete(
        claimed.map((a) => ({ attemptId: a.attemptId, token: a.token, result: null })),
      );
    }
    await t.engine.database.exec('ANALYZE');
    const held = await claim();
    assert.equal(held.length, 50);
    const reports = JSON.stringify(
      held.map((a) => ({
        attempt_id: a.attemptId,
        token: a.token,
        result: null,
        progress: 0.5,
        message: null,
        error: null,
        retry: true,
        lines: [],
      })),
    );
    for (const name of ['complete-attempts', 'report-progress', 'renew-leases']) {
      const params =
        name === 'renew-leases'
          ? [held.map((a) => a.attemptId), held.map((a) => a.token), 30_000]
          : [reports];
      const plan = await t.engine.database
        .transaction(async (tx) => {
          const rows = await tx.query<{ 'QUERY PLAN': unknown }>(
            `EXPLAIN (ANALYZE, FORMAT JSON) ${sql.get(name)}`,
            params,
          );
          throw new Rollback(JSON.stringify(rows[0]?.['QUERY PLAN']));
        })
        .catch((error: unknown) => {
          if (error instanceof Rollback) return error.message;
          throw error;
        });
      const scans = planNodes(JSON.parse(plan)).filter((n) => n['Relation Name'] === 'attempts');
      assert.ok(scans.length > 0, `${name}: reads attempts`);
      for (const scan of scans) {
        const index = typeof scan['Index Name'] === 'string' ? scan['Index Name'] : '';
        assert.ok(
          !index.startsWith('attempts_active'),
          `${name}: reads ${index}; plan: ${plan.slice(0, 1500)}`,
        );
      }
    }
  });
});
