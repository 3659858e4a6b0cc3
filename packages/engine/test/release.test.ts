// An orderly shutdown gives its attempts back: the tasks run again at once, and the attempts given
// back do not count against the tasks' attempts; a task must still fail after as many real tries
// as it was submitted with.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Assignment } from '@drover/protocol';
import { backend, openTestEngine, sleep, uniqueType } from './harness.js';
import type { TestEngine } from './harness.js';

describe(`attempts given back in an orderly shutdown (${backend})`, () => {
  let t: TestEngine;
  before(async () => {
    t = await openTestEngine();
  });
  after(async () => {
    await t.close();
  });

  async function setup(submission: Record<string, unknown>) {
    const type = uniqueType();
    const { job } = await t.engine.submit({ group: 'release', taskType: type, ...submission });
    const { worker } = await t.engine.registerWorker({
      name: uniqueType('w'),
      host: 'h',
      taskTypes: [type],
      slots: 4,
    });
    const claim = async (): Promise<Assignment> => {
      const [a] = await t.engine.claim({
        workerId: worker.id,
        taskTypes: [type],
        tags: [],
        limit: 1,
        leaseMs: 60_000,
      });
      assert.ok(a, 'a task to claim');
      return a;
    };
    return { job, claim };
  }

  it('queues the task again at once, without charging the attempt', async () => {
    const { claim } = await setup({ maxAttempts: 2, backoff: { initialMs: 50, maxMs: 50 } });
    const first = await claim();
    const [outcome] = await t.engine.release([{ ...first, reason: 'shutting down' }]);
    assert.deepEqual(outcome, { attemptId: first.attemptId, accepted: true });
    const task = await t.engine.getTask(first.task.id);
    assert.equal(task.status, 'queued');
    assert.equal(task.maxAttempts, 3, 'one attempt more than it had: the release is not charged');
    assert.ok(Date.parse(task.runAt) <= Date.now(), 'no back-off: the task did not fail');

    // Two real failures still end it, as submitted with maxAttempts 2.
    const second = await claim();
    assert.equal(second.task.attempt, 2, 'attempts keep their own numbers');
    await t.engine.fail([{ ...second, error: { message: 'boom' } }]);
    assert.equal((await t.engine.getTask(first.task.id)).status, 'queued');
    await sleep(100);
    const third = await claim();
    await t.engine.fail([{ ...third, error: { message: 'boom again' } }]);
    assert.equal((await t.engine.getTask(first.task.id)).status, 'failed');
    const attempts = await t.engine.listAttempts(first.task.id);
    assert.deepEqual(
      attempts.map((a) => [a.number, a.status]),
      [
        [1, 'released'],
        [2, 'failed'],
        [3, 'failed'],
      ],
    );
    assert.equal(attempts[0]?.error?.code, 'DROVER_E_WORKER_RELEASED');
    assert.equal(attempts[0]?.error?.message, 'shutting down');
  });

  it('refuses a stale or repeated release, and changes nothing', async () => {
    const { claim } = await setup({});
    const a = await claim();
    await t.engine.complete([{ ...a, result: 1 }]);
    const [outcome] = await t.engine.release([{ ...a, reason: 'too late' }]);
    assert.equal(outcome?.accepted, false);
    const task = await t.engine.getTask(a.task.id);
    assert.equal(task.status, 'succeeded');
    assert.equal(task.maxAttempts, 3);
  });

  it('cancels, rather than queues, a task whose cancel was requested', async () => {
    const { job, claim } = await setup({});
    const a = await claim();
    await t.engine.cancelJob(job.id, 'enough');
    await t.engine.release([{ ...a, reason: 'shutting down' }]);
    const task = await t.engine.getTask(a.task.id);
    assert.equal(task.status, 'cancelled');
    assert.equal((await t.engine.getJob(job.id)).status, 'cancelled');
  });

  it("keeps a task's submitted attempts for a user's retry", async () => {
    const { job, claim } = await setup({ maxAttempts: 1 });
    const a = await claim();
    await t.engine.release([{ ...a, reason: 'shutting down' }]);
    const b = await claim();
    await t.engine.fail([{ ...b, error: { message: 'boom' }, retry: false }]);
    await t.engine.retryJob(job.id);
    const task = await t.engine.getTask(a.task.id);
    assert.equal(task.status, 'queued');
    assert.equal(task.maxAttempts, 3, 'two tries so far, and the one it was submitted with');
  });
});
