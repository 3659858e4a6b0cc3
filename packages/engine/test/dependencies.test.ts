import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { backend, openTestEngine, uniqueType } from './harness.js';
import type { TestEngine } from './harness.js';

describe(`dependencies between stages (${backend})`, () => {
  let t: TestEngine;
  before(async () => {
    t = await openTestEngine();
  });
  after(async () => {
    await t.close();
  });

  async function setup(frames: number, maxAttempts = 1) {
    const render = uniqueType('render');
    const sheet = uniqueType('sheet');
    const publish = uniqueType('publish');
    const { job } = await t.engine.submit({
      group: 'deps',
      taskType: render,
      frames: { start: 1, end: frames },
      maxAttempts,
      then: [{ taskType: sheet }, { taskType: publish }],
    });
    const { worker } = await t.engine.registerWorker({
      name: uniqueType('w'),
      host: 'h',
      taskTypes: [render, sheet, publish],
      slots: 100,
    });
    const claim = (types: string[]) =>
      t.engine.claim({ workerId: worker.id, taskTypes: types, tags: [], limit: 100 });
    return { job, render, sheet, publish, claim };
  }

  it('releases a stage only when every task of the stage before has succeeded', async () => {
    const { job, render, sheet, publish, claim } = await setup(4);
    const frames = await claim([render, sheet, publish]);
    assert.equal(frames.length, 4, 'only the first stage is claimable');
    await t.engine.complete(frames.slice(0, 3).map((a) => ({ ...a, result: a.task.index })));
    assert.deepEqual(await claim([sheet, publish]), [], 'still blocked with one frame running');
    const last = frames[3];
    assert.ok(last);
    await t.engine.complete([{ ...last, result: 3 }]);
    const [sheetTask, ...rest] = await claim([sheet, publish]);
    assert.ok(sheetTask);
    assert.equal(rest.length, 0);
    assert.equal(sheetTask.task.taskType, sheet);
    await t.engine.complete([{ ...sheetTask, result: 'sheet.png' }]);
    const [publishTask] = await claim([publish]);
    assert.ok(publishTask);
    await t.engine.complete([{ ...publishTask, result: 'done' }]);
    const finished = await t.engine.getJob(job.id);
    assert.equal(finished.status, 'succeeded');
    assert.equal(finished.counts.succeeded, 6);
  });

  it('cancels every later stage, with the reason, when a task fails for good', async () => {
    const { job, render, claim } = await setup(3);
    const frames = await claim([render]);
    const [bad, ...good] = frames;
    assert.ok(bad);
    await t.engine.complete(good.map((a) => ({ ...a, result: null })));
    await t.engine.fail([{ ...bad, error: { message: 'out of memory' } }]);
    const tasks = await t.engine.listTasks(job.id);
    const later = tasks.filter((task) => task.stage > 0);
    assert.equal(later.length, 2);
    for (const task of later) {
      assert.equal(task.status, 'cancelled');
      assert.equal(task.error?.code, 'DROVER_E_DEPENDENCY_FAILED');
      assert.match(
        task.error?.message ?? '',
        new RegExp(`Task ${bad.task.id} \\(stage 0\\) ended failed`),
      );
    }
    const finished = await t.engine.getJob(job.id);
    assert.equal(finished.status, 'failed');
    assert.deepEqual(
      [
        finished.counts.succeeded,
        finished.counts.failed,
        finished.counts.cancelled,
        finished.counts.blocked,
      ],
      [2, 1, 2, 0],
    );
  });

  it('keeps later stages waiting while a failed task still has attempts left', async () => {
    const { job, render, claim } = await setup(1, 2);
    const [a] = await claim([render]);
    assert.ok(a);
    await t.engine.fail([{ ...a, error: { message: 'flaky' } }]);
    const tasks = await t.engine.listTasks(job.id);
    assert.deepEqual(
      tasks.map((task) => task.status),
      ['queued', 'blocked', 'blocked'],
    );
  });
});
