import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { topics } from '@drover/protocol';
import { backend, openTestEngine, readEventsUntil, uniqueType } from './harness.js';
import type { TestEngine } from './harness.js';

describe(`removing a job (${backend})`, () => {
  let t: TestEngine;
  before(async () => {
    t = await openTestEngine();
  });
  after(async () => {
    await t.close();
  });

  /** A job of two tasks in `group`, both claimed by a worker of its own. */
  async function held(group: string) {
    const type = uniqueType();
    const { job } = await t.engine.submit({ group, taskType: type, items: [{ i: 1 }, { i: 2 }] });
    const { worker } = await t.engine.registerWorker({
      name: uniqueType('w'),
      host: 'h',
      taskTypes: [type],
      slots: 2,
    });
    const leases = await t.engine.claim({
      workerId: worker.id,
      taskTypes: [type],
      tags: [],
      limit: 2,
    });
    return { job, leases };
  }

  it('removes a finished job with its tasks, attempts, logs, events and artifacts, and says so on its topics', async () => {
    const group = uniqueType('rm').replaceAll('.', '-');
    const { job, leases } = await held(group);
    const kept = await t.engine.submit({ group, taskType: uniqueType('other') });
    await t.engine.appendLogs(
      leases.map((a) => ({
        ...a,
        lines: [{ at: new Date().toISOString(), stream: 'stdout', line: 'rendering' }],
      })),
    );
    const [first] = leases;
    assert.ok(first);
    const artifact = await t.engine.recordArtifact({
      ...first,
      name: 'out.png',
      contentType: 'image/png',
      size: 3,
      sha256: 'b'.repeat(64),
    });
    await t.engine.complete(leases.map((a) => ({ ...a, result: { ok: true } })));
    assert.equal((await t.engine.getJob(job.id)).status, 'succeeded');
    const groupHead = await t.engine.headCursor(topics.groupJobs(group));
    const jobHead = await t.engine.headCursor(topics.job(job.id));

    const removed = await t.engine.removeJob(job.id);
    assert.equal(removed.id, job.id);
    assert.equal(removed.status, 'succeeded', 'the job as it was');

    await assert.rejects(t.engine.getJob(job.id), { code: 'DROVER_E_NOT_FOUND' });
    for (const a of leases) {
      await assert.rejects(t.engine.getTask(a.task.id), { code: 'DROVER_E_NOT_FOUND' });
      assert.deepEqual(await t.engine.listAttempts(a.task.id), []);
      assert.deepEqual(
        (await t.engine.readEvents({ topic: topics.taskLog(a.task.id), after: '' })).events,
        [],
        'its log lines',
      );
    }
    await assert.rejects(t.engine.getArtifact(artifact.artifact.id), {
      code: 'DROVER_E_NOT_FOUND',
    });
    assert.deepEqual(await t.engine.unreferencedBlobs(['b'.repeat(64)]), ['b'.repeat(64)]);
    const groupEvents = await readEventsUntil(
      t.engine,
      topics.groupJobs(group),
      (e) => e.some((x) => x.kind === 'job.removed'),
      { after: groupHead },
    );
    assert.deepEqual(
      groupEvents.map((e) => [e.kind, e.subject, e.data]),
      [['job.removed', job.id, { id: job.id, group }]],
    );
    // A reader of the job's own topic, even from before the removal, learns it is gone.
    for (const after of [jobHead, '']) {
      const jobEvents = (await t.engine.readEvents({ topic: topics.job(job.id), after })).events;
      assert.deepEqual(
        jobEvents.map((e) => [e.kind, e.subject, e.data]),
        [['job.removed', job.id, { id: job.id, group }]],
      );
    }
    assert.equal((await t.engine.getJob(kept.job.id)).status, 'queued', 'the other job stays');
    await assert.rejects(t.engine.removeJob(job.id), { code: 'DROVER_E_NOT_FOUND' });
  });

  it('refuses an unfinished job, saying to cancel it first, and changes nothing', async () => {
    const group = uniqueType('rm').replaceAll('.', '-');
    const { job: running } = await held(group);
    const { job: queued } = await t.engine.submit({ group, taskType: uniqueType('idle') });
    const head = await t.engine.headCursor(topics.groupJobs(group));
    for (const job of [running, queued]) {
      const status = (await t.engine.getJob(job.id)).status;
      await assert.rejects(t.engine.removeJob(job.id), (error: Error & { code?: string }) => {
        assert.equal(error.code, 'DROVER_E_CONFLICT');
        assert.match(error.message, new RegExp(`is ${status}: only a finished job`));
        assert.match(error.message, /Cancel it first/);
        return true;
      });
      assert.equal((await t.engine.getJob(job.id)).status, status);
      assert.equal((await t.engine.listTasks(job.id)).length > 0, true);
    }
    assert.equal(await t.engine.headCursor(topics.groupJobs(group)), head, 'no event');
    await assert.rejects(t.engine.removeJob('not-a-job'), { code: 'DROVER_E_INVALID_PARAMS' });
  });

  it('removes a cancelled job once its tasks have stopped, not before', async () => {
    const group = uniqueType('rm').replaceAll('.', '-');
    const { job, leases } = await held(group);
    await t.engine.cancelJob(job.id, 'wrong scene');
    await assert.rejects(t.engine.removeJob(job.id), { code: 'DROVER_E_CONFLICT' });
    await t.engine.fail(leases.map((a) => ({ ...a, error: { message: 'stopped' } })));
    assert.equal((await t.engine.getJob(job.id)).status, 'cancelled');
    assert.equal((await t.engine.removeJob(job.id)).status, 'cancelled');
  });
});
