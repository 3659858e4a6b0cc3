import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Assignment, AttemptRecord } from '@drover/protocol';
import { backend, openTestEngine, uniqueType } from './harness.js';
import type { TestEngine } from './harness.js';

describe(`claim (${backend})`, () => {
  let t: TestEngine;
  before(async () => {
    t = await openTestEngine();
  });
  after(async () => {
    await t.close();
  });

  async function worker(taskTypes: string[], tags: string[] = [], name = uniqueType('worker')) {
    return (await t.engine.registerWorker({ name, host: 'test-host', taskTypes, tags, slots: 8 }))
      .worker;
  }

  it('takes tasks by priority, then run-at, then submission order, each with a lease', async () => {
    const type = uniqueType();
    const past = new Date(Date.now() - 60_000).toISOString();
    const low = await t.engine.submit({
      group: 'g',
      taskType: type,
      priority: -1,
      params: { p: 'low' },
    });
    const first = await t.engine.submit({ group: 'g', taskType: type, params: { p: 'first' } });
    const second = await t.engine.submit({ group: 'g', taskType: type, params: { p: 'second' } });
    const early = await t.engine.submit({
      group: 'g',
      taskType: type,
      runAt: past,
      params: { p: 'early' },
    });
    const high = await t.engine.submit({
      group: 'g',
      taskType: type,
      priority: 5,
      params: { p: 'high' },
    });
    const w = await worker([type]);
    const claimed = await t.engine.claim({
      workerId: w.id,
      taskTypes: [type],
      tags: [],
      limit: 10,
      leaseMs: 60_000,
    });
    assert.deepEqual(
      claimed.map((a) => a.task.jobId),
      [high.job.id, early.job.id, first.job.id, second.job.id, low.job.id],
    );
    for (const a of claimed) {
      Assignment.parse(a);
      assert.equal(a.task.status, 'leased');
      assert.equal(a.task.attempt, 1);
      assert.equal(a.task.workerId, w.id);
      const lease = Date.parse(a.leaseExpiresAt) - Date.now();
      assert.ok(lease > 50_000 && lease <= 60_000, `lease of ${lease} ms`);
    }
    const attempts = await t.engine.listAttempts(claimed[0]?.task.id ?? '');
    assert.equal(attempts.length, 1);
    AttemptRecord.parse(attempts[0]);
    assert.equal(attempts[0]?.status, 'active');
    assert.equal(attempts[0]?.workerId, w.id);
    const job = await t.engine.getJob(high.job.id);
    assert.equal(job.status, 'running');
    assert.equal(job.counts.leased, 1);
    assert.ok(job.startedAt);
    assert.deepEqual(
      await t.engine.claim({ workerId: w.id, taskTypes: [type], tags: [], limit: 10 }),
      [],
    );
  });

  it('takes at most the limit, and each task once', async () => {
    const type = uniqueType();
    await t.engine.submit({
      group: 'g',
      taskType: type,
      items: Array.from({ length: 25 }, (_, i) => ({ i })),
    });
    const w = await worker([type]);
    const seen = new Set<string>();
    for (const expected of [10, 10, 5, 0]) {
      const batch = await t.engine.claim({
        workerId: w.id,
        taskTypes: [type],
        tags: [],
        limit: 10,
      });
      assert.equal(batch.length, expected);
      for (const a of batch) {
        assert.ok(!seen.has(a.task.id), `task ${a.task.id} claimed twice`);
        seen.add(a.task.id);
      }
    }
  });

  it('gives a worker only its task types and tasks whose tags it all has', async () => {
    const mine = uniqueType();
    const other = uniqueType();
    await t.engine.submit({ group: 'g', taskType: other });
    const gpu = await t.engine.submit({ group: 'g', taskType: mine, tags: ['gpu'] });
    const gpuSite = await t.engine.submit({
      group: 'g',
      taskType: mine,
      tags: ['gpu', 'site:madison'],
    });
    const plain = await t.engine.submit({ group: 'g', taskType: mine });
    const cpuWorker = await worker([mine]);
    const cpu = await t.engine.claim({
      workerId: cpuWorker.id,
      taskTypes: [mine],
      tags: [],
      limit: 10,
    });
    assert.deepEqual(
      cpu.map((a) => a.task.jobId),
      [plain.job.id],
    );
    const gpuWorker = await worker([mine], ['gpu', 'linux']);
    const onGpu = await t.engine.claim({
      workerId: gpuWorker.id,
      taskTypes: [mine],
      tags: ['gpu', 'linux'],
      limit: 10,
    });
    assert.deepEqual(
      onGpu.map((a) => a.task.jobId),
      [gpu.job.id],
    );
    const siteWorker = await worker([mine], ['gpu', 'site:madison']);
    const atSite = await t.engine.claim({
      workerId: siteWorker.id,
      taskTypes: [mine],
      tags: ['gpu', 'site:madison'],
      limit: 10,
    });
    assert.deepEqual(
      atSite.map((a) => a.task.jobId),
      [gpuSite.job.id],
    );
  });

  it('leaves tasks whose run-at is in the future', async () => {
    const type = uniqueType();
    await t.engine.submit({
      group: 'g',
      taskType: type,
      runAt: new Date(Date.now() + 3_600_000).toISOString(),
    });
    const w = await worker([type]);
    assert.deepEqual(
      await t.engine.claim({ workerId: w.id, taskTypes: [type], tags: [], limit: 10 }),
      [],
    );
  });

  it('gives nothing to a disabled, draining, unresponsive or offline worker', async () => {
    const type = uniqueType();
    await t.engine.submit({ group: 'g', taskType: type });
    const name = uniqueType('worker');
    const hello = () =>
      t.engine.registerWorker({ name, host: 'test-host', taskTypes: [type], slots: 8 });
    const { worker: w, session } = await hello();
    const none = async (why: string) =>
      assert.deepEqual(
        await t.engine.claim({ workerId: w.id, taskTypes: [type], tags: [], limit: 10 }),
        [],
        why,
      );
    await t.engine.holdWorker(w.id, 'disabled');
    await none('disabled');
    await t.engine.holdWorker(w.id, 'draining');
    await none('draining');
    await t.engine.holdWorker(w.id, null);
    await t.engine.setWorkerState(w.id, 'unresponsive', session);
    await none('unresponsive');
    await t.engine.workerGone(w.id, session);
    await none('offline');
    assert.equal((await hello()).worker.state, 'online');
    assert.equal(
      (await t.engine.claim({ workerId: w.id, taskTypes: [type], tags: [], limit: 10 })).length,
      1,
    );
  });
});
