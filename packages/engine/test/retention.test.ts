import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { backend, openTestEngine, readEventsUntil, uniqueType } from './harness.js';
import type { TestEngine } from './harness.js';

describe(`retention (${backend})`, () => {
  let t: TestEngine;
  before(async () => {
    t = await openTestEngine();
  });
  after(async () => {
    await t.close();
  });

  it('deletes finished jobs older than the cut-off with their rows, and keeps the rest', async () => {
    const type = uniqueType();
    const group = `ret-${process.pid}`;
    const { worker } = await t.engine.registerWorker({
      name: uniqueType('w'),
      host: 'h',
      taskTypes: [type],
      slots: 10,
    });
    const old = await t.engine.submit({ group, taskType: type, items: [{ i: 1 }, { i: 2 }] });
    const running = await t.engine.submit({ group, taskType: uniqueType('other') });
    const held = await t.engine.claim({
      workerId: worker.id,
      taskTypes: [type],
      tags: [],
      limit: 10,
    });
    await t.engine.appendLogs(
      held.map((a) => ({
        ...a,
        lines: [{ at: new Date().toISOString(), stream: 'stdout', line: 'x' }],
      })),
    );
    await t.engine.complete(held.map((a) => ({ ...a, result: null })));
    const oldTaskId = held[0]?.task.id ?? '';
    // The old job finished an hour ago, as far as retention can tell; the rest just now. A cut-off
    // in wall time between them would make the test depend on how busy the machine is.
    await t.engine.database.query(
      `UPDATE jobs SET finished_at = finished_at - interval '1 hour' WHERE id = $1`,
      [old.job.id],
    );
    const fresh = await t.engine.submit({ group, taskType: type });
    const [f] = await t.engine.claim({
      workerId: worker.id,
      taskTypes: [type],
      tags: [],
      limit: 1,
    });
    assert.ok(f);
    await t.engine.complete([{ ...f, result: null }]);

    assert.equal(await t.engine.applyRetention({ finishedJobsMs: 600_000 }), 1);
    await assert.rejects(t.engine.getJob(old.job.id), /no job/);
    await assert.rejects(t.engine.getTask(oldTaskId), /no task/);
    assert.deepEqual(await t.engine.listAttempts(oldTaskId), []);
    assert.deepEqual(
      (await t.engine.readEvents({ topic: `job/${old.job.id}`, after: '' })).events.map(
        (e) => e.kind,
      ),
      ['job.removed'],
      "the job's own topic keeps only the news that it is gone",
    );
    assert.deepEqual(
      (await t.engine.readEvents({ topic: `task/${oldTaskId}/log`, after: '' })).events,
      [],
    );
    assert.equal((await t.engine.getJob(fresh.job.id)).status, 'succeeded');
    assert.equal(
      (await t.engine.getJob(running.job.id)).status,
      'queued',
      'unfinished jobs stay, however old',
    );
    const removed = await readEventsUntil(t.engine, `jobs/${group}`, (events) =>
      events.some((e) => e.kind === 'job.removed'),
    );
    assert.deepEqual(
      removed.filter((e) => e.kind === 'job.removed').map((e) => e.subject),
      [old.job.id],
    );
    assert.equal(
      await t.engine.applyRetention({ finishedJobsMs: 600_000 }),
      0,
      'a second pass finds nothing',
    );
  });
});
