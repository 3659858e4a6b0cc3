import { randomUUID } from 'node:crypto';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { topics } from '@drover/protocol';
import type { JobRecord, JobsApply, WorkersApply } from '@drover/protocol';
import { backend, openTestEngine, readEventsUntil, uniqueType } from './harness.js';
import type { TestEngine } from './harness.js';

describe(`actions on every job or worker a filter selects (${backend})`, () => {
  let t: TestEngine;
  before(async () => {
    t = await openTestEngine();
  });
  after(async () => {
    await t.close();
  });

  const newGroup = () => uniqueType('bulk').replaceAll('.', '-');

  /**
   * A group with one job of each kind: two succeeded, one failed, one running (a task held, one
   * queued), two queued; named after what they are.
   */
  async function farm() {
    const group = newGroup();
    const type = uniqueType();
    const { worker } = await t.engine.registerWorker({
      name: uniqueType('w'),
      host: 'h',
      taskTypes: [type],
      slots: 10,
    });
    const claim = async (limit: number) =>
      t.engine.claim({ workerId: worker.id, taskTypes: [type], tags: [], limit });
    const submit = async (name: string, items = 1) =>
      (
        await t.engine.submit({
          group,
          name,
          taskType: type,
          items: Array.from({ length: items }, (_, i) => ({ i })),
          maxAttempts: 1,
        })
      ).job;
    const done1 = await submit('Render done one');
    const done2 = await submit('Render done two');
    const failed = await submit('Broken render');
    const leases = await claim(3);
    const [a, b, c] = leases;
    assert.ok(a && b && c);
    await t.engine.complete([a, b].map((l) => ({ ...l, result: null })));
    await t.engine.fail([{ ...c, error: { message: 'no' }, retry: false }]);
    const running = await submit('Busy render', 2);
    const [held] = await claim(1);
    assert.ok(held);
    const queued1 = await submit('Waiting render one');
    const queued2 = await submit('Waiting sketch two');
    return { group, type, done1, done2, failed, running, held, queued1, queued2 };
  }

  const statuses = async (jobs: JobRecord[]) =>
    Promise.all(
      jobs.map((j) =>
        t.engine.getJob(j.id).then(
          (x) => x.status,
          () => 'removed',
        ),
      ),
    );

  it('removes exactly the finished jobs a filter selects, and only those', async () => {
    const f = await farm();
    const result = await t.engine.applyToJobs({
      action: 'remove',
      filter: { group: f.group, statuses: ['succeeded'] },
    });
    assert.deepEqual(
      result.jobs.map((j) => j.id),
      [f.done1.id, f.done2.id],
    );
    assert.deepEqual(result.skipped, []);
    assert.equal(result.more, false);
    assert.deepEqual(await statuses([f.done1, f.done2, f.failed, f.running, f.queued1]), [
      'removed',
      'removed',
      'failed',
      'running',
      'queued',
    ]);
    // Every job but those unfinished, whatever the filter says of statuses.
    const all = await t.engine.applyToJobs({
      action: 'remove',
      filter: { group: f.group },
      all: true,
    });
    assert.deepEqual(
      all.jobs.map((j) => j.id),
      [f.failed.id],
    );
    const removed = await readEventsUntil(
      t.engine,
      topics.groupJobs(f.group),
      (e) => e.filter((x) => x.kind === 'job.removed').length === 3,
    );
    assert.deepEqual(
      removed.filter((e) => e.kind === 'job.removed').map((e) => e.subject),
      [f.done1.id, f.done2.id, f.failed.id],
    );
  });

  it('cancels the queued jobs of a group, and by name, ids and creation time', async () => {
    const f = await farm();
    const queued = await t.engine.applyToJobs({
      action: 'cancel',
      filter: { group: f.group, statuses: ['queued'], search: 'RENDER' },
      values: { reason: 'not today' },
    });
    assert.deepEqual(
      queued.jobs.map((j) => [j.id, j.status, j.cancelReason]),
      [[f.queued1.id, 'cancelled', 'not today']],
      'a queued job whose name has "render" in it',
    );
    assert.deepEqual(queued.toStop, []);
    assert.deepEqual(await statuses([f.running, f.queued2]), ['running', 'queued']);

    const byId = await t.engine.applyToJobs({
      action: 'cancel',
      filter: { group: f.group, ids: [f.running.id, f.done1.id] },
    });
    assert.deepEqual(
      byId.jobs.map((j) => j.id),
      [f.running.id],
      'a finished job is not cancelled',
    );
    assert.deepEqual(
      byId.toStop.map((s) => s.taskId),
      [f.held.task.id],
      'the held task is returned to be stopped',
    );
    const before = await t.engine.applyToJobs({
      action: 'cancel',
      filter: { group: f.group, createdBefore: f.queued2.createdAt },
    });
    assert.deepEqual(before.jobs, [], 'the rest created before it are finished or cancelling');
    const from = await t.engine.applyToJobs({
      action: 'cancel',
      filter: { group: f.group, createdAfter: f.queued2.createdAt },
    });
    assert.deepEqual(
      from.jobs.map((j) => j.id),
      [f.queued2.id],
    );
  });

  it('sets the priority and retries, as the single calls do, a limited number at a time', async () => {
    const f = await farm();
    const first = await t.engine.applyToJobs({
      action: 'setPriority',
      filter: { group: f.group, statuses: ['queued', 'running'] },
      values: { priority: 7 },
      limit: 2,
    });
    assert.deepEqual(
      first.jobs.map((j) => [j.id, j.priority]),
      [
        [f.running.id, 7],
        [f.queued1.id, 7],
      ],
    );
    assert.equal(first.more, true);
    const rest = await t.engine.applyToJobs({
      action: 'setPriority',
      filter: { group: f.group, statuses: ['queued', 'running'] },
      values: { priority: 7 },
      limit: 2,
    });
    assert.deepEqual(
      rest.jobs.map((j) => j.id),
      [f.queued2.id],
    );
    assert.equal(rest.more, false);
    const tasks = await t.engine.listTasks(f.running.id);
    assert.deepEqual(
      tasks.map((x) => [x.status, x.priority]),
      [
        ['leased', 0],
        ['queued', 7],
      ],
      'the waiting task follows, the held one is left alone',
    );

    const retried = await t.engine.applyToJobs({
      action: 'retry',
      filter: { group: f.group },
      all: true,
    });
    assert.deepEqual(
      retried.jobs.map((j) => [j.id, j.status]),
      [[f.failed.id, 'queued']],
    );
    assert.equal(retried.queued, true);
  });

  it('refuses a filter that is empty, misspelt, of the wrong type or out of range, changing nothing', async () => {
    const f = await farm();
    const other = await t.engine.submit({ group: newGroup(), taskType: f.type });
    const head = await t.engine.headCursor(topics.groupJobs(f.group));
    const bad: [unknown, RegExp][] = [
      [{ action: 'remove', filter: { group: f.group } }, /filter: this filter selects every job/],
      [{ action: 'cancel', filter: { group: f.group, status: ['queued'] } }, /status/],
      [{ action: 'cancel', filter: { group: f.group, statuses: [] } }, /at least one value/],
      [{ action: 'cancel', filter: { group: f.group, statuses: ['stuck'] } }, /statuses/],
      [{ action: 'cancel', filter: { statuses: ['queued'] } }, /filter\.group/],
      [{ action: 'explode', filter: { group: f.group }, all: true }, /action/],
      [{ action: 'setPriority', filter: { group: f.group }, all: true }, /values\.priority/],
      [
        { action: 'remove', filter: { group: f.group }, all: true, values: { priority: 1 } },
        /remove takes no priority/,
      ],
      [
        {
          action: 'setPriority',
          filter: { group: f.group },
          all: true,
          values: { priority: 5000 },
        },
        /values\.priority/,
      ],
      [{ action: 'remove', filter: { group: f.group, search: 'a\u0000b' } }, /search/],
      [{ action: 'remove', filter: { group: f.group, ids: ['x'] } }, /ids/],
      [{ action: 'remove', filter: { group: f.group }, all: true, limit: 1001 }, /limit/],
    ];
    for (const [request, message] of bad) {
      await assert.rejects(
        t.engine.applyToJobs(request as JobsApply),
        (error: Error & { code?: string }) => {
          assert.equal(error.code, 'DROVER_E_INVALID_PARAMS', JSON.stringify(request));
          assert.match(error.message, message, JSON.stringify(request));
          return true;
        },
      );
    }
    // Ids of another group's jobs select nothing in this one.
    const elsewhere = await t.engine.applyToJobs({
      action: 'cancel',
      filter: { group: f.group, ids: [other.job.id] },
    });
    assert.deepEqual(elsewhere.jobs, []);
    assert.equal((await t.engine.getJob(other.job.id)).status, 'queued');
    assert.equal(await t.engine.headCursor(topics.groupJobs(f.group)), head, 'no event');
  });

  describe('workers', () => {
    /** Three workers of their own tags: gpu, gpu+linux, linux; `mac` disabled. */
    async function fleet() {
      const gpu = uniqueType('gpu');
      const linux = uniqueType('linux');
      // Connected through a server: enabling one makes it online again.
      const server = randomUUID();
      const register = async (tags: string[]) =>
        (
          await t.engine.registerWorker(
            {
              name: uniqueType('node'),
              host: uniqueType('host'),
              tags,
              taskTypes: ['hello'],
              slots: 1,
            },
            server,
          )
        ).worker;
      const a = await register([gpu]);
      const b = await register([gpu, linux]);
      const c = await register([linux]);
      return { gpu, linux, a, b, c };
    }

    it('disables every worker with a tag, then enables and drains by name, state and host', async () => {
      const w = await fleet();
      const head = await t.engine.headCursor(topics.workers);
      const disabled = await t.engine.applyToWorkers({
        action: 'disable',
        filter: { tags: [w.gpu] },
      });
      assert.equal(disabled.matched, 2);
      assert.deepEqual(new Set(disabled.workers.map((x) => x.id)), new Set([w.a.id, w.b.id]));
      assert.ok(disabled.workers.every((x) => x.state === 'disabled'));
      assert.equal((await t.engine.getWorker(w.c.id)).state, 'online');
      const events = await readEventsUntil(
        t.engine,
        topics.workers,
        (e) => e.filter((x) => x.kind === 'worker.updated').length >= 2,
        { after: head },
      );
      assert.deepEqual(
        new Set(events.map((e) => e.subject)),
        new Set([w.a.id, w.b.id]),
        'the same events as the single calls',
      );

      // Both tags: only b. Again: nothing changes, but it is still matched.
      const both = await t.engine.applyToWorkers({
        action: 'disable',
        filter: { tags: [w.gpu, w.linux] },
      });
      assert.deepEqual([both.matched, both.workers.length], [1, 0]);

      const enabled = await t.engine.applyToWorkers({
        action: 'enable',
        filter: { names: [w.a.name, w.c.name] },
      });
      assert.deepEqual(
        enabled.workers.map((x) => [x.id, x.state]),
        [[w.a.id, 'online']],
        'an online worker is not enabled again',
      );
      assert.equal(enabled.matched, 2);

      const drained = await t.engine.applyToWorkers({
        action: 'drain',
        filter: { hosts: [w.a.host, w.b.host, w.c.host], states: ['online', 'disabled'] },
      });
      assert.deepEqual(
        new Set(drained.workers.map((x) => x.id)),
        new Set([w.a.id, w.c.id]),
        'only online workers drain',
      );
      const searched = await t.engine.applyToWorkers({
        action: 'enable',
        filter: { search: w.b.host.toUpperCase() },
      });
      assert.deepEqual(
        searched.workers.map((x) => x.id),
        [w.b.id],
      );
      assert.equal((await t.engine.getWorker(w.b.id)).state, 'online');
    });

    it('refuses a filter that is empty or misspelt, changing nothing', async () => {
      const w = await fleet();
      const head = await t.engine.headCursor(topics.workers);
      const bad: [unknown, RegExp][] = [
        [{ action: 'disable', filter: {} }, /this filter selects every worker/],
        [{ action: 'disable', filter: { tag: w.gpu } }, /tag/],
        [{ action: 'disable', filter: { tags: w.gpu } }, /tags/],
        [{ action: 'disable', filter: { states: ['sleepy'] } }, /states/],
        [{ action: 'disable', filter: { ids: [] } }, /at least one value/],
        [{ action: 'reboot', filter: { tags: [w.gpu] } }, /action/],
      ];
      for (const [request, message] of bad) {
        await assert.rejects(
          t.engine.applyToWorkers(request as WorkersApply),
          (error: Error & { code?: string }) => {
            assert.equal(error.code, 'DROVER_E_INVALID_PARAMS', JSON.stringify(request));
            assert.match(error.message, message, JSON.stringify(request));
            return true;
          },
        );
      }
      for (const x of [w.a, w.b, w.c])
        assert.equal((await t.engine.getWorker(x.id)).state, 'online');
      assert.equal(await t.engine.headCursor(topics.workers), head, 'no event');
    });
  });
});
