// The per-job worker blocklist with real worker processes: a job whose tasks fail on one worker
// only blocks it after 3 failures and finishes on the other.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  backend,
  openTestEngine,
  readEventsUntil,
  sleep,
  tokenFor,
  uniqueType,
} from '@drover/engine/testing';
import type { TestEngine } from '@drover/engine/testing';
import { startServer } from '../src/index.js';
import type { DroverServer } from '../src/index.js';
import { spawnWorker } from './processes.js';
import type { TestProcess } from './processes.js';

describe(`the per-job worker blocklist with real workers (${backend})`, () => {
  let t: TestEngine;
  let server: DroverServer;
  let workerToken: string;
  const processes: TestProcess[] = [];

  before(async () => {
    t = await openTestEngine();
    workerToken = await tokenFor(t.engine, { name: 'blocklist workers', role: 'worker' });
    server = await startServer({ engine: t.engine, port: 0, leaseMs: 30_000, pollMs: 200 });
  });
  after(async () => {
    for (const p of processes) p.child.kill('SIGKILL');
    await server.close();
    await t.close();
  });

  it('blocks the worker that failed 3 of a job’s tasks; the others finish it; unblock lifts it', async () => {
    const badName = uniqueType('bad');
    const bad = await spawnWorker(server.url, workerToken, badName, 2);
    processes.push(bad);
    const good = await spawnWorker(server.url, workerToken, uniqueType('good'), 1);
    processes.push(good);
    const { job } = await t.engine.submit({
      group: 'blocklist',
      taskType: 'picky',
      params: { failOn: badName },
      maxAttempts: 10,
      backoff: { initialMs: 10, maxMs: 10 },
      items: Array.from({ length: 8 }, (_, i) => ({ i })),
    });
    const events = await readEventsUntil(
      t.engine,
      `job/${job.id}`,
      (es) => es.some((e) => e.kind === 'job.worker_blocked'),
      { timeoutMs: 30_000 },
    );
    // Its two slots may report two failures in one write: blocked at the third or fourth.
    const blocked = events.find((e) => e.kind === 'job.worker_blocked');
    assert.equal(blocked?.kind, 'job.worker_blocked');
    assert.equal(blocked.data.workerId, bad.said);
    assert.ok(blocked.data.failures >= 3 && blocked.data.failures <= 4);
    const deadline = Date.now() + 30_000;
    while ((await t.engine.getJob(job.id)).status !== 'succeeded') {
      assert.ok(Date.now() < deadline, 'the job ends');
      await sleep(50);
    }
    const blocklist = await t.engine.jobBlocklist(job.id);
    assert.deepEqual(
      blocklist.map((b) => [b.workerId, b.blocked]),
      [[bad.said, true]],
    );
    // Offered none after it was blocked: at most the tasks it held then failed too.
    assert.ok((blocklist[0]?.failures ?? 0) <= blocked.data.failures + 2);
    for (const task of await t.engine.listTasks(job.id))
      assert.equal(task.workerId, good.said, 'every task succeeded on the good worker');
    assert.equal(await t.engine.unblockWorkers(job.id), 1);
    assert.deepEqual(await t.engine.jobBlocklist(job.id), []);
  });
});
