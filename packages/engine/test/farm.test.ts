// The farm's overview (decision 0037): the samples the servers record, the history read from
// them, the figures of the farm now, and a job's attempts across workers.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Assignment } from '@drover/protocol';
import { backend, openTestEngine, uniqueType } from './harness.js';
import type { TestEngine } from './harness.js';

const HOUR_MS = 3_600_000;

describe(`the farm's overview (${backend})`, () => {
  let t: TestEngine;
  before(async () => {
    t = await openTestEngine();
  });
  after(async () => {
    await t.close();
  });

  /** Moves tasks' finish into the middle of the hour before the current one (the DB's clock). */
  const finishedLastHour = (jobId: string) =>
    t.engine.database.query(
      `UPDATE tasks SET finished_at = date_trunc('hour', now()) - interval '30 minutes'
       WHERE job_id = $1 AND finished_at IS NOT NULL`,
      [jobId],
    );

  it("records one sample per interval with the farm's queue, workers and outcomes", async () => {
    const type = uniqueType();
    const { worker } = await t.engine.registerWorker({
      name: uniqueType('w'),
      host: 'h',
      taskTypes: [type],
      slots: 4,
    });
    await t.engine.registerWorker({
      name: uniqueType('idle'),
      host: 'h',
      taskTypes: [uniqueType('other')],
      slots: 1,
    });
    const ran = await t.engine.submit({
      group: 'overview',
      name: 'ran',
      taskType: type,
      maxAttempts: 1,
      items: [{ i: 0 }, { i: 1 }, { i: 2 }, { i: 3 }],
    });
    const held = await t.engine.claim({
      workerId: worker.id,
      taskTypes: [type],
      tags: [],
      limit: 4,
    });
    assert.equal(held.length, 4);
    const [a, b, c] = held as [Assignment, Assignment, Assignment, Assignment];
    await t.engine.complete([
      { ...a, result: null },
      { ...b, result: null },
    ]);
    await t.engine.fail([{ ...c, error: { message: 'boom' } }]);
    await finishedLastHour(ran.job.id);
    // Three more wait; one of them is blocked behind a stage, which is not the queue.
    await t.engine.submit({
      group: 'overview',
      taskType: uniqueType('waiting'),
      items: [{ i: 0 }, { i: 1 }, { i: 2 }],
    });

    const sample = await t.engine.recordSample(HOUR_MS, 7 * 24 * HOUR_MS);
    assert.ok(sample, 'the first call of the interval records it');
    assert.equal(Date.parse(sample.at) % HOUR_MS, 0, 'the interval ends on a multiple of it');
    assert.deepEqual(
      {
        intervalMs: sample.intervalMs,
        queued: sample.queued,
        running: sample.running,
        workersOnline: sample.workersOnline,
        workersBusy: sample.workersBusy,
        succeeded: sample.succeeded,
        failed: sample.failed,
      },
      {
        intervalMs: HOUR_MS,
        queued: 3,
        running: 1,
        workersOnline: 2,
        workersBusy: 1,
        succeeded: 2,
        failed: 1,
      },
    );
    // The same interval again: the sample is there, nothing is recorded twice.
    assert.equal(await t.engine.recordSample(HOUR_MS, 7 * 24 * HOUR_MS), undefined);
    const history = await t.engine.farmHistory({
      since: new Date(Date.now() - 3 * HOUR_MS),
      stepMs: HOUR_MS,
    });
    assert.equal(history.samples.length, 1);
    assert.deepEqual(history.samples[0], sample);
  });

  it('reads the history in buckets: outcomes summed, gauges at their highest', async () => {
    await t.engine.database.query('DELETE FROM metrics_samples');
    // Six samples 10 s apart, the last ten minutes ago.
    const end = Math.floor(Date.now() / 60_000) * 60_000 - 600_000;
    for (let i = 0; i < 6; i++) {
      await t.engine.database.query(
        `INSERT INTO metrics_samples
           (at, interval_ms, queued, running, workers_online, workers_busy, succeeded, failed)
         VALUES ($1, 10000, $2, $3, 4, $4, $5, $6)`,
        [new Date(end - (5 - i) * 10_000).toISOString(), 100 - i * 10, i, i % 3, 5 + i, i % 2],
      );
    }
    const since = new Date(end - 3_600_000);
    const raw = await t.engine.farmHistory({ since, stepMs: 10_000 });
    assert.equal(raw.step, 10_000);
    assert.deepEqual(
      raw.samples.map((s) => s.queued),
      [100, 90, 80, 70, 60, 50],
    );
    const coarse = await t.engine.farmHistory({ since, stepMs: 60_000 });
    const total = coarse.samples.reduce((n, s) => n + s.succeeded, 0);
    assert.equal(total, 5 + 6 + 7 + 8 + 9 + 10);
    assert.equal(
      coarse.samples.reduce((n, s) => n + s.intervalMs, 0),
      60_000,
      'the buckets cover the six samples',
    );
    assert.equal(Math.max(...coarse.samples.map((s) => s.queued)), 100);
    assert.ok(coarse.samples.length <= 2, 'six samples of 10 s fall in one or two minutes');
    // A week at a 10 s step would be 60,480 points: the step is widened to 1,440 at most.
    const week = await t.engine.farmHistory({
      since: new Date(Date.now() - 7 * 24 * HOUR_MS),
      stepMs: 10_000,
    });
    assert.equal(week.step, 420_000);
    // Only what came after `since`.
    const later = await t.engine.farmHistory({ since: new Date(end - 25_000), stepMs: 10_000 });
    assert.deepEqual(
      later.samples.map((s) => s.queued),
      [70, 60, 50],
    );
  });

  it('deletes the samples older than it keeps as it records', async () => {
    await t.engine.database.query('DELETE FROM metrics_samples');
    await t.engine.database.query(
      `INSERT INTO metrics_samples
         (at, interval_ms, queued, running, workers_online, workers_busy, succeeded, failed)
       VALUES (now() - interval '3 days', 1000, 0, 0, 0, 0, 0, 0),
              (now() - interval '1 hour', 1000, 0, 0, 0, 0, 0, 0)`,
    );
    assert.ok(await t.engine.recordSample(1000, 2 * 24 * HOUR_MS));
    const { samples } = await t.engine.farmHistory({
      since: new Date(Date.now() - 7 * 24 * HOUR_MS),
      stepMs: 100,
    });
    assert.equal(samples.length, 2, 'the one of three days ago went; the hour-old one stays');
  });

  it('tells the farm now: queue, running, workers and the tasks each runs', async () => {
    const type = uniqueType();
    const { worker } = await t.engine.registerWorker({
      name: uniqueType('runner'),
      host: 'render-1',
      taskTypes: [type],
      slots: 2,
    });
    const { job } = await t.engine.submit({
      group: 'overview',
      name: 'frames',
      taskType: type,
      maxAttempts: 1,
      items: [{ i: 0 }, { i: 1 }, { i: 2 }],
    });
    const held = await t.engine.claim({
      workerId: worker.id,
      taskTypes: [type],
      tags: [],
      limit: 2,
    });
    const [first, second] = held as [Assignment, Assignment];
    await t.engine.reportProgress([{ ...first, progress: 0.5, message: 'half' }]);
    await t.engine.fail([{ ...second, error: { message: 'boom' } }]);

    const overview = await t.engine.farmOverview();
    const mine = overview.workers.find((w) => w.id === worker.id);
    assert.ok(mine, 'a connected worker is listed');
    assert.equal(mine.host, 'render-1');
    assert.deepEqual(
      mine.tasks.map((task) => ({
        taskId: task.taskId,
        jobId: task.jobId,
        jobName: task.jobName,
        group: task.group,
        attempt: task.attempt,
        progress: task.progress,
        message: task.message,
      })),
      [
        {
          taskId: first.task.id,
          jobId: job.id,
          jobName: 'frames',
          group: 'overview',
          attempt: 1,
          progress: 0.5,
          message: 'half',
        },
      ],
    );
    assert.ok(overview.running >= 1);
    assert.ok(overview.workersBusy >= 1);
    assert.ok((overview.workerStates.online ?? 0) >= 1);
    assert.ok(overview.lastMinute.failed >= 1, 'the failure just now counts in the last minute');
    assert.ok(overview.failedLastHour >= overview.lastMinute.failed);
    assert.ok(overview.queued >= 1);
    assert.equal(overview.workersTruncated, false);
  });

  it("gives a job's attempts with their workers' names, the latest first, up to a limit", async () => {
    const type = uniqueType();
    const names = [uniqueType('left'), uniqueType('right')];
    const [left, right] = await Promise.all(
      names.map(async (name) => {
        const { worker } = await t.engine.registerWorker({
          name,
          host: 'h',
          taskTypes: [type],
          slots: 1,
        });
        return worker;
      }),
    );
    assert.ok(left && right);
    const { job } = await t.engine.submit({
      group: 'overview',
      taskType: type,
      maxAttempts: 2,
      items: [{ i: 0 }, { i: 1 }],
    });
    const [l1] = await t.engine.claim({ workerId: left.id, taskTypes: [type], tags: [], limit: 1 });
    assert.ok(l1);
    // The first attempt fails and comes back at once, to the other worker.
    await t.engine.fail([{ ...l1, error: { message: 'boom' } }]);
    await t.engine.database.query(`UPDATE tasks SET run_at = now() WHERE job_id = $1`, [job.id]);
    const [r1] = await t.engine.claim({
      workerId: right.id,
      taskTypes: [type],
      tags: [],
      limit: 1,
    });
    assert.ok(r1);
    await t.engine.complete([{ ...r1, result: null }]);
    const [l2] = await t.engine.claim({ workerId: left.id, taskTypes: [type], tags: [], limit: 1 });
    assert.ok(l2);

    const timeline = await t.engine.jobTimeline(job.id);
    assert.equal(timeline.truncated, false);
    assert.equal(timeline.attempts.length, 3);
    const seen = timeline.attempts.map((a) => ({
      task: a.taskId,
      number: a.number,
      worker: a.workerName,
      status: a.status,
      open: a.finishedAt === null,
    }));
    assert.deepEqual(
      new Set(seen.map((s) => JSON.stringify(s))),
      new Set(
        [
          { task: l1.task.id, number: 1, worker: left.name, status: 'failed', open: false },
          {
            task: r1.task.id,
            number: r1.task.attempt,
            worker: right.name,
            status: 'succeeded',
            open: false,
          },
          {
            task: l2.task.id,
            number: l2.task.attempt,
            worker: left.name,
            status: 'active',
            open: true,
          },
        ].map((s) => JSON.stringify(s)),
      ),
    );
    const times = timeline.attempts.map((a) => Date.parse(a.startedAt));
    assert.deepEqual(
      times,
      [...times].sort((x, y) => y - x),
      'latest first',
    );
    const two = await t.engine.jobTimeline(job.id, 2);
    assert.equal(two.attempts.length, 2);
    assert.equal(two.truncated, true);
    await assert.rejects(
      t.engine.jobTimeline('00000000-0000-4000-8000-000000000000'),
      (e: Error & { code?: string }) => e.code === 'DROVER_E_NOT_FOUND',
    );
  });
});
