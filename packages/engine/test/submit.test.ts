import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DroverError, JobRecord, TaskRecord } from '@drover/protocol';
import { backend, openTestEngine, uniqueType } from './harness.js';
import type { TestEngine } from './harness.js';

describe(`submit (${backend})`, () => {
  let t: TestEngine;
  before(async () => {
    t = await openTestEngine();
  });
  after(async () => {
    await t.close();
  });

  it('stores a single-task job, acknowledged with its record', async () => {
    const type = uniqueType();
    const { job, created } = await t.engine.submit({
      group: 'alice',
      taskType: type,
      params: { n: 1 },
    });
    assert.equal(created, true);
    JobRecord.parse(job);
    assert.equal(job.status, 'queued');
    assert.equal(job.taskCount, 1);
    assert.equal(job.name, type, 'the name defaults to the task type');
    assert.deepEqual(job.counts, {
      queued: 1,
      blocked: 0,
      leased: 0,
      running: 0,
      succeeded: 0,
      failed: 0,
      cancelled: 0,
    });
    const tasks = await t.engine.listTasks(job.id);
    assert.equal(tasks.length, 1);
    const [task] = tasks;
    assert.ok(task);
    TaskRecord.parse(task);
    assert.deepEqual(task.params, { n: 1 });
    assert.equal(task.maxAttempts, 3);
    assert.equal(task.timeoutMs, 3_600_000);
    assert.deepEqual(await t.engine.getJob(job.id), job);
  });

  it('expands items over the stage params, in order', async () => {
    const { job } = await t.engine.submit({
      group: 'alice',
      taskType: uniqueType(),
      params: { scene: 's1', quality: 'low' },
      items: [{ shot: 1 }, { shot: 2, quality: 'high' }, { shot: 3 }],
    });
    const tasks = await t.engine.listTasks(job.id);
    assert.deepEqual(
      tasks.map((task) => [task.index, task.params]),
      [
        [0, { scene: 's1', quality: 'low', shot: 1 }],
        [1, { scene: 's1', quality: 'high', shot: 2 }],
        [2, { scene: 's1', quality: 'low', shot: 3 }],
      ],
    );
    const ids = tasks.map((task) => BigInt(task.id));
    assert.deepEqual(
      [...ids].sort((a, b) => (a < b ? -1 : 1)),
      ids,
      'ids follow submission order',
    );
  });

  it('expands a frame range with a step, then a stage that waits for it', async () => {
    const { job } = await t.engine.submit({
      group: 'alice',
      taskType: uniqueType('frame'),
      params: { scene: 'x' },
      frames: { start: 1, end: 10, step: 3 },
      then: [{ taskType: uniqueType('sheet'), params: { columns: 2 } }],
    });
    assert.equal(job.taskCount, 5);
    assert.equal(job.counts.queued, 4);
    assert.equal(job.counts.blocked, 1);
    const tasks = await t.engine.listTasks(job.id);
    assert.deepEqual(
      tasks.map((task) => [task.stage, task.status, task.params]),
      [
        [0, 'queued', { scene: 'x', frame: 1 }],
        [0, 'queued', { scene: 'x', frame: 4 }],
        [0, 'queued', { scene: 'x', frame: 7 }],
        [0, 'queued', { scene: 'x', frame: 10 }],
        [1, 'blocked', { columns: 2 }],
      ],
    );
  });

  it('stores a 100,000-task job in one call', async () => {
    const { job } = await t.engine.submit({
      group: 'bulk',
      taskType: uniqueType(),
      items: Array.from({ length: 100_000 }, (_, i) => ({ i })),
    });
    assert.equal(job.taskCount, 100_000);
    assert.equal(job.counts.queued, 100_000);
    const last = await t.engine.listTasks(job.id, { fromIndex: 99_999 });
    assert.deepEqual(last[0]?.params, { i: 99_999 });
  });

  it('returns the first job for a repeated idempotency key, and refuses a different submission under it', async () => {
    const type = uniqueType();
    const submission = {
      group: 'alice',
      taskType: type,
      params: { a: 1 },
      idempotencyKey: 'order-17',
    };
    const first = await t.engine.submit(submission);
    const again = await t.engine.submit(submission);
    assert.equal(again.created, false);
    assert.equal(again.job.id, first.job.id);
    // The same key in another group is another job.
    const elsewhere = await t.engine.submit({ ...submission, group: 'bob' });
    assert.notEqual(elsewhere.job.id, first.job.id);
    await assert.rejects(
      t.engine.submit({ ...submission, params: { a: 2 } }),
      (error: unknown) =>
        error instanceof DroverError && error.code === 'DROVER_E_IDEMPOTENCY_CONFLICT',
    );
    const jobs = await t.engine.listJobs({ group: 'alice' });
    assert.equal(jobs.filter((j) => j.taskType === type).length, 1);
  });

  const invalid: [string, unknown][] = [
    ['no group', { taskType: 'x' }],
    ['a group with spaces', { group: 'a b', taskType: 'x' }],
    [
      'both items and frames',
      { group: 'g', taskType: 'x', items: [{}], frames: { start: 1, end: 2 } },
    ],
    ['a backwards frame range', { group: 'g', taskType: 'x', frames: { start: 5, end: 1 } }],
    ['a zero step', { group: 'g', taskType: 'x', frames: { start: 1, end: 5, step: 0 } }],
    ['too many tasks', { group: 'g', taskType: 'x', frames: { start: 1, end: 2_000_000 } }],
    ['max attempts of 0', { group: 'g', taskType: 'x', maxAttempts: 0 }],
    ['params that are not an object', { group: 'g', taskType: 'x', params: [1, 2] }],
    ['a run-at that is not a time', { group: 'g', taskType: 'x', runAt: 'tomorrow' }],
    ['not an object at all', 'render everything'],
    ['a NUL character in params', { group: 'g', taskType: 'x', params: { text: 'a\u0000b' } }],
    ['a lone surrogate in an item', { group: 'g', taskType: 'x', items: [{ text: '\ud800' }] }],
    ['a frame beyond 32 bits', { group: 'g', taskType: 'x', frames: { start: 3e9, end: 3e9 } }],
  ];
  for (const [label, input] of invalid) {
    it(`rejects ${label} with DROVER_E_INVALID_PARAMS and writes nothing`, async () => {
      const before = await t.engine.listJobs({ group: 'g' });
      await assert.rejects(t.engine.submit(input), (error: unknown) => {
        assert.ok(error instanceof DroverError);
        assert.equal(error.code, 'DROVER_E_INVALID_PARAMS');
        assert.equal(error.rpcCode, -32602);
        assert.ok(
          Array.isArray(error.details) && error.details.length > 0,
          'names the fields at fault',
        );
        return true;
      });
      assert.deepEqual(await t.engine.listJobs({ group: 'g' }), before);
    });
  }

  it('lists a group newest first, by status, in pages', async () => {
    const group = `list-${process.pid}`;
    const ids: string[] = [];
    for (let i = 0; i < 5; i++)
      ids.push((await t.engine.submit({ group, taskType: uniqueType() })).job.id);
    const all = await t.engine.listJobs({ group });
    assert.deepEqual(
      all.map((j) => j.id),
      [...ids].reverse(),
    );
    const page = await t.engine.listJobs({ group, limit: 2 });
    assert.equal(page.length, 2);
    const next = await t.engine.listJobs({ group, limit: 10, before: page[1]?.createdAt });
    assert.deepEqual(
      next.map((j) => j.id),
      all.slice(2).map((j) => j.id),
    );
    assert.equal((await t.engine.listJobs({ group, statuses: ['succeeded'] })).length, 0);
  });

  it('pages through jobs created at the same moment without skipping or repeating one', async () => {
    const group = `same-moment-${process.pid}`;
    for (let i = 0; i < 7; i++) await t.engine.submit({ group, taskType: uniqueType() });
    // Seven jobs submitted in one instant, as a busy producer's may be.
    await t.engine.database.query(
      `UPDATE jobs SET created_at = '2026-01-01T00:00:00Z' WHERE group_name = $1`,
      [group],
    );
    const seen: string[] = [];
    let last: { createdAt: string; id: string } | undefined;
    for (;;) {
      const page = await t.engine.listJobs({
        group,
        limit: 3,
        ...(last && { before: last.createdAt, beforeId: last.id }),
      });
      seen.push(...page.map((j) => j.id));
      last = page.at(-1);
      if (page.length < 3) break;
    }
    const all = (await t.engine.listJobs({ group })).map((j) => j.id);
    assert.equal(new Set(seen).size, 7);
    assert.deepEqual(seen, all);
  });

  it('refuses params that would store too much, by task and by job, storing nothing', async () => {
    const group = uniqueType('size');
    const type = uniqueType();
    const refused = (reason: RegExp) => (error: unknown) =>
      error instanceof DroverError &&
      error.code === 'DROVER_E_INVALID_PARAMS' &&
      reason.test(error.message);
    // Half a MiB of params copied into each of 200 frames: 100 MiB from a 0.5 MiB request.
    const half = 'x'.repeat(512 * 1024);
    await assert.rejects(
      t.engine.submit({ group, taskType: type, params: { half }, frames: { start: 1, end: 200 } }),
      refused(/would store 100\.0 MiB of params .* at most 64\.0 MiB/),
    );
    // One task of over a MiB, as an item or as the stage's own params.
    const big = 'x'.repeat(1024 * 1024 + 1);
    await assert.rejects(
      t.engine.submit({ group, taskType: type, items: [{ i: 1 }, { big }] }),
      refused(/a task of stage 0 would have 1\.0 MiB of params; a task takes at most 1\.0 MiB/),
    );
    await assert.rejects(
      t.engine.submit({
        group,
        taskType: type,
        params: { small: 1 },
        then: [{ taskType: type, params: { big } }],
      }),
      refused(/a task of stage 1/),
    );
    assert.deepEqual(await t.engine.listJobs({ group }), []);
    // Just under the bound of a task is taken.
    const { job } = await t.engine.submit({
      group,
      taskType: type,
      items: [{ i: 1 }, { almost: 'x'.repeat(1000 * 1024) }],
    });
    assert.equal(job.taskCount, 2);
  });

  it('says which job is missing', async () => {
    await assert.rejects(
      t.engine.getJob('00000000-0000-4000-8000-000000000000'),
      (error: unknown) => error instanceof DroverError && error.code === 'DROVER_E_NOT_FOUND',
    );
    await assert.rejects(
      t.engine.getJob('not-a-uuid'),
      (error: unknown) => error instanceof DroverError && error.code === 'DROVER_E_INVALID_PARAMS',
    );
  });
});
