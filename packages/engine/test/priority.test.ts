import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DroverError } from '@drover/protocol';
import { backend, openTestEngine, uniqueType } from './harness.js';
import type { TestEngine } from './harness.js';

describe(`changing a job's priority, and a worker's slots in use (${backend})`, () => {
  let t: TestEngine;
  before(async () => {
    t = await openTestEngine();
  });
  after(async () => {
    await t.close();
  });

  it("moves a job's waiting tasks ahead of others, leaving its held ones where they are", async () => {
    const type = uniqueType();
    const { job: first } = await t.engine.submit({
      group: 'priority',
      taskType: type,
      items: [{ n: 1 }, { n: 2 }, { n: 3 }],
    });
    const { job: second } = await t.engine.submit({ group: 'priority', taskType: type });
    const { worker } = await t.engine.registerWorker({
      name: uniqueType('w'),
      host: 'h',
      taskTypes: [type],
      slots: 10,
    });
    const claim = (limit: number) =>
      t.engine.claim({ workerId: worker.id, taskTypes: [type], tags: [], limit });
    const [held] = await claim(1);
    assert.equal(held?.task.jobId, first.id, 'submission order first');
    assert.equal((await t.engine.getWorker(worker.id)).running, 1, 'one slot in use');

    const raised = await t.engine.setJobPriority(second.id, 5);
    assert.equal(raised.priority, 5);
    const [next] = await claim(1);
    assert.equal(next?.task.jobId, second.id, 'the raised job goes first');
    assert.equal(next.task.priority, 5);
    const tasks = await t.engine.listTasks(first.id);
    assert.deepEqual(
      tasks.map((task) => task.priority),
      [0, 0, 0],
    );
    await t.engine.setJobPriority(first.id, -3);
    assert.deepEqual(
      (await t.engine.listTasks(first.id)).map((task) => [task.status, task.priority]),
      [
        ['leased', 0],
        ['queued', -3],
        ['queued', -3],
      ],
    );
    assert.equal((await t.engine.getWorker(worker.id)).running, 2);
  });

  it('refuses a priority out of range or a missing job, changing nothing', async () => {
    const { job } = await t.engine.submit({ group: 'priority', taskType: uniqueType() });
    await assert.rejects(
      t.engine.setJobPriority(job.id, 5000),
      (e: unknown) => e instanceof DroverError && e.code === 'DROVER_E_INVALID_PARAMS',
    );
    await assert.rejects(
      t.engine.setJobPriority('00000000-0000-4000-8000-000000000000', 1),
      (e: unknown) => e instanceof DroverError && e.code === 'DROVER_E_NOT_FOUND',
    );
    assert.equal((await t.engine.getJob(job.id)).priority, 0);
  });
});
