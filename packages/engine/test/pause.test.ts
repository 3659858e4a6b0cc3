import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DroverError } from '@drover/protocol';
import { backend, openTestEngine, readEventsUntil, uniqueType } from './harness.js';
import type { TestEngine } from './harness.js';
import { explainClaimChoice, planNodes, queueRowsRead } from './plans.js';

describe(`pausing and resuming jobs and groups (${backend})`, () => {
  let t: TestEngine;
  before(async () => {
    t = await openTestEngine();
  });
  after(async () => {
    await t.close();
  });

  /** A worker for `type` and a claim of up to `limit` of its tasks. */
  async function workerFor(type: string) {
    const { worker } = await t.engine.registerWorker({
      name: uniqueType('w'),
      host: 'h',
      taskTypes: [type],
      slots: 100,
    });
    return (limit = 100) =>
      t.engine.claim({ workerId: worker.id, taskTypes: [type], tags: [], limit });
  }

  const rejectsWith = (promise: Promise<unknown>, code: string) =>
    assert.rejects(promise, (e: unknown) => e instanceof DroverError && e.code === code);

  it("skips a paused job's tasks while others' are claimed, and resume makes them claimable at once", async () => {
    const type = uniqueType();
    const group = uniqueType('g');
    // The paused job comes first in the queue: higher priority, submitted first.
    const { job: paused } = await t.engine.submit({
      group,
      taskType: type,
      priority: 5,
      items: [{ n: 1 }, { n: 2 }, { n: 3 }],
    });
    const { job: other } = await t.engine.submit({ group, taskType: type, items: [{ n: 1 }] });
    const claim = await workerFor(type);
    const [held] = await claim(1);
    assert.equal(held?.task.jobId, paused.id, 'the first job goes first while it runs');

    const record = await t.engine.pauseJob(paused.id);
    assert.equal(record.paused, true);
    assert.equal(record.status, 'running', 'a paused job keeps its status');
    const next = await claim();
    assert.deepEqual(
      next.map((a) => a.task.jobId),
      [other.id],
      "only the other job's task is claimed",
    );
    assert.deepEqual(await claim(), [], 'nothing of the paused job starts');

    // The task held before the pause runs to its end.
    const [done] = await t.engine.complete([{ ...held, result: 'done' }]);
    assert.equal(done?.accepted, true);

    const resumed = await t.engine.resumeJob(paused.id);
    assert.equal(resumed.paused, false);
    const after = await claim();
    assert.deepEqual(
      after.map((a) => a.task.index),
      [1, 2],
      "the resumed job's waiting tasks are claimed at once",
    );
  });

  it('tells subscribers of the job and its group at once, and survives reopening the engine', async () => {
    const type = uniqueType();
    const group = uniqueType('g');
    const { job } = await t.engine.submit({ group, taskType: type, items: [{ n: 1 }] });
    const head = await t.engine.headCursor(`jobs/${group}`);
    await t.engine.pauseJob(job.id);
    const events = await readEventsUntil(
      t.engine,
      `jobs/${group}`,
      (es) => es.some((e) => e.kind === 'job.updated' && e.data.paused),
      { after: head },
    );
    const updated = events.find((e) => e.kind === 'job.updated');
    assert.ok(updated?.kind === 'job.updated' && updated.data.id === job.id);
    // Pausing again changes nothing and writes no event.
    const again = await t.engine.headCursor(`job/${job.id}`);
    await t.engine.pauseJob(job.id);
    assert.deepEqual(
      (await t.engine.readEvents({ topic: `job/${job.id}`, after: again })).events,
      [],
    );
    assert.equal((await t.engine.getJob(job.id)).paused, true, 'stored in the database');
  });

  it('pauses a whole group, its jobs to come included, and resumes it; a job paused on its own stays paused', async () => {
    const type = uniqueType();
    const group = uniqueType('g');
    const elsewhere = uniqueType('g');
    const { job: first } = await t.engine.submit({ group, taskType: type, items: [{ n: 1 }] });
    const { job: own } = await t.engine.submit({ group, taskType: type, items: [{ n: 1 }] });
    const { job: outside } = await t.engine.submit({
      group: elsewhere,
      taskType: type,
      items: [{ n: 1 }],
    });
    await t.engine.pauseJob(own.id);
    const claim = await workerFor(type);

    const { group: record, changed } = await t.engine.pauseGroup(group);
    assert.equal(record.paused, true);
    assert.equal(changed, 2, 'both jobs of the group');
    const { job: later } = await t.engine.submit({ group, taskType: type, items: [{ n: 1 }] });
    assert.equal(later.paused, true, 'a job submitted into a paused group starts paused');
    assert.equal((await t.engine.getJob(first.id)).paused, true);
    assert.deepEqual(
      (await claim()).map((a) => a.task.jobId),
      [outside.id],
      'only the job of another group starts',
    );

    const resumed = await t.engine.resumeGroup(group);
    assert.equal(resumed.group.paused, false);
    assert.equal(resumed.changed, 3);
    const claimed = (await claim()).map((a) => a.task.jobId).sort();
    assert.deepEqual(claimed, [first.id, later.id].sort());
    assert.equal((await t.engine.getJob(own.id)).paused, true, 'paused on its own, it waits');
    await t.engine.resumeJob(own.id);
    assert.deepEqual(
      (await claim()).map((a) => a.task.jobId),
      [own.id],
    );
  });

  it('resumes one job of a paused group while the rest of the group waits', async () => {
    const type = uniqueType();
    const group = uniqueType('g');
    const { job: a } = await t.engine.submit({ group, taskType: type, items: [{ n: 1 }] });
    const { job: b } = await t.engine.submit({ group, taskType: type, items: [{ n: 1 }] });
    await t.engine.pauseGroup(group);
    const claim = await workerFor(type);
    assert.deepEqual(await claim(), []);
    await t.engine.resumeJob(b.id);
    assert.deepEqual(
      (await claim()).map((x) => x.task.jobId),
      [b.id],
    );
    assert.equal((await t.engine.getJob(a.id)).paused, true);
  });

  it('lists a paused group before it has jobs, with its tasks over all its jobs', async () => {
    const type = uniqueType();
    const group = uniqueType('g');
    await t.engine.pauseGroup(group);
    const empty = await t.engine.getGroup(group);
    assert.deepEqual(
      [empty.paused, empty.jobs, empty.taskCount, empty.lastSubmittedAt],
      [true, 0, 0, null],
    );
    assert.ok((await t.engine.listGroups()).some((g) => g.name === group && g.paused));
    await t.engine.submit({ group, taskType: type, items: [{ n: 1 }, { n: 2 }] });
    await t.engine.submit({ group, taskType: type, items: [{ n: 1 }, { n: 2 }] });
    await t.engine.resumeGroup(group);
    const claim = await workerFor(type);
    const held = await claim(1);
    await t.engine.complete(held.map((h) => ({ ...h, result: null })));
    const record = await t.engine.getGroup(group);
    assert.equal(record.taskCount, 4);
    assert.equal(record.taskCounts.succeeded, 1);
    assert.equal(record.taskCounts.queued, 3);
    assert.equal(record.progress, 0.25);
    assert.equal(record.paused, false);
  });

  it('brings a finished job of a paused group back paused when it is retried', async () => {
    const type = uniqueType();
    const group = uniqueType('g');
    const { job } = await t.engine.submit({ group, taskType: type, maxAttempts: 1 });
    const claim = await workerFor(type);
    const [held] = await claim();
    assert.ok(held);
    await t.engine.fail([{ ...held, error: { message: 'broken' } }]);
    assert.equal((await t.engine.getJob(job.id)).status, 'failed');
    await t.engine.pauseGroup(group);
    const { job: retried } = await t.engine.retryJob(job.id);
    assert.equal(retried.paused, true);
    assert.deepEqual(await claim(), []);
    await t.engine.resumeGroup(group);
    assert.equal((await claim()).length, 1);
  });

  it("reads about as many queued rows as slots with a paused job's 2,000 tasks first in the queue", async () => {
    const type = uniqueType('deep');
    const group = uniqueType('g');
    const { job: paused } = await t.engine.submit({
      group,
      taskType: type,
      priority: 5,
      items: Array.from({ length: 2000 }, (_, i) => ({ i })),
    });
    await t.engine.submit({ group, taskType: type, items: [{ n: 1 }, { n: 2 }, { n: 3 }] });
    const { worker } = await t.engine.registerWorker({
      name: uniqueType('w'),
      host: 'h',
      taskTypes: [type],
      slots: 10,
    });
    await t.engine.pauseJob(paused.id);
    await t.engine.database.exec('ANALYZE');
    const slots = 2;
    const plan = await explainClaimChoice(t.engine, [
      { taskTypes: [type], tags: [], slots: Array(slots).fill(worker.id) },
    ]);
    const queue = planNodes(JSON.parse(plan)).find((n) => n['Index Name'] === 'tasks_queue');
    assert.ok(queue, `the claim walks tasks_queue; plan: ${plan.slice(0, 2000)}`);
    // Rows the walk read and then dropped (the job's row says paused) count too, and so do the
    // descents that find the waiting groups.
    const read = queueRowsRead(plan);
    assert.ok(read <= slots + 3, `read ${read} queued rows for ${slots} slots`);
    // Resumed, its tasks take their place at the head of the queue again.
    await t.engine.resumeJob(paused.id);
    const held = await t.engine.claim({
      workerId: worker.id,
      taskTypes: [type],
      tags: [],
      limit: 1,
    });
    assert.equal(held[0]?.task.jobId, paused.id);
  });

  it('refuses a missing job or group and a bad name, changing nothing', async () => {
    const missing = '00000000-0000-4000-8000-000000000000';
    await rejectsWith(t.engine.pauseJob(missing), 'DROVER_E_NOT_FOUND');
    await rejectsWith(t.engine.resumeJob(missing), 'DROVER_E_NOT_FOUND');
    await rejectsWith(t.engine.pauseJob('not-a-job'), 'DROVER_E_INVALID_PARAMS');
    await rejectsWith(t.engine.pauseGroup('no spaces allowed'), 'DROVER_E_INVALID_PARAMS');
    await rejectsWith(t.engine.getGroup(uniqueType('g')), 'DROVER_E_NOT_FOUND');
    const before = await t.engine.listGroups();
    await rejectsWith(t.engine.resumeGroup(''), 'DROVER_E_INVALID_PARAMS');
    assert.deepEqual(await t.engine.listGroups(), before);
  });
});
