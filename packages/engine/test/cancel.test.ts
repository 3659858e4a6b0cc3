import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { backend, openTestEngine, uniqueType } from './harness.js';
import type { TestEngine } from './harness.js';

describe(`cancel (${backend})`, () => {
  let t: TestEngine;
  before(async () => {
    t = await openTestEngine();
  });
  after(async () => {
    await t.close();
  });

  async function setup(items: number, then = false) {
    const type = uniqueType();
    const sheet = uniqueType('sheet');
    const { job } = await t.engine.submit({
      group: 'cancel',
      taskType: type,
      items: Array.from({ length: items }, (_, i) => ({ i })),
      ...(then ? { then: [{ taskType: sheet }] } : {}),
    });
    const { worker } = await t.engine.registerWorker({
      name: uniqueType('w'),
      host: 'h',
      taskTypes: [type, sheet],
      slots: 10,
    });
    const claim = (limit: number) =>
      t.engine.claim({ workerId: worker.id, taskTypes: [type, sheet], tags: [], limit });
    return { job, worker, claim };
  }

  it('never starts a queued task of a cancelled job, and stops the held ones', async () => {
    const { job, worker, claim } = await setup(4, true);
    const held = await claim(2);
    const result = await t.engine.cancelJob(job.id, 'wrong scene');
    assert.equal(result.cancelled.length, 2, 'the two queued frames');
    const blocked = (await t.engine.listTasks(job.id)).find((task) => task.stage === 1);
    assert.equal(blocked?.status, 'cancelled', 'the stage that waited on them follows');
    assert.deepEqual(
      result.toStop.map((s) => [s.taskId, s.attemptId, s.workerId]),
      held.map((a) => [a.task.id, a.attemptId, worker.id]),
    );
    assert.equal(result.job.cancelReason, 'wrong scene');
    assert.equal(result.job.status, 'running', 'two tasks still have to stop');
    assert.deepEqual(await claim(10), [], 'nothing of the job starts');
    for (const a of held) {
      const task = await t.engine.getTask(a.task.id);
      assert.equal(task.cancelRequested, true);
      assert.equal(task.status, 'leased');
    }
    // The worker stops them and says so; whatever it reports, they end cancelled.
    const [first, second] = held;
    assert.ok(first && second);
    await t.engine.fail([{ ...first, error: { message: 'stopped', code: 'DROVER_E_CANCELLED' } }]);
    await t.engine.fail([{ ...second, error: { message: 'killed by SIGTERM' } }]);
    for (const a of held) {
      assert.deepEqual(
        (await t.engine.listAttempts(a.task.id)).map((x) => x.status),
        ['cancelled'],
      );
    }
    const finished = await t.engine.getJob(job.id);
    assert.equal(finished.status, 'cancelled');
    assert.deepEqual([finished.counts.cancelled, finished.taskCount], [5, 5]);
    assert.ok(finished.finishedAt);
  });

  it('cancels a held task whose worker is lost instead of retrying it', async () => {
    const { job, worker, claim } = await setup(1);
    await claim(1);
    await t.engine.cancelJob(job.id, 'no longer needed');
    await t.engine.loseWorkerAttempts(worker.id);
    assert.equal((await t.engine.getJob(job.id)).status, 'cancelled');
    assert.deepEqual(await claim(1), []);
  });

  it('cancels one task and the later stage, leaving the rest of the job', async () => {
    const { job, claim } = await setup(3, true);
    const tasks = await t.engine.listTasks(job.id);
    const target = tasks[1];
    assert.ok(target);
    const result = await t.engine.cancelTask(target.id, 'bad frame');
    assert.deepEqual(result.cancelled, [target.id]);
    assert.equal(result.job.cancelReason, null, 'the job itself is not cancelled');
    const after = await t.engine.listTasks(job.id);
    assert.deepEqual(
      after.map((task) => task.status),
      ['queued', 'cancelled', 'queued', 'cancelled'],
    );
    assert.equal(after[3]?.error?.code, 'DROVER_E_DEPENDENCY_FAILED');
    const running = await claim(10);
    assert.equal(running.length, 2);
    await t.engine.complete(running.map((a) => ({ ...a, result: null })));
    const finished = await t.engine.getJob(job.id);
    assert.equal(finished.status, 'cancelled');
  });

  it('changes nothing when the job has finished, and names a missing job', async () => {
    const { job, claim } = await setup(1);
    const [a] = await claim(1);
    assert.ok(a);
    await t.engine.complete([{ ...a, result: 'done' }]);
    const result = await t.engine.cancelJob(job.id, 'too late');
    assert.deepEqual([result.cancelled, result.toStop], [[], []]);
    const finished = await t.engine.getJob(job.id);
    assert.equal(finished.status, 'succeeded');
    assert.equal((await t.engine.getTask(a.task.id)).result, 'done');
    await assert.rejects(t.engine.cancelJob('00000000-0000-4000-8000-000000000000', 'x'), /no job/);
  });

  it('does not release a later stage once the job is cancelled, even if the held tasks succeed', async () => {
    const { job, claim } = await setup(2, true);
    const held = await claim(10);
    assert.equal(held.length, 2);
    await t.engine.cancelJob(job.id, 'stop');
    await t.engine.complete(held.map((a) => ({ ...a, result: 'finished anyway' })));
    const tasks = await t.engine.listTasks(job.id);
    assert.deepEqual(
      tasks.map((task) => task.status),
      ['succeeded', 'succeeded', 'cancelled'],
    );
    assert.deepEqual(await claim(10), []);
    assert.equal((await t.engine.getJob(job.id)).status, 'cancelled');
  });
});
