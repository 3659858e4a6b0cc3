// Two servers of one farm (two engines on one PostgreSQL database) sample its history together:
// each interval gets one sample, recorded by one of them, however their calls interleave.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { openEngine } from '../src/index.js';
import type { Engine } from '../src/index.js';
import { databaseUrl, dropSchema, sleep } from './harness.js';

describe('the farm history with two replicas on PostgreSQL', () => {
  const schema = `t_farm_${process.pid}`;
  const engines: Engine[] = [];
  before(async () => {
    engines.push(await openEngine({ databaseUrl, schema, migrate: true }));
    engines.push(await openEngine({ databaseUrl, schema }));
  });
  after(async () => {
    for (const engine of engines) await engine.close();
    await dropSchema(schema);
  });

  it('records one sample per interval, by one replica, however often both ask', async () => {
    const intervalMs = 200;
    const recordedBy = [0, 0];
    const started = Date.now();
    // Both replicas ask ten times an interval for 2 s, all at once each round.
    while (Date.now() - started < 2000) {
      const answers = await Promise.all(
        engines.flatMap((engine, n) =>
          Array.from({ length: 5 }, async () => {
            const sample = await engine.recordSample(intervalMs, 3_600_000);
            if (sample) recordedBy[n] = (recordedBy[n] ?? 0) + 1;
            return sample;
          }),
        ),
      );
      // A round may straddle the end of an interval: then two calls record, each its own.
      const recorded = answers.filter((a) => a !== undefined).map((a) => a.at);
      assert.equal(
        new Set(recorded).size,
        recorded.length,
        `one call per interval: ${recorded.join(', ')}`,
      );
      await sleep(20);
    }
    const [first] = engines;
    assert.ok(first);
    const rows = await first.database.query<{ at: Date; n: number }>(
      'SELECT at, count(*)::int AS n FROM metrics_samples GROUP BY at ORDER BY at',
    );
    const total = (recordedBy[0] ?? 0) + (recordedBy[1] ?? 0);
    assert.equal(rows.length, total, 'each sample recorded was recorded by one call alone');
    assert.ok(rows.every((r) => r.n === 1));
    // 2 s of 200 ms intervals: about ten; a busy machine may skip one, never double one.
    assert.ok(rows.length >= 5 && rows.length <= 12, `${rows.length} samples`);
    const times = rows.map((r) => r.at.getTime());
    assert.ok(times.every((at) => at % intervalMs === 0));
    assert.equal(new Set(times).size, times.length);
  });
});
