import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { JobRecord } from '@drover/protocol';
import { DroverError, EventRecord, TasksUpdated } from '@drover/protocol';
import { backend, openTestEngine, readEventsUntil, sleep, uniqueType } from './harness.js';
import type { TestEngine } from './harness.js';

describe(`events (${backend})`, () => {
  let t: TestEngine;
  before(async () => {
    t = await openTestEngine();
  });
  after(async () => {
    await t.close();
  });

  it("appends an event for every change of a job and its tasks, in order, on the job's and the group's topics", async () => {
    const type = uniqueType();
    const group = `ev-${process.pid}`;
    const { job } = await t.engine.submit({ group, taskType: type, items: [{ i: 0 }, { i: 1 }] });
    const { worker } = await t.engine.registerWorker({
      name: uniqueType('w'),
      host: 'h',
      taskTypes: [type],
      slots: 2,
    });
    const held = await t.engine.claim({
      workerId: worker.id,
      taskTypes: [type],
      tags: [],
      limit: 2,
    });
    await t.engine.reportProgress(held.map((a) => ({ ...a, progress: 0.5 })));
    await t.engine.complete(held.map((a) => ({ ...a, result: a.task.index })));

    const onJob = await readEventsUntil(t.engine, `job/${job.id}`, (events) =>
      events.some((e) => e.kind === 'job.updated' && e.data.status === 'succeeded'),
    );
    for (const event of onJob) EventRecord.parse(event);
    // One event per change of the job's tasks, listing every task it touched.
    const taskChanges = onJob
      .filter((e) => e.kind === 'tasks.updated')
      .map((e) => {
        assert.equal(e.subject, job.id);
        const data = TasksUpdated.parse(e.data);
        return data.tasks.map((task) => [task.id, task.status, task.progress]);
      });
    const [a0, a1] = held.map((a) => a.task.id);
    assert.deepEqual(taskChanges, [
      [
        [a0, 'leased', 0],
        [a1, 'leased', 0],
      ],
      [
        [a0, 'running', 0.5],
        [a1, 'running', 0.5],
      ],
      [
        [a0, 'succeeded', 1],
        [a1, 'succeeded', 1],
      ],
    ]);
    assert.equal(onJob[0]?.kind, 'job.added');
    const jobProgress = onJob
      .filter((e) => e.kind.startsWith('job.'))
      .map((e) => (e.data as JobRecord).progress);
    assert.deepEqual(jobProgress, [0, 0, 0.5, 1]);

    const onGroup = await readEventsUntil(
      t.engine,
      `jobs/${group}`,
      (events) => events.length >= 4,
    );
    assert.deepEqual(
      onGroup.map((e) => e.kind),
      ['job.added', 'job.updated', 'job.updated', 'job.updated'],
    );
    assert.ok(onGroup.every((e) => e.subject === job.id));

    // Cursors only grow, and reading after one returns exactly what follows it.
    const cursors = onJob.map((e) => e.cursor);
    const middle = onJob[3];
    assert.ok(middle);
    const rest = await t.engine.readEvents({ topic: `job/${job.id}`, after: middle.cursor });
    assert.deepEqual(
      rest.events.map((e) => e.cursor),
      cursors.slice(4),
    );
    const page = await t.engine.readEvents({ topic: `job/${job.id}`, after: '', limit: 3 });
    assert.deepEqual(
      page.events.map((e) => e.cursor),
      cursors.slice(0, 3),
    );
    assert.equal(page.cursor, cursors[2]);
  });

  it('gives a head cursor from which only new events are read', async () => {
    const group = `head-${process.pid}`;
    await t.engine.submit({ group, taskType: uniqueType() });
    await readEventsUntil(t.engine, `jobs/${group}`, (events) => events.length >= 1);
    const head = await t.engine.headCursor(`jobs/${group}`);
    assert.deepEqual(
      (await t.engine.readEvents({ topic: `jobs/${group}`, after: head })).events,
      [],
    );
    const { job } = await t.engine.submit({ group, taskType: uniqueType() });
    const next = await readEventsUntil(t.engine, `jobs/${group}`, (events) => events.length >= 1, {
      after: head,
    });
    assert.deepEqual(
      next.map((e) => [e.kind, e.subject]),
      [['job.added', job.id]],
    );
    assert.equal(await t.engine.headCursor('jobs/nobody-here'), '');
  });

  it('orders positions as numbers, never as text: pages across 999 to 1000 skip and repeat nothing', async () => {
    // One transaction's events whose ids cross the next power of ten: as text, "1000" < "999".
    const [row] = await t.engine.database.query<{ last: string | null }>(
      'SELECT max(id)::text AS last FROM events',
    );
    const last = Number(row?.last ?? 0);
    const power = 10 ** Math.max(2, String(last + 1).length);
    const count = power - last + 20;
    await t.engine.database.query(
      `INSERT INTO events (topic, kind, subject, data)
       SELECT 'refusals', 'report.refused', 'r' || g, '{}'::jsonb FROM generate_series(1, $1::int) g`,
      [count],
    );
    const events = await readEventsUntil(t.engine, 'refusals', (e) => e.length >= count);
    const pages: string[] = [];
    let cursor = '';
    for (;;) {
      const page = await t.engine.readEvents({ topic: 'refusals', after: cursor, limit: 7 });
      if (page.events.length === 0) break;
      pages.push(...page.events.map((e) => e.subject));
      cursor = page.cursor;
    }
    const expected = Array.from({ length: count }, (_, i) => `r${i + 1}`);
    assert.deepEqual(
      events.map((e) => e.subject),
      expected,
    );
    assert.deepEqual(pages, expected, 'paging by 7 reads each event once, in order');
    assert.equal(await t.engine.headCursor('refusals'), events.at(-1)?.cursor);
  });

  it('records workers joining and changing state', async () => {
    const name = uniqueType('w');
    const { worker } = await t.engine.registerWorker({
      name,
      host: 'h',
      taskTypes: ['x'],
      slots: 1,
    });
    await t.engine.holdWorker(worker.id, 'draining');
    const events = await readEventsUntil(
      t.engine,
      'workers',
      (all) => all.filter((e) => e.subject === worker.id).length >= 2,
    );
    assert.deepEqual(
      events
        .filter((e) => e.subject === worker.id)
        .map((e) => [e.kind, (e.data as { state: string }).state]),
      [
        ['worker.added', 'online'],
        ['worker.updated', 'draining'],
      ],
    );
  });

  it('notifies listeners with the topics touched, and when tasks become claimable', async () => {
    const payloads: string[] = [];
    const stop = await t.engine.listen((payload) => payloads.push(payload));
    try {
      const group = `notify-${process.pid}`;
      const { job } = await t.engine.submit({ group, taskType: uniqueType() });
      const deadline = Date.now() + 5000;
      const seen = () => payloads.flatMap((p) => p.split('\n'));
      while (
        !(seen().includes(`jobs/${group}`) && seen().includes('queue')) &&
        Date.now() < deadline
      )
        await sleep(10);
      assert.ok(seen().includes(`jobs/${group}`), `got ${JSON.stringify(payloads)}`);
      assert.ok(seen().includes(`job/${job.id}`));
      assert.ok(seen().includes('queue'));
    } finally {
      await stop();
    }
  });

  it('rejects an unknown topic or a malformed cursor', async () => {
    for (const request of [
      { topic: 'everything', after: '' },
      { topic: 'jobs/ok', after: 'yesterday' },
    ]) {
      await assert.rejects(
        t.engine.readEvents(request),
        (error: unknown) =>
          error instanceof DroverError && error.code === 'DROVER_E_INVALID_PARAMS',
      );
    }
  });
});
