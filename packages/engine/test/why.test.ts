import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { backend, openTestEngine, uniqueType } from './harness.js';
import type { TestEngine } from './harness.js';

describe(`why a task is not running (${backend})`, () => {
  let t: TestEngine;
  before(async () => {
    t = await openTestEngine();
  });
  after(async () => {
    await t.close();
  });

  const codes = async (taskId: string) =>
    (await t.engine.whyTask(taskId)).reasons.map((r) => r.code);
  const firstTask = async (jobId: string, stage = 0) =>
    (await t.engine.listTasks(jobId)).find((x) => x.stage === stage)!;

  it('says a job or group is paused, a back-off, a later stage, a running or ended task', async () => {
    const type = uniqueType('why');
    const group = uniqueType('g');
    const { job } = await t.engine.submit({
      group,
      taskType: type,
      runAt: new Date(Date.now() + 3_600_000).toISOString(),
      then: [{ taskType: type }],
    });
    const task = await firstTask(job.id);
    const why = await t.engine.whyTask(task.id);
    assert.equal(why.status, 'queued');
    const later = why.reasons.find((r) => r.code === 'backing_off');
    assert.equal(later?.until && Date.parse(later.until), Date.parse(task.runAt));
    assert.ok(why.reasons.some((r) => r.code === 'no_worker'));
    const next = await firstTask(job.id, 1);
    const waiting = await t.engine.whyTask(next.id);
    assert.deepEqual(
      waiting.reasons.map((r) => r.code),
      ['waiting_for_stage'],
    );
    assert.match(waiting.reasons[0]!.message, /stage 0 .*1 of 1 task not finished/);
    await t.engine.pauseJob(job.id);
    assert.deepEqual((await codes(task.id)).slice(0, 1), ['job_paused']);
    await t.engine.resumeJob(job.id);
    await t.engine.pauseGroup(group);
    assert.ok((await codes(task.id)).includes('group_paused'));
    await t.engine.resumeGroup(group);
    assert.ok(!(await codes(task.id)).includes('group_paused'));

    const ran = uniqueType('why');
    await t.engine.submit({ group, taskType: ran });
    const { worker } = await t.engine.registerWorker({
      name: uniqueType('w'),
      host: 'h',
      taskTypes: [ran],
      slots: 1,
    });
    const [a] = await t.engine.claim({ workerId: worker.id, taskTypes: [ran], tags: [], limit: 1 });
    assert.ok(a);
    const running = await t.engine.whyTask(a.task.id);
    assert.equal(running.status, 'leased');
    assert.deepEqual(
      running.reasons.map((r) => r.code),
      ['not_queued'],
    );
    await t.engine.complete([{ ...a, result: {} }]);
    assert.match((await t.engine.whyTask(a.task.id)).reasons[0]!.message, /ended \(succeeded\)/);
  });

  it('says no worker has the type, or those that do lack tags, or are all busy, and what is ahead', async () => {
    const type = uniqueType('why');
    const group = uniqueType('g');
    const { job } = await t.engine.submit({ group, taskType: type, tags: ['gpu', 'cuda'] });
    const task = await firstTask(job.id);
    assert.deepEqual(await codes(task.id), ['no_worker']);
    await t.engine.registerWorker({
      name: uniqueType('w'),
      host: 'h',
      taskTypes: [type],
      tags: ['cuda'],
      slots: 1,
    });
    const lacking = await t.engine.whyTask(task.id);
    assert.deepEqual(
      lacking.reasons.map((r) => r.code),
      ['missing_tags'],
    );
    assert.match(lacking.reasons[0]!.message, /lack the tags gpu/);

    const plain = uniqueType('why');
    await t.engine.submit({ group, taskType: plain, items: [{ i: 0 }, { i: 1 }, { i: 2 }] });
    const { worker } = await t.engine.registerWorker({
      name: uniqueType('w'),
      host: 'h',
      taskTypes: [plain],
      slots: 1,
    });
    const [a] = await t.engine.claim({
      workerId: worker.id,
      taskTypes: [plain],
      tags: [],
      limit: 1,
    });
    assert.ok(a);
    const tasks = (await t.engine.listTasks(a.task.jobId)).filter((x) => x.status === 'queued');
    const last = tasks[tasks.length - 1]!;
    const why = await t.engine.whyTask(last.id);
    assert.deepEqual(
      why.reasons.map((r) => r.code),
      ['workers_busy', 'queue_position'],
    );
    assert.match(why.reasons[0]!.message, /1 slot, all full/);
    assert.match(why.reasons[1]!.message, /1 task\b/);
  });

  it('says a group or type limit is reached, the rate holds it, or every worker is blocked', async () => {
    const type = uniqueType('why');
    const group = uniqueType('g');
    await t.engine.setGroupLimits({ group, maxRunning: 1, ratePerMinute: 1 });
    await t.engine.setTaskTypeLimits({ taskType: type, maxRunning: 1 });
    const { job } = await t.engine.submit({ group, taskType: type, items: [{ i: 0 }, { i: 1 }] });
    const { worker } = await t.engine.registerWorker({
      name: uniqueType('w'),
      host: 'h',
      taskTypes: [type],
      slots: 5,
    });
    const [a] = await t.engine.claim({
      workerId: worker.id,
      taskTypes: [type],
      tags: [],
      limit: 5,
    });
    assert.ok(a);
    const waiting = (await t.engine.listTasks(job.id)).find((x) => x.status === 'queued')!;
    const why = await t.engine.whyTask(waiting.id);
    assert.deepEqual(
      why.reasons.map((r) => r.code),
      ['group_limit', 'type_limit', 'group_rate'],
    );
    assert.match(why.reasons[0]!.message, /1\/1 running/);
    assert.ok(Date.parse(why.reasons[2]!.until!) > Date.now());

    const blocked = uniqueType('why');
    const { job: failing } = await t.engine.submit({
      group: uniqueType('g'),
      taskType: blocked,
      blocklistAfter: 1,
      maxAttempts: 5,
      backoff: { initialMs: 1, maxMs: 1 },
    });
    const { worker: only } = await t.engine.registerWorker({
      name: uniqueType('w'),
      host: 'h',
      taskTypes: [blocked],
      slots: 1,
    });
    const [b] = await t.engine.claim({
      workerId: only.id,
      taskTypes: [blocked],
      tags: [],
      limit: 1,
    });
    assert.ok(b);
    await t.engine.fail([{ ...b, error: { message: 'broken' } }]);
    const task = await firstTask(failing.id);
    assert.ok((await codes(task.id)).includes('blocklisted'));
  });

  it('refuses an unknown task', async () => {
    await assert.rejects(t.engine.whyTask('999999999'), { code: 'DROVER_E_NOT_FOUND' });
    await assert.rejects(t.engine.whyTask('x'), { code: 'DROVER_E_INVALID_PARAMS' });
  });
});
