import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { openEngine } from '../src/index.js';
import type { Engine } from '../src/index.js';
import { databaseUrl, dropSchema, uniqueType } from './harness.js';

describe('schedules ticked by two engines on one PostgreSQL database', () => {
  const schema = `t_sched_${process.pid}`;
  const engines: Engine[] = [];
  before(async () => {
    engines.push(await openEngine({ databaseUrl, schema, migrate: true }));
    // Another server replica's engine: its own pool, its own connections.
    engines.push(await openEngine({ databaseUrl, schema }));
  });
  after(async () => {
    for (const engine of engines) await engine.close();
    await dropSchema(schema);
  });

  it('submits each due tick once when both tick at the same moment', async () => {
    const [a, b] = engines;
    assert.ok(a && b);
    const count = 40;
    const type = uniqueType();
    for (let i = 0; i < count; i++) {
      await a.schedules.add({
        name: `same-${i}`,
        cron: '0 0 1 1 *',
        overlap: 'queue',
        job: { group: 'same', taskType: type, params: { i } },
      });
    }
    await a.database.query(
      `UPDATE schedules SET next_run_at = date_trunc('milliseconds', now()) - interval '1 second'`,
    );
    // Several passes on each engine at once, over separate connections: claims race.
    const results = await Promise.all(
      [a, b, a, b, a, b].map((engine) => engine.schedules.tick({ limit: 7 })),
    );
    let submitted = results.reduce((sum, r) => sum + r.submitted.length, 0);
    let handled = results.reduce((sum, r) => sum + r.handled, 0);
    for (;;) {
      const more = await Promise.all([a.schedules.tick(), b.schedules.tick()]);
      const n = more.reduce((sum, r) => sum + r.handled, 0);
      if (n === 0) break;
      handled += n;
      submitted += more.reduce((sum, r) => sum + r.submitted.length, 0);
    }
    // Each tick was handled by one engine only: none was claimed by both.
    assert.equal(handled, count);
    const jobs = await a.listJobs({ group: 'same', limit: 1000 });
    assert.equal(jobs.length, count);
    assert.equal(submitted, count);
    assert.equal(new Set(jobs.map((j) => (j.params as { i: number }).i)).size, count);
  });

  it('submits exactly one job per second of an every-second schedule ticked by both', async () => {
    const [a, b] = engines;
    assert.ok(a && b);
    const s = await a.schedules.add({
      name: 'every-second',
      cron: '* * * * * *',
      overlap: 'queue',
      job: { group: 'every', taskType: uniqueType(), params: {} },
    });
    const until = Date.now() + 4000;
    let handled = 0;
    const ticker = async (engine: Engine) => {
      while (Date.now() < until) {
        const pass = await engine.schedules.tick();
        handled += pass.handled;
        // Each asks as often as it can: the claim, not the pace, keeps them apart.
        await new Promise((resolve) => setImmediate(resolve));
      }
    };
    await Promise.all([ticker(a), ticker(b), ticker(a), ticker(b)]);
    await a.schedules.pause(s.name);
    const jobs = await a.listJobs({ group: 'every', limit: 1000 });
    const ticks = jobs.map((j) => j.idempotencyKey?.split(':').slice(2).join(':') ?? '').sort();
    assert.ok(ticks.length >= 3, `${ticks.length} ticks`);
    assert.equal(new Set(ticks).size, ticks.length, 'no tick submitted twice');
    assert.equal(handled, ticks.length, 'no tick handled twice');
    // One per second, none skipped.
    for (let i = 1; i < ticks.length; i++) {
      assert.equal(
        new Date(ticks[i] ?? '').getTime() - new Date(ticks[i - 1] ?? '').getTime(),
        1000,
      );
    }
  });
});
