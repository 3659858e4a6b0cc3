import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DroverError } from '@drover/protocol';
import { backend, openTestEngine, uniqueType } from './harness.js';
import type { TestEngine } from './harness.js';

describe(`changing a job's waiting tasks: attempts, timeout, priority (${backend})`, () => {
  let t: TestEngine;
  before(async () => {
    t = await openTestEngine();
  });
  after(async () => {
    await t.close();
  });

  const rejectsWith = (promise: Promise<unknown>, code: string) =>
    assert.rejects(promise, (e: unknown) => e instanceof DroverError && e.code === code);

  it('changes queued and blocked tasks, while a held task keeps what it started with', async () => {
    const render = uniqueType('render');
    const sheet = uniqueType('sheet');
    const { job } = await t.engine.submit({
      group: 'update',
      taskType: render,
      items: [{ n: 1 }, { n: 2 }],
      maxAttempts: 3,
      timeoutMs: 60_000,
      backoff: { initialMs: 0, maxMs: 0 },
      then: [{ taskType: sheet }],
    });
    const { worker } = await t.engine.registerWorker({
      name: uniqueType('w'),
      host: 'h',
      taskTypes: [render, sheet],
      slots: 10,
    });
    const claim = (limit = 10) =>
      t.engine.claim({ workerId: worker.id, taskTypes: [render, sheet], tags: [], limit });
    const [held] = await claim(1);
    assert.ok(held);
    const heldDeadline = Date.parse(held.deadlineAt) - Date.now();

    const { job: updated, updated: count } = await t.engine.updateJob({
      id: job.id,
      maxAttempts: 1,
      timeoutMs: 1000,
      priority: 9,
    });
    assert.equal(count, 2, 'the queued task and the blocked one');
    assert.equal(updated.priority, 9);
    const tasks = await t.engine.listTasks(job.id);
    assert.deepEqual(
      tasks.map((x) => [x.status, x.maxAttempts, x.timeoutMs, x.priority]),
      [
        ['leased', 3, 60_000, 0],
        ['queued', 1, 1000, 9],
        ['blocked', 1, 1000, 9],
      ],
    );
    // The held attempt keeps its deadline; the next ones get the new timeout.
    assert.ok(heldDeadline > 50_000);
    const [next] = await claim(1);
    assert.ok(next);
    assert.ok(Date.parse(next.deadlineAt) - Date.now() <= 1000);
    // One attempt in all: a failure is final now.
    await t.engine.fail([{ ...next, error: { message: 'broken' } }]);
    assert.equal((await t.engine.getTask(next.task.id)).status, 'failed');
    // The held task failing retries as it was submitted to.
    await t.engine.fail([{ ...held, error: { message: 'broken' } }]);
    assert.equal((await t.engine.getTask(held.task.id)).status, 'queued');
  });

  it('gives a task that has had its attempts the one it waits for, and a retry that many again', async () => {
    const type = uniqueType();
    const { job } = await t.engine.submit({
      group: 'update',
      taskType: type,
      maxAttempts: 5,
      backoff: { initialMs: 0, maxMs: 0 },
    });
    const { worker } = await t.engine.registerWorker({
      name: uniqueType('w'),
      host: 'h',
      taskTypes: [type],
      slots: 1,
    });
    const claim = () =>
      t.engine.claim({ workerId: worker.id, taskTypes: [type], tags: [], limit: 1 });
    for (let i = 0; i < 2; i++) {
      const [held] = await claim();
      assert.ok(held);
      await t.engine.fail([{ ...held, error: { message: `broken ${i}` } }]);
    }
    await t.engine.updateJob({ id: job.id, maxAttempts: 2 });
    const [task] = await t.engine.listTasks(job.id);
    assert.deepEqual([task?.status, task?.attempt, task?.maxAttempts], ['queued', 2, 3]);
    const [third] = await claim();
    assert.ok(third);
    await t.engine.fail([{ ...third, error: { message: 'broken 3' } }]);
    assert.equal((await t.engine.getJob(job.id)).status, 'failed');
    await t.engine.retryJob(job.id);
    const [retried] = await t.engine.listTasks(job.id);
    assert.equal(retried?.maxAttempts, 3 + 2, 'a retry gives the changed number again');
  });

  it('refuses an empty or out-of-range change or a missing job, changing nothing', async () => {
    const { job } = await t.engine.submit({ group: 'update', taskType: uniqueType() });
    await rejectsWith(t.engine.updateJob({ id: job.id }), 'DROVER_E_INVALID_PARAMS');
    await rejectsWith(
      t.engine.updateJob({ id: job.id, maxAttempts: 0, priority: 5 }),
      'DROVER_E_INVALID_PARAMS',
    );
    await rejectsWith(
      t.engine.updateJob({ id: job.id, timeoutMs: 10, priority: 5 }),
      'DROVER_E_INVALID_PARAMS',
    );
    await rejectsWith(
      t.engine.updateJob({ id: job.id, priority: 1001 }),
      'DROVER_E_INVALID_PARAMS',
    );
    await rejectsWith(
      t.engine.updateJob({ id: '00000000-0000-4000-8000-000000000000', priority: 1 }),
      'DROVER_E_NOT_FOUND',
    );
    const [task] = await t.engine.listTasks(job.id);
    assert.deepEqual(
      [
        task?.maxAttempts,
        task?.timeoutMs,
        task?.priority,
        (await t.engine.getJob(job.id)).priority,
      ],
      [3, 3_600_000, 0, 0],
    );
  });
});
