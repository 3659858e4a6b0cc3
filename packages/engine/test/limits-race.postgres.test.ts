import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { openEngine } from '../src/index.js';
import type { Engine } from '../src/index.js';
import { databaseUrl, dropSchema, sleep, uniqueType } from './harness.js';

describe('limits under concurrent claimers on a PostgreSQL server', () => {
  const schema = `t_limits_${process.pid}`;
  const engines: Engine[] = [];
  before(async () => {
    engines.push(await openEngine({ databaseUrl, schema, migrate: true }));
    // A second engine, as another server replica would open it: connections of its own.
    engines.push(await openEngine({ databaseUrl, schema }));
  });
  after(async () => {
    for (const engine of engines) await engine.close();
    await dropSchema(schema);
  });

  it('never has more than a group or task type limit leased or running, two claimers at once', async () => {
    const [first] = engines;
    assert.ok(first);
    const type = uniqueType('race');
    const other = uniqueType('race');
    const group = 'limited';
    await first.setGroupLimits({ group, maxRunning: 3 });
    await first.setTaskTypeLimits({ taskType: other, maxRunning: 4 });
    const total = 200;
    await first.submit({
      group,
      taskType: type,
      items: Array.from({ length: total }, (_, i) => ({ i })),
    });
    for (const g of ['free-a', 'free-b'])
      await first.submit({
        group: g,
        taskType: other,
        items: Array.from({ length: total / 2 }, (_, i) => ({ i })),
      });

    // A connection of its own samples what is held at every moment it can see, each sample one
    // snapshot of the attempts table.
    const monitor = new pg.Client({ connectionString: databaseUrl });
    await monitor.connect();
    let done = false;
    const peaks = { group: 0, type: 0, samples: 0 };
    const sampling = (async () => {
      while (!done) {
        const { rows } = await monitor.query<{ g: number; t: number }>(
          `SELECT count(*) FILTER (WHERE t.group_name = $1)::int AS g,
                  count(*) FILTER (WHERE t.task_type = $2)::int AS t
           FROM ${schema}.attempts a JOIN ${schema}.tasks t ON t.id = a.task_id
           WHERE a.status = 'active'`,
          [group, other],
        );
        peaks.group = Math.max(peaks.group, rows[0]?.g ?? 0);
        peaks.type = Math.max(peaks.type, rows[0]?.t ?? 0);
        peaks.samples++;
      }
    })();

    const ran = await Promise.all(
      engines.map(async (engine, n) => {
        const { worker } = await engine.registerWorker({
          name: `claimer-${n}`,
          host: 'h',
          taskTypes: [type, other],
          slots: 10,
        });
        let count = 0;
        let idle = 0;
        while (count < total && idle < 200) {
          const held = await engine.claim({
            workerId: worker.id,
            taskTypes: [type, other],
            tags: [],
            limit: 10,
          });
          if (held.length === 0) {
            idle++;
            await sleep(2);
            continue;
          }
          idle = 0;
          count += held.length;
          await sleep(Math.random() * 5);
          const outcomes = await engine.complete(held.map((a) => ({ ...a, result: {} })));
          assert.ok(outcomes.every((o) => o.accepted));
        }
        return count;
      }),
    );
    done = true;
    await sampling;
    await monitor.end();
    assert.equal(ran[0]! + ran[1]!, total * 2, 'every task ran');
    assert.ok(ran[0]! > 0 && ran[1]! > 0, `both claimers took tasks: ${ran.join(', ')}`);
    assert.ok(peaks.samples > 20, `sampled ${peaks.samples} times`);
    assert.ok(peaks.group <= 3, `at most 3 of the group at once, saw ${peaks.group}`);
    assert.ok(peaks.type <= 4, `at most 4 of the type at once, saw ${peaks.type}`);
    assert.equal(peaks.group, 3, 'the group reached its limit (the test would see a breach)');
  });
});
