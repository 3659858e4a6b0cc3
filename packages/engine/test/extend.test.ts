import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DroverError, MAX_TASKS_PER_JOB } from '@drover/protocol';
import { backend, openTestEngine, readEventsUntil, uniqueType } from './harness.js';
import type { TestEngine } from './harness.js';

describe(`extending a job with more items or frames (${backend})`, () => {
  let t: TestEngine;
  before(async () => {
    t = await openTestEngine();
  });
  after(async () => {
    await t.close();
  });

  async function workerFor(...types: string[]) {
    const { worker } = await t.engine.registerWorker({
      name: uniqueType('w'),
      host: 'h',
      taskTypes: types,
      slots: 100,
    });
    return (limit = 100) =>
      t.engine.claim({ workerId: worker.id, taskTypes: types, tags: [], limit });
  }

  const rejectsWith = (promise: Promise<unknown>, code: string, message?: RegExp) =>
    assert.rejects(
      promise,
      (e: unknown) =>
        e instanceof DroverError && e.code === code && (!message || message.test(e.message)),
    );

  it('queues the new frames with the next indexes, and a finished job runs again', async () => {
    const type = uniqueType();
    const { job } = await t.engine.submit({
      group: 'extend',
      taskType: type,
      params: { scene: 's1' },
      frames: { start: 1, end: 4, step: 1 },
      maxAttempts: 2,
      timeoutMs: 5000,
      tags: [],
    });
    const claim = await workerFor(type);
    const held = await claim();
    await t.engine.complete(held.map((h) => ({ ...h, result: h.task.params.frame ?? null })));
    const finished = await t.engine.getJob(job.id);
    assert.equal(finished.status, 'succeeded');
    assert.equal(finished.progress, 1);

    const head = await t.engine.headCursor(`jobs/extend`);
    const { job: extended, added } = await t.engine.extendJob({
      id: job.id,
      frames: { start: 5, end: 8 },
    });
    assert.equal(added, 4);
    assert.equal(extended.status, 'running', 'a finished job runs again');
    assert.equal(extended.finishedAt, null);
    assert.equal(extended.taskCount, 8);
    assert.equal(extended.counts.queued, 4);
    assert.equal(extended.counts.succeeded, 4);
    assert.equal(extended.progress, 0.5);
    await readEventsUntil(
      t.engine,
      'jobs/extend',
      (es) =>
        es.some((e) => e.kind === 'job.updated' && e.data.id === job.id && e.data.taskCount === 8),
      { after: head },
    );

    const tasks = await t.engine.listTasks(job.id);
    assert.deepEqual(
      tasks.map((x) => [x.index, x.params.frame, x.status]),
      [
        [0, 1, 'succeeded'],
        [1, 2, 'succeeded'],
        [2, 3, 'succeeded'],
        [3, 4, 'succeeded'],
        [4, 5, 'queued'],
        [5, 6, 'queued'],
        [6, 7, 'queued'],
        [7, 8, 'queued'],
      ],
    );
    const added0 = tasks[4];
    assert.deepEqual(added0?.params, { scene: 's1', frame: 5 });
    assert.equal(added0?.maxAttempts, 2, 'the settings of the job’s tasks');
    assert.equal(added0?.timeoutMs, 5000);

    const again = await claim();
    assert.equal(again.length, 4);
    await t.engine.complete(again.map((h) => ({ ...h, result: null })));
    const done = await t.engine.getJob(job.id);
    assert.equal(done.status, 'succeeded');
    assert.equal(done.progress, 1);
  });

  it('adds items to a running job and to its first stage, which the next stage waits for', async () => {
    const render = uniqueType('render');
    const sheet = uniqueType('sheet');
    const { job } = await t.engine.submit({
      group: 'extend',
      taskType: render,
      items: [{ n: 1 }, { n: 2 }],
      then: [{ taskType: sheet }],
    });
    const claim = await workerFor(render, sheet);
    const [first] = await claim(1);
    assert.ok(first);
    await t.engine.complete([{ ...first, result: null }]);
    const { job: extended } = await t.engine.extendJob({
      id: job.id,
      items: [{ n: 3 }],
      maxAttempts: 7,
    });
    assert.equal(extended.taskCount, 4);
    const tasks = await t.engine.listTasks(job.id);
    assert.deepEqual(
      tasks.map((x) => [x.index, x.stage, x.status]),
      [
        [0, 0, 'succeeded'],
        [1, 0, 'queued'],
        [2, 1, 'blocked'],
        [3, 0, 'queued'],
      ],
    );
    assert.equal(tasks[3]?.maxAttempts, 7, 'the extension’s own attempts');
    assert.deepEqual(tasks[3]?.params, { n: 3 });
    const held = await claim();
    assert.deepEqual(
      held.map((h) => h.task.index).sort(),
      [1, 3],
      'the sheet waits for the new item too',
    );
    await t.engine.complete(held.map((h) => ({ ...h, result: null })));
    const last = await claim();
    assert.deepEqual(
      last.map((h) => h.task.index),
      [2],
      'then the next stage runs',
    );
    // Its next stage has begun: new items would come too late for it.
    await rejectsWith(t.engine.extendJob({ id: job.id, items: [{ n: 4 }] }), 'DROVER_E_CONFLICT');
    assert.equal((await t.engine.getJob(job.id)).taskCount, 4);
  });

  it('keeps the new tasks of a paused job waiting, and takes a paused group on a finished job', async () => {
    const type = uniqueType();
    const group = uniqueType('g');
    const { job } = await t.engine.submit({ group, taskType: type, items: [{ n: 1 }] });
    const claim = await workerFor(type);
    const held = await claim();
    await t.engine.complete(held.map((h) => ({ ...h, result: null })));
    await t.engine.pauseGroup(group);
    const { job: extended } = await t.engine.extendJob({ id: job.id, items: [{ n: 2 }] });
    assert.equal(extended.paused, true, 'its group is paused');
    assert.deepEqual(await claim(), []);
    await t.engine.resumeGroup(group);
    assert.equal((await claim()).length, 1);
  });

  it('refuses an extension that does not fit the job, changing nothing', async () => {
    const type = uniqueType();
    const { job: frames } = await t.engine.submit({
      group: 'extend',
      taskType: type,
      frames: { start: 10, end: 20, step: 5 },
    });
    const { job: items } = await t.engine.submit({
      group: 'extend',
      taskType: type,
      items: [{ n: 1 }],
    });
    const { job: single } = await t.engine.submit({ group: 'extend', taskType: type });
    const { job: cancelled } = await t.engine.submit({
      group: 'extend',
      taskType: type,
      items: [{ n: 1 }],
    });
    await t.engine.cancelJob(cancelled.id, 'not wanted');

    await rejectsWith(
      t.engine.extendJob({ id: frames.id, items: [{ n: 2 }] }),
      'DROVER_E_INVALID_PARAMS',
      /submitted with frames/,
    );
    await rejectsWith(
      t.engine.extendJob({ id: items.id, frames: { start: 1, end: 2 } }),
      'DROVER_E_INVALID_PARAMS',
      /submitted with items/,
    );
    await rejectsWith(
      t.engine.extendJob({ id: frames.id, frames: { start: 20, end: 30 } }),
      'DROVER_E_INVALID_PARAMS',
      /frames 10 to 20/,
    );
    await rejectsWith(
      t.engine.extendJob({ id: single.id, items: [{ n: 2 }] }),
      'DROVER_E_INVALID_PARAMS',
      /single task/,
    );
    await rejectsWith(
      t.engine.extendJob({ id: cancelled.id, items: [{ n: 2 }] }),
      'DROVER_E_CONFLICT',
      /cancelled/,
    );
    await rejectsWith(
      t.engine.extendJob({ id: items.id, items: [{ n: 2 }], frames: { start: 1, end: 2 } }),
      'DROVER_E_INVALID_PARAMS',
    );
    await rejectsWith(t.engine.extendJob({ id: items.id }), 'DROVER_E_INVALID_PARAMS');
    await rejectsWith(
      t.engine.extendJob({ id: items.id, items: [{ text: 'a\u0000b' }] }),
      'DROVER_E_INVALID_PARAMS',
    );
    await rejectsWith(
      t.engine.extendJob({ id: frames.id, frames: { start: 21, end: 21 + MAX_TASKS_PER_JOB } }),
      'DROVER_E_INVALID_PARAMS',
      /more than/,
    );
    await rejectsWith(
      t.engine.extendJob({ id: items.id, items: [{ big: 'x'.repeat(1024 * 1024) }] }),
      'DROVER_E_INVALID_PARAMS',
    );
    await rejectsWith(
      t.engine.extendJob({ id: '00000000-0000-4000-8000-000000000000', items: [{ n: 2 }] }),
      'DROVER_E_NOT_FOUND',
    );
    for (const [job, count] of [
      [frames, 3],
      [items, 1],
      [single, 1],
      [cancelled, 1],
    ] as const) {
      const now = await t.engine.getJob(job.id);
      assert.equal(now.taskCount, count, `${job.id} kept its tasks`);
      assert.equal((await t.engine.listTasks(job.id)).length, count);
    }
    // Frames before the first are more frames too.
    const { job: earlier, added } = await t.engine.extendJob({
      id: frames.id,
      frames: { start: 0, end: 9, step: 3 },
    });
    assert.equal(added, 4);
    assert.deepEqual(
      (await t.engine.listTasks(earlier.id)).map((x) => x.params.frame),
      [10, 15, 20, 0, 3, 6, 9],
    );
    await rejectsWith(
      t.engine.extendJob({ id: frames.id, frames: { start: 5, end: 5 } }),
      'DROVER_E_INVALID_PARAMS',
      /frames 0 to 20/,
    );
  });
});
