// Two replicas on one PostgreSQL database, each with worker processes: a group limited to 3
// never has more than 3 tasks leased or running across the farm.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { openTestEngine, sleep, tokenFor, uniqueType } from '@drover/engine/testing';
import type { TestEngine } from '@drover/engine/testing';
import { startServer } from '../src/index.js';
import type { DroverServer } from '../src/index.js';
import { spawnReplica, spawnWorker } from './processes.js';
import type { TestProcess } from './processes.js';

describe('a group limit across two replicas (postgres)', () => {
  let t: TestEngine;
  let server: DroverServer;
  let workerToken: string;
  const processes: TestProcess[] = [];

  before(async () => {
    t = await openTestEngine();
    workerToken = await tokenFor(t.engine, { name: 'limit workers', role: 'worker' });
    server = await startServer({ engine: t.engine, port: 0, leaseMs: 30_000, pollMs: 200 });
  });
  after(async () => {
    for (const p of processes) p.child.kill('SIGKILL');
    await server.close();
    await t.close();
  });

  it('never has more than the limit leased or running at once, counted from the attempts', async () => {
    assert.ok(t.schema);
    const replica = await spawnReplica(t.schema, 30_000);
    processes.push(replica);
    for (const url of [server.url, replica.said, server.url, replica.said])
      processes.push(await spawnWorker(url, workerToken, uniqueType('w'), 3));
    const group = 'capped';
    await t.engine.setGroupLimits({ group, maxRunning: 3 });
    const { job } = await t.engine.submit({
      group,
      taskType: 'sleepy',
      params: { steps: 2, stepMs: 40 },
      items: Array.from({ length: 40 }, (_, i) => ({ i })),
    });
    let peak = 0;
    let samples = 0;
    const deadline = Date.now() + 120_000;
    for (;;) {
      const [row] = await t.engine.database.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM attempts a JOIN tasks t ON t.id = a.task_id
         WHERE a.status = 'active' AND t.group_name = $1`,
        [group],
      );
      peak = Math.max(peak, row?.n ?? 0);
      samples++;
      if ((await t.engine.getJob(job.id)).status === 'succeeded') break;
      assert.ok(Date.now() < deadline, 'the job ends');
      await sleep(5);
    }
    // Afterwards, from the attempts' times: no moment had more than 3 (an attempt's start is its
    // claim's transaction time, its end its report's, so a start taken just before an end may
    // touch it: allowed for by ordering ends first at equal times).
    const attempts = await t.engine.database.query<{ s: string; f: string }>(
      `SELECT a.started_at AS s, a.finished_at AS f FROM attempts a JOIN tasks t ON t.id = a.task_id
       WHERE t.group_name = $1`,
      [group],
    );
    const workersUsed = await t.engine.database.query<{ n: number }>(
      `SELECT count(DISTINCT a.worker_id)::int AS n FROM attempts a JOIN tasks t ON t.id = a.task_id
       WHERE t.group_name = $1`,
      [group],
    );
    console.log(
      `group limited to 3 over 2 replicas and 4 workers of 3 slots: peak ${peak} in ${samples} samples, ${attempts.length} attempts on ${workersUsed[0]?.n} workers`,
    );
    assert.ok(peak <= 3, `at most 3 at once, saw ${peak}`);
    assert.equal(peak, 3, 'the limit was reached: the test would see a breach');
    assert.equal(attempts.length, 40, 'each task ran once');
    assert.ok((workersUsed[0]?.n ?? 0) > 1, 'tasks ran on several workers');
  });
});
