import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { backend, openTestEngine, readEventsUntil, uniqueType } from './harness.js';
import type { TestEngine } from './harness.js';

describe(`the per-job worker blocklist (${backend})`, () => {
  let t: TestEngine;
  before(async () => {
    t = await openTestEngine();
  });
  after(async () => {
    await t.close();
  });

  async function worker(type: string, name = uniqueType('w')) {
    return (await t.engine.registerWorker({ name, host: 'h', taskTypes: [type], slots: 10 }))
      .worker;
  }

  it('offers a worker no more of a job after 3 failures of its tasks there, but others do', async () => {
    const type = uniqueType('bl');
    const { job } = await t.engine.submit({
      group: 'blocklist',
      taskType: type,
      maxAttempts: 10,
      backoff: { initialMs: 1, maxMs: 1 },
      items: Array.from({ length: 6 }, (_, i) => ({ i })),
    });
    const [bad, good] = [await worker(type), await worker(type)];
    for (let i = 0; i < 3; i++) {
      const [a] = await t.engine.claimBatch({
        groups: [{ taskTypes: [type], tags: [], slots: [bad.id] }],
      });
      assert.ok(a, `failure ${i + 1}: the bad worker still gets a task`);
      await t.engine.fail([{ ...a, error: { message: 'no GPU driver' } }]);
    }
    const events = await readEventsUntil(t.engine, `job/${job.id}`, (es) =>
      es.some((e) => e.kind === 'job.worker_blocked'),
    );
    const blocked = events.find((e) => e.kind === 'job.worker_blocked');
    assert.deepEqual(blocked?.data, { jobId: job.id, workerId: bad.id, failures: 3 });
    const list = await t.engine.jobBlocklist(job.id);
    assert.equal(list.length, 1);
    assert.equal(list[0]?.workerId, bad.id);
    assert.equal(list[0]?.blocked, true);
    assert.equal(list[0]?.failures, 3);
    // Backed-off tasks come due; the bad worker's slots come first in the claim, yet the tasks
    // go to the good worker in the same claim.
    await new Promise((r) => setTimeout(r, 50));
    const claimed = await t.engine.claimBatch({
      groups: [{ taskTypes: [type], tags: [], slots: [bad.id, bad.id, good.id, good.id] }],
    });
    assert.equal(claimed.length, 2);
    assert.ok(claimed.every((a) => a.task.workerId === good.id));
    // Only the good worker is offered: the bad one's slots alone get nothing.
    assert.deepEqual(
      await t.engine.claimBatch({ groups: [{ taskTypes: [type], tags: [], slots: [bad.id] }] }),
      [],
    );
    // Another job's tasks still go to it.
    await t.engine.submit({ group: 'blocklist', taskType: type });
    const other = await t.engine.claimBatch({
      groups: [{ taskTypes: [type], tags: [], slots: [bad.id] }],
    });
    assert.equal(other.length, 1);
    assert.notEqual(other[0]?.task.jobId, job.id);
    // Unblocked, it is offered the job's tasks again.
    assert.equal(await t.engine.unblockWorkers(job.id, bad.id), 1);
    assert.deepEqual(await t.engine.jobBlocklist(job.id), []);
    const again = await t.engine.claimBatch({
      groups: [{ taskTypes: [type], tags: [], slots: [bad.id] }],
    });
    assert.equal(again[0]?.task.jobId, job.id);
  });

  it('counts timeouts but not lost connections, and never blocks with blocklistAfter 0', async () => {
    const type = uniqueType('bl');
    const { job } = await t.engine.submit({
      group: 'blocklist',
      taskType: type,
      maxAttempts: 10,
      backoff: { initialMs: 1, maxMs: 1 },
      blocklistAfter: 2,
      timeoutMs: 1000,
    });
    const w = await worker(type);
    const claim = () =>
      t.engine.claimBatch({ groups: [{ taskTypes: [type], tags: [], slots: [w.id] }] });
    for (let i = 0; i < 3; i++) {
      const [a] = await claim();
      assert.ok(a, `lost connection ${i + 1}: still offered`);
      await t.engine.loseWorkerAttempts(w.id);
    }
    assert.deepEqual(await t.engine.jobBlocklist(job.id), [], 'lost connections are not failures');
    for (let i = 0; i < 2; i++) {
      let a;
      for (let tries = 0; !a && tries < 100; tries++) [a] = await claim();
      assert.ok(a);
      // The attempt runs past its deadline: the reaper times it out.
      await t.engine.database.query(
        `UPDATE attempts SET deadline_at = now() - interval '1 second' WHERE id = $1`,
        [a.attemptId],
      );
      await t.engine.reapExpired();
    }
    const [entry] = await t.engine.jobBlocklist(job.id);
    assert.equal(entry?.blocked, true, 'two timeouts block it with blocklistAfter 2');
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(await claim(), []);

    const { job: never } = await t.engine.submit({
      group: 'blocklist',
      taskType: type,
      maxAttempts: 10,
      backoff: { initialMs: 1, maxMs: 1 },
      blocklistAfter: 0,
    });
    for (let i = 0; i < 4; i++) {
      let a;
      for (let tries = 0; !a && tries < 100; tries++) [a] = await claim();
      assert.equal(a?.task.jobId, never.id);
      await t.engine.fail([{ ...a, error: { message: 'flaky' } }]);
    }
    const [counted] = await t.engine.jobBlocklist(never.id);
    assert.equal(counted?.failures, 4);
    assert.equal(counted?.blocked, false);
  });

  it('refuses an unknown job, changing nothing', async () => {
    const missing = '00000000-0000-4000-8000-000000000000';
    await assert.rejects(t.engine.jobBlocklist(missing), { code: 'DROVER_E_NOT_FOUND' });
    await assert.rejects(t.engine.unblockWorkers(missing), { code: 'DROVER_E_NOT_FOUND' });
    await assert.rejects(t.engine.unblockWorkers('nope'), { code: 'DROVER_E_INVALID_PARAMS' });
  });
});
