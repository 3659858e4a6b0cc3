import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createHash } from 'node:crypto';
import { DroverError } from '@drover/protocol';
import type { Assignment } from '@drover/protocol';
import { backend, claimFresh, openTestEngine, readEventsUntil, uniqueType } from './harness.js';
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
    // On PostgreSQL the news is readable once every older transaction of the cluster ended.
    assert.deepEqual(
      (await readEventsUntil(t.engine, `job/${old.job.id}`, (events) => events.length > 0)).map(
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

  const DAY = 86_400_000;
  const sha = (text: string) => createHash('sha256').update(text).digest('hex');

  /** A finished job of `items` tasks in `group`, each with a log line, that ended `daysAgo` ago. */
  async function finishedJob(
    group: string,
    daysAgo: number,
    files: string[] = [],
    items = 2,
  ): Promise<{ jobId: string; held: Assignment[] }> {
    const held = await claimFresh(t.engine, items, group);
    const jobId = held[0]?.task.jobId ?? '';
    await t.engine.appendLogs(
      held.map((a) => ({
        ...a,
        lines: [{ at: new Date().toISOString(), stream: 'stdout', line: 'x' }],
      })),
    );
    for (const text of files) {
      const a = held[0];
      assert.ok(a);
      await t.engine.recordArtifact({
        attemptId: a.attemptId,
        token: a.token,
        name: `${sha(text).slice(0, 8)}.txt`,
        contentType: 'text/plain',
        size: Buffer.byteLength(text),
        sha256: sha(text),
      });
    }
    await t.engine.complete(held.map((a) => ({ ...a, result: null })));
    await t.engine.database.query(
      `UPDATE jobs SET finished_at = now() - $2 * interval '1 day' WHERE id = $1`,
      [jobId, daysAgo],
    );
    return { jobId, held };
  }

  const exists = async (jobId: string) =>
    t.engine.getJob(jobId).then(
      () => true,
      (error: unknown) => {
        if (error instanceof DroverError && error.code === 'DROVER_E_NOT_FOUND') return false;
        throw error;
      },
    );

  it("a group's own retention wins over the farm's, and `off` keeps a group's jobs", async () => {
    const g = (name: string) => `${name}-${process.pid}`;
    const farm = await finishedJob(g('farm'), 20);
    const young = await finishedJob(g('farm'), 5);
    const short = await finishedJob(g('short'), 5);
    const long = await finishedJob(g('long'), 20);
    const kept = await finishedJob(g('kept'), 400);
    const queued = await t.engine.submit({ group: g('short'), taskType: uniqueType('never') });
    await t.engine.database.query(
      `UPDATE jobs SET created_at = now() - interval '400 days' WHERE id = $1`,
      [queued.job.id],
    );
    assert.equal((await t.engine.setGroupRetention(g('short'), 2 * DAY)).retention, 2 * DAY);
    assert.equal((await t.engine.setGroupRetention(g('long'), 30 * DAY)).retention, 30 * DAY);
    assert.equal((await t.engine.setGroupRetention(g('kept'), 'off')).retention, 'off');
    const preview = await t.engine.previewRetention({ farmMs: 10 * DAY });
    const pass = await t.engine.runRetentionPass({ farmMs: 10 * DAY, batch: 1 });
    assert.deepEqual(
      {
        farm: await exists(farm.jobId),
        young: await exists(young.jobId),
        short: await exists(short.jobId),
        long: await exists(long.jobId),
        kept: await exists(kept.jobId),
        queued: await exists(queued.job.id),
      },
      { farm: false, young: true, short: false, long: true, kept: true, queued: true },
    );
    assert.equal(pass.jobs, 2);
    assert.equal(pass.tasks, 4);
    assert.ok(pass.events >= 4, 'their log lines and events went with them');
    const { freed, ...counts } = pass;
    assert.deepEqual(freed, []);
    assert.deepEqual(
      { ...preview, dryRun: false },
      counts,
      'the dry run counted what the pass then deleted',
    );
    // With the farm's retention off, a group with its own is still pruned.
    const again = await finishedJob(g('short'), 3);
    assert.equal((await t.engine.runRetentionPass({ farmMs: null })).jobs, 1);
    assert.equal(await exists(again.jobId), false);
    // Back to the farm's.
    assert.equal((await t.engine.setGroupRetention(g('kept'), 'default')).retention, 'default');
    assert.equal((await t.engine.runRetentionPass({ farmMs: 300 * DAY })).jobs, 1);
    assert.equal(await exists(kept.jobId), false);
    await assert.rejects(
      t.engine.setGroupRetention(g('kept'), 0),
      (e: unknown) => e instanceof DroverError && e.code === 'DROVER_E_INVALID_PARAMS',
    );
  });

  it('a dry run deletes nothing; a prune reports the blobs only its jobs referenced', async () => {
    const group = `files-${process.pid}`;
    const old = await finishedJob(group, 40, ['only old', 'shared']);
    const keptJob = await finishedJob(group, 1, ['shared', 'only kept']);
    const rules = { farmMs: null, olderThanMs: 30 * DAY, group };
    const preview = await t.engine.previewRetention(rules);
    assert.deepEqual(preview, {
      jobs: 1,
      tasks: 2,
      events: preview.events,
      artifacts: 2,
      blobs: 1,
      bytes: Buffer.byteLength('only old'),
      dryRun: true,
    });
    assert.equal(await exists(old.jobId), true, 'a dry run changes nothing');
    assert.equal((await t.engine.listArtifacts({ jobId: old.jobId })).length, 2);
    const pass = await t.engine.runRetentionPass(rules);
    assert.deepEqual(pass.freed, [sha('only old')]);
    assert.equal(pass.events, preview.events);
    assert.equal(await exists(old.jobId), false);
    assert.equal(await exists(keptJob.jobId), true);
    assert.deepEqual(await t.engine.unreferencedBlobs([sha('shared'), sha('only kept')]), []);
  });

  it('passes running at once delete each job once, without an error', async () => {
    const group = `together-${process.pid}`;
    const jobs: string[] = [];
    for (let i = 0; i < 12; i += 1) jobs.push((await finishedJob(group, 50, [], 1)).jobId);
    const rules = { farmMs: null, olderThanMs: 40 * DAY, group, batch: 2 };
    const passes = await Promise.all([1, 2, 3].map(() => t.engine.runRetentionPass(rules)));
    assert.equal(
      passes.reduce((sum, p) => sum + p.jobs, 0),
      12,
    );
    const removed = await readEventsUntil(
      t.engine,
      `jobs/${group}`,
      (events) => events.filter((e) => e.kind === 'job.removed').length >= 12,
    );
    assert.deepEqual(
      removed
        .filter((e) => e.kind === 'job.removed')
        .map((e) => e.subject)
        .sort(),
      [...jobs].sort(),
      'each job was removed once',
    );
  });

  it('one replica at a time holds the scheduled pass, and the farm runs it once an interval', async () => {
    const a = '00000000-0000-4000-8000-00000000000a';
    const b = '00000000-0000-4000-8000-00000000000b';
    const hold = t.engine.retentionHold;
    const [first, second] = await Promise.all([
      hold.claim(a, 60_000, 3_600_000),
      hold.claim(b, 60_000, 3_600_000),
    ]);
    assert.equal(Number(first) + Number(second), 1, 'one of two replicas asking at once takes it');
    const holder = first ? a : b;
    const other = first ? b : a;
    assert.equal(await hold.renew(holder, 60_000), true);
    assert.equal(await hold.renew(other, 60_000), false);
    await hold.release(holder);
    assert.equal(await hold.claim(other, 60_000, 3_600_000), false, 'the pass ran a moment ago');
    assert.equal(await hold.claim(other, 60_000, 0), true);
    // A replica that dies holding the pass gives it up once its hold lapses.
    await t.engine.database.query(`UPDATE farm SET retention_until = now() - interval '1 second'`);
    assert.equal(await hold.claim(holder, 60_000, 0), true);
    assert.equal(await hold.renew(other, 60_000), false);
    await hold.release(holder);
  });
});
