import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import type { TaskRecord } from '@drover/protocol';
import { openEngine } from '../src/index.js';
import type { Engine } from '../src/index.js';
import { databaseUrl, dropSchema, readEventsUntil, sleep, uniqueType } from './harness.js';

describe('concurrency on a PostgreSQL server', () => {
  const schema = `t_conc_${process.pid}`;
  const engines: Engine[] = [];
  before(async () => {
    engines.push(await openEngine({ databaseUrl, schema, migrate: true }));
    // Three more, as other server replicas would open it.
    for (let i = 0; i < 3; i++) engines.push(await openEngine({ databaseUrl, schema }));
  });
  after(async () => {
    for (const engine of engines) await engine.close();
    await dropSchema(schema);
  });

  it('lets four claimers take 10,000 tasks with no task claimed twice and none left behind', async () => {
    const type = uniqueType();
    const [first] = engines;
    assert.ok(first);
    const { job } = await first.submit({
      group: 'conc',
      taskType: type,
      items: Array.from({ length: 10_000 }, (_, i) => ({ i })),
    });
    const claimedBy = await Promise.all(
      engines.map(async (engine, n) => {
        const { worker } = await engine.registerWorker({
          name: `claimer-${n}`,
          host: 'h',
          taskTypes: [type],
          slots: 50,
        });
        const mine: string[] = [];
        for (;;) {
          const held = await engine.claim({
            workerId: worker.id,
            taskTypes: [type],
            tags: [],
            limit: 50,
          });
          if (held.length === 0) break;
          mine.push(...held.map((a) => a.task.id));
          const outcomes = await engine.complete(held.map((a) => ({ ...a, result: { by: n } })));
          assert.ok(
            outcomes.every((o) => o.accepted),
            'every result of a claimed task is accepted',
          );
        }
        return mine;
      }),
    );
    const all = claimedBy.flat();
    assert.equal(new Set(all).size, all.length, 'no task was claimed twice');
    assert.equal(all.length, 10_000, 'every task was claimed');
    assert.ok(
      claimedBy.every((mine) => mine.length > 0),
      `every claimer got work: ${claimedBy.map((m) => m.length).join(', ')}`,
    );
    const done = await first.getJob(job.id);
    assert.equal(done.status, 'succeeded');
    assert.equal(done.counts.succeeded, 10_000);
  });

  it('lets four dispatchers, each claiming for 100 workers in one statement, share 10,000 tasks once', async () => {
    const type = uniqueType();
    const [first] = engines;
    assert.ok(first);
    const { job } = await first.submit({
      group: 'conc-batch',
      taskType: type,
      items: Array.from({ length: 10_000 }, (_, i) => ({ i })),
    });
    const claimedBy = await Promise.all(
      engines.map(async (engine, n) => {
        const workers: string[] = [];
        for (let i = 0; i < 100; i++) {
          const { worker } = await engine.registerWorker({
            name: `dispatcher-${n}-worker-${i}`,
            host: 'h',
            taskTypes: [type],
            slots: 1,
          });
          workers.push(worker.id);
        }
        const mine: { taskId: string; workerId: string }[] = [];
        for (;;) {
          const held = await engine.claimBatch({
            groups: [{ taskTypes: [type], tags: [], slots: workers }],
          });
          if (held.length === 0) break;
          const perWorker = new Map<string, number>();
          for (const a of held) {
            const workerId = a.task.workerId ?? '';
            perWorker.set(workerId, (perWorker.get(workerId) ?? 0) + 1);
            mine.push({ taskId: a.task.id, workerId });
          }
          assert.ok(
            [...perWorker.keys()].every((id) => workers.includes(id)),
            'tasks go only to the workers offered',
          );
          assert.ok(
            [...perWorker.values()].every((count) => count === 1),
            'a worker with one slot gets one task',
          );
          const outcomes = await engine.complete(held.map((a) => ({ ...a, result: null })));
          assert.ok(outcomes.every((o) => o.accepted));
        }
        return mine;
      }),
    );
    const all = claimedBy.flat().map((c) => c.taskId);
    assert.equal(new Set(all).size, all.length, 'no task was claimed twice');
    assert.equal(all.length, 10_000, 'every task was claimed');
    assert.ok(
      claimedBy.every((mine) => mine.length > 0),
      'every dispatcher got work',
    );
    const done = await first.getJob(job.id);
    assert.equal(done.status, 'succeeded');
    assert.equal(done.counts.succeeded, 10_000);
  });

  it('changes a priority while a completion releases the next stage, without a deadlock', async () => {
    const [engine] = engines;
    assert.ok(engine);
    const type = uniqueType();
    const { job } = await engine.submit({
      group: 'conc-priority',
      taskType: type,
      then: [{ taskType: uniqueType(), items: [{ i: 1 }, { i: 2 }, { i: 3 }] }],
    });
    const { worker } = await engine.registerWorker({
      name: uniqueType('w'),
      host: 'h',
      taskTypes: [type],
      slots: 1,
    });
    const [held] = await engine.claim({
      workerId: worker.id,
      taskTypes: [type],
      tags: [],
      limit: 1,
    });
    assert.ok(held);
    const holder = new pg.Client({ connectionString: databaseUrl });
    await holder.connect();
    try {
      // Another statement holds the job's row: the completion, then the priority change queue up
      // behind it, each holding what it took before the job.
      await holder.query('BEGIN');
      await holder.query(`SELECT 1 FROM ${schema}.jobs WHERE id = $1 FOR UPDATE`, [job.id]);
      const completing = engine.complete([{ ...held, result: null }]);
      await sleep(300);
      const prioritizing = engine.setJobPriority(job.id, 7);
      await sleep(300);
      await holder.query('COMMIT');
      const [outcome] = await completing;
      assert.equal(outcome?.accepted, true, 'the completion went through at the first try');
      assert.equal((await prioritizing).priority, 7);
    } finally {
      await holder.end();
    }
    const tasks = await engine.listTasks(job.id);
    assert.deepEqual(
      tasks.map((t) => [t.stage, t.status, t.priority]),
      [
        [0, 'succeeded', 0],
        [1, 'queued', 7],
        [1, 'queued', 7],
        [1, 'queued', 7],
      ],
    );
  });

  it('never lets a reader skip an event whose transaction commits after a later one', async () => {
    const [engine] = engines;
    assert.ok(engine);
    const { worker: slow } = await engine.registerWorker({
      name: uniqueType('slow'),
      host: 'h',
      taskTypes: ['x'],
      slots: 1,
    });
    const { worker: fast } = await engine.registerWorker({
      name: uniqueType('fast'),
      host: 'h',
      taskTypes: ['x'],
      slots: 1,
    });
    const head = await engine.headCursor('workers');

    // The slow transaction appends its event first but commits last.
    const client = new pg.Client({
      connectionString: databaseUrl,
      options: `-c search_path=${schema}`,
    });
    await client.connect();
    try {
      await client.query('BEGIN');
      await client.query(`UPDATE workers SET state = 'draining' WHERE id = $1`, [slow.id]);
      await engine.holdWorker(fast.id, 'disabled');
      await sleep(100);
      const whileOpen = await engine.readEvents({ topic: 'workers', after: head });
      assert.deepEqual(whileOpen.events, [], 'the later event waits for the open transaction');
      await client.query('COMMIT');
    } finally {
      await client.end();
    }
    const events = await readEventsUntil(engine, 'workers', (all) => all.length >= 2, {
      after: head,
    });
    assert.deepEqual(
      events.map((e) => e.subject),
      [slow.id, fast.id],
      'both events, in commit-safe order',
    );
  });

  it('cancels a job whose tasks fail and retry at the same moment: none is left to run again', async () => {
    const [engine, other] = engines;
    assert.ok(engine && other);
    const type = uniqueType('flaky');
    const { worker } = await engine.registerWorker({
      name: uniqueType('w'),
      host: 'h',
      taskTypes: [type],
      slots: 100,
    });
    const jitter = () => sleep(Math.random() * 15);
    for (let round = 0; round < 15; round++) {
      const { job } = await engine.submit({
        group: 'conc-cancel',
        taskType: type,
        items: Array.from({ length: 20 }, (_, i) => ({ i })),
        maxAttempts: 5,
        backoff: { initialMs: 0, maxMs: 0 },
      });
      const held = await engine.claim({
        workerId: worker.id,
        taskTypes: [type],
        tags: [],
        limit: 20,
      });
      // Failures with retries left race the cancel, from two "servers".
      await Promise.all([
        ...held.map(async (a) => {
          await jitter();
          await other.fail([{ ...a, error: { message: 'flaky' } }]);
        }),
        (async () => {
          await jitter();
          await engine.cancelJob(job.id, 'stop');
        })(),
      ]);
      const tasks: TaskRecord[] = await engine.listTasks(job.id);
      assert.deepEqual(
        tasks.filter((t) => t.status === 'queued' || t.status === 'leased').map((t) => t.id),
        [],
        `round ${round}: no task of the cancelled job is left to run`,
      );
      assert.deepEqual(
        await engine.claim({ workerId: worker.id, taskTypes: [type], tags: [], limit: 100 }),
        [],
      );
      assert.equal((await engine.getJob(job.id)).status, 'cancelled');
    }
  });
});
