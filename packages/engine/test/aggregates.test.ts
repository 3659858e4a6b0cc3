import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { JobRecord, TaskRecord } from '@drover/protocol';
import { backend, openTestEngine, uniqueType } from './harness.js';
import type { TestEngine } from './harness.js';

/** The job's counts and progress as a full scan of its tasks would compute them. */
function fromTasks(tasks: TaskRecord[]): Pick<JobRecord, 'counts' | 'progress'> {
  const counts = {
    queued: 0,
    blocked: 0,
    leased: 0,
    running: 0,
    succeeded: 0,
    failed: 0,
    cancelled: 0,
  };
  let sum = 0;
  for (const task of tasks) {
    counts[task.status] += 1;
    sum +=
      task.status === 'succeeded'
        ? 1
        : ['failed', 'cancelled'].includes(task.status)
          ? 0
          : task.progress;
  }
  return { counts, progress: Math.round((sum / tasks.length) * 1e6) / 1e6 };
}

describe(`job aggregates (${backend})`, () => {
  let t: TestEngine;
  before(async () => {
    t = await openTestEngine();
  });
  after(async () => {
    await t.close();
  });

  it('keep the counts and progress a full scan would give, through a mixed workload', async () => {
    const type = uniqueType();
    const sheet = uniqueType('sheet');
    const { job } = await t.engine.submit({
      group: 'agg',
      taskType: type,
      frames: { start: 1, end: 60 },
      maxAttempts: 2,
      backoff: { initialMs: 0, maxMs: 0 },
      then: [{ taskType: sheet }],
    });
    const workers = await Promise.all(
      [1, 2].map(
        async (n) =>
          (
            await t.engine.registerWorker({
              name: uniqueType(`w${n}`),
              host: 'h',
              taskTypes: [type, sheet],
              slots: 10,
            })
          ).worker,
      ),
    );
    // A seeded sequence of claims, progress, results, failures and lost workers.
    let seed = 42;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let round = 0; round < 12; round++) {
      for (const w of workers) {
        const held = await t.engine.claim({
          workerId: w.id,
          taskTypes: [type, sheet],
          tags: [],
          limit: 1 + Math.floor(random() * 8),
        });
        await t.engine.reportProgress(held.map((a) => ({ ...a, progress: random() })));
        const results = held.filter(() => random() < 0.6);
        const failures = held.filter((a) => !results.includes(a) && random() < 0.5);
        await t.engine.complete(results.map((a) => ({ ...a, result: { i: a.task.index } })));
        await t.engine.fail(failures.map((a) => ({ ...a, error: { message: 'flaky' } })));
      }
      if (round === 5) await t.engine.loseWorkerAttempts(workers[0]?.id ?? '');
      const current = await t.engine.getJob(job.id);
      const scanned = fromTasks(await t.engine.listTasks(job.id));
      assert.deepEqual(current.counts, scanned.counts, `counts after round ${round}`);
      assert.ok(
        Math.abs(current.progress - scanned.progress) < 1e-5,
        `progress after round ${round}: ${current.progress} vs ${scanned.progress}`,
      );
    }
    await t.engine.cancelJob(job.id, 'enough');
    for (const w of workers) await t.engine.loseWorkerAttempts(w.id);
    const final = await t.engine.getJob(job.id);
    const scanned = fromTasks(await t.engine.listTasks(job.id));
    assert.deepEqual(final.counts, scanned.counts);
    assert.ok(['cancelled', 'failed'].includes(final.status), final.status);
    assert.equal(final.progress, scanned.progress, 'only succeeded tasks count');
    assert.ok(final.progress < 1);
  });
});
