import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DroverError } from '@drover/protocol';
import { backend, openTestEngine, uniqueType } from './harness.js';
import type { TestEngine } from './harness.js';

describe(`a user's retry of a job, and the group listing (${backend})`, () => {
  let t: TestEngine;
  before(async () => {
    t = await openTestEngine();
  });
  after(async () => {
    await t.close();
  });

  /** A job of task type `render` (then `sheet`, if staged) and a worker for both. */
  async function setup(submission: (types: { sheet: string }) => Record<string, unknown>) {
    const render = uniqueType('render');
    const sheet = uniqueType('sheet');
    const { job } = await t.engine.submit({
      group: 'user-retry',
      taskType: render,
      backoff: { initialMs: 0, maxMs: 0 },
      // One worker fails its tasks again and again: it is never blocked for the job.
      blocklistAfter: 0,
      ...submission({ sheet }),
    });
    const { worker } = await t.engine.registerWorker({
      name: uniqueType('w'),
      host: 'h',
      taskTypes: [render, sheet],
      slots: 100,
    });
    const claim = (types = [render, sheet]) =>
      t.engine.claim({ workerId: worker.id, taskTypes: types, tags: [], limit: 100 });
    return { job, render, sheet, claim };
  }

  const rejectsWith = (promise: Promise<unknown>, code: string) =>
    assert.rejects(promise, (e: unknown) => e instanceof DroverError && e.code === code);

  it('puts failed tasks back with their attempts renewed and numbered on, keeping the successes', async () => {
    const { job, claim } = await setup(() => ({ items: [{ n: 1 }, { n: 2 }], maxAttempts: 2 }));
    for (let round = 1; round <= 2; round++) {
      const held = await claim();
      const good = held.find((a) => a.task.index === 0);
      const bad = held.find((a) => a.task.index === 1);
      assert.ok(bad, `round ${round}: the failing task is claimable`);
      if (good) await t.engine.complete([{ ...good, result: 'kept' }]);
      await t.engine.fail([{ ...bad, error: { message: `broken ${round}` } }]);
    }
    assert.equal((await t.engine.getJob(job.id)).status, 'failed');
    assert.deepEqual(await claim(), [], 'a task failed for good is not claimable');

    const { job: retried, retried: ids } = await t.engine.retryJob(job.id);
    assert.equal(ids.length, 1);
    assert.equal(retried.status, 'running', 'one task has succeeded, one is queued again');
    assert.equal(retried.finishedAt, null);
    assert.deepEqual(
      [retried.counts.queued, retried.counts.succeeded, retried.counts.failed],
      [1, 1, 0],
    );
    assert.equal(retried.progress, 0.5, 'the retried task starts again from nothing');
    const task = await t.engine.getTask(ids[0] ?? '');
    assert.equal(task.status, 'queued');
    assert.equal(task.error, null);
    assert.equal(task.maxAttempts, 4, 'two attempts more, as it was submitted with');

    const [third, ...others] = await claim();
    assert.ok(third);
    assert.equal(others.length, 0, 'the succeeded task does not run again');
    assert.equal(third.task.attempt, 3);
    await t.engine.fail([{ ...third, error: { message: 'still broken' } }]);
    const [fourth] = await claim();
    assert.ok(fourth, 'the renewed budget allows a second retry of its own');
    assert.equal(fourth.task.attempt, 4);
    await t.engine.complete([{ ...fourth, result: 'fixed' }]);

    const done = await t.engine.getJob(job.id);
    assert.equal(done.status, 'succeeded');
    assert.deepEqual(
      (await t.engine.listTasks(job.id)).map((x) => x.result),
      ['kept', 'fixed'],
    );
    assert.equal((await t.engine.listAttempts(ids[0] ?? '')).length, 4);
  });

  it('brings back the later stages a failure cancelled, blocked until the stage before succeeds', async () => {
    const { job, render, sheet, claim } = await setup((types) => ({
      frames: { start: 1, end: 2 },
      maxAttempts: 1,
      then: [{ taskType: types.sheet }],
    }));
    const frames = await claim();
    assert.equal(frames.length, 2);
    const [f1, f2] = frames;
    assert.ok(f1 && f2);
    await t.engine.complete([{ ...f1, result: 1 }]);
    await t.engine.fail([{ ...f2, error: { message: 'bad frame' } }]);
    const failed = await t.engine.getJob(job.id);
    assert.equal(failed.status, 'failed');
    assert.equal(failed.counts.cancelled, 1, 'the sheet can never run');

    const { job: retried, retried: ids } = await t.engine.retryJob(job.id);
    assert.equal(ids.length, 2);
    assert.deepEqual([retried.counts.queued, retried.counts.blocked], [1, 1]);
    assert.deepEqual(await claim([sheet]), [], 'the sheet waits for the frame');
    const [again] = await claim([render]);
    assert.ok(again);
    assert.equal(again.task.index, f2.task.index);
    await t.engine.complete([{ ...again, result: 2 }]);
    const [sheetTask] = await claim([sheet]);
    assert.ok(sheetTask, 'released once every frame has succeeded');
    await t.engine.complete([{ ...sheetTask, result: 'sheet.png' }]);
    assert.equal((await t.engine.getJob(job.id)).status, 'succeeded');
  });

  it('un-cancels a cancelled job: its cancelled tasks run', async () => {
    const { job, claim } = await setup(() => ({ items: [{ n: 1 }, { n: 2 }, { n: 3 }] }));
    await t.engine.cancelJob(job.id, 'by mistake');
    const cancelled = await t.engine.getJob(job.id);
    assert.equal(cancelled.status, 'cancelled');
    const { job: retried } = await t.engine.retryJob(job.id);
    assert.equal(retried.cancelReason, null);
    assert.equal(retried.status, 'queued');
    const held = await claim();
    assert.equal(held.length, 3, 'none is cancelled again on its way into the queue');
    await t.engine.complete(held.map((a) => ({ ...a, result: null })));
    assert.equal((await t.engine.getJob(job.id)).status, 'succeeded');
  });

  it('refuses a job still stopping its cancelled tasks, and changes nothing', async () => {
    const { job, claim } = await setup(() => ({ items: [{ n: 1 }, { n: 2 }] }));
    const held = await claim();
    assert.equal(held.length, 2);
    await t.engine.cancelJob(job.id, 'stop it');
    const before = await t.engine.getJob(job.id);
    assert.equal(before.status, 'running', 'its tasks are still held by their worker');
    await rejectsWith(t.engine.retryJob(job.id), 'DROVER_E_CONFLICT');
    const after = await t.engine.getJob(job.id);
    assert.deepEqual(after, before);
    // Once the worker has stopped them, the retry goes through.
    await t.engine.fail(held.map((a) => ({ ...a, error: { message: 'stopped' } })));
    assert.equal((await t.engine.getJob(job.id)).status, 'cancelled');
    const { retried } = await t.engine.retryJob(job.id);
    assert.equal(retried.length, 2);
  });

  it("retries at the job's priority now, and a cancel cut short is no reason to refuse", async () => {
    const { job, claim } = await setup(() => ({ items: [{ n: 1 }, { n: 2 }], maxAttempts: 1 }));
    const [broken, running] = await claim();
    assert.ok(broken && running);
    await t.engine.fail([{ ...broken, error: { message: 'broken' } }]);
    await t.engine.setJobPriority(job.id, 900);
    // A cancel whose second step never ran (its server died): a reason, the job not finished,
    // and no task marked to stop.
    await t.engine.database.query('UPDATE jobs SET cancel_reason = $2 WHERE id = $1', [
      job.id,
      'cut short',
    ]);
    const { retried } = await t.engine.retryJob(job.id);
    assert.deepEqual(retried, [broken.task.id]);
    const task = await t.engine.getTask(broken.task.id);
    assert.deepEqual([task.status, task.priority], ['queued', 900]);
    assert.equal((await t.engine.getJob(job.id)).cancelReason, null);
  });

  it('leaves a succeeded job as it is, and names a missing or malformed job', async () => {
    const { job, claim } = await setup(() => ({}));
    const held = await claim();
    await t.engine.complete(held.map((a) => ({ ...a, result: 'ok' })));
    const done = await t.engine.getJob(job.id);
    const { job: same, retried } = await t.engine.retryJob(job.id);
    assert.deepEqual(retried, []);
    assert.deepEqual(same, done);
    await rejectsWith(
      t.engine.retryJob('00000000-0000-4000-8000-000000000000'),
      'DROVER_E_NOT_FOUND',
    );
    await rejectsWith(t.engine.retryJob('not-a-job'), 'DROVER_E_INVALID_PARAMS');
  });

  it('lists every group with its jobs counted by status', async () => {
    const group = uniqueType('g').replaceAll('.', '-');
    const type = uniqueType();
    for (let i = 0; i < 3; i++) await t.engine.submit({ group, taskType: type });
    const { job } = await t.engine.submit({ group, taskType: type });
    await t.engine.cancelJob(job.id, 'not needed');
    const groups = await t.engine.listGroups();
    const mine = groups.find((g) => g.name === group);
    assert.ok(mine);
    assert.equal(mine.jobs, 4);
    assert.deepEqual(mine.counts, { queued: 3, running: 0, succeeded: 0, failed: 0, cancelled: 1 });
    assert.ok(Date.parse(mine.lastSubmittedAt ?? '') <= Date.now() + 1000);
    assert.deepEqual(
      groups.map((g) => g.name),
      groups.map((g) => g.name).sort(),
      'in name order',
    );
  });
});
