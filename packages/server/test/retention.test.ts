// Retention on a schedule, on one server with its artifact store: old finished jobs go with
// their files on disk; running, queued and young jobs, and files a kept job shares, stay.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { EventRecord, GroupRecord, PruneReport } from '@drover/protocol';
import { backend, claimFresh, openTestEngine, sleep, tokenFor } from '@drover/engine/testing';
import type { TestEngine } from '@drover/engine/testing';
import { uploadArtifact } from '@drover/worker';
import { startServer } from '../src/index.js';
import type { DroverServer } from '../src/index.js';

const DAY = 86_400_000;
const sha = (text: string) => createHash('sha256').update(text).digest('hex');

interface Answer<T> {
  result?: T;
  error?: { code: number; message: string; data?: { code?: string } };
}

describe(`retention on a schedule (${backend})`, () => {
  let t: TestEngine;
  let server: DroverServer;
  let dir: string;
  let token: string;
  let member: string;

  before(async () => {
    t = await openTestEngine();
    token = await tokenFor(t.engine);
    member = await tokenFor(t.engine, {
      name: 'member',
      role: 'member',
      groups: { '*': 'write' },
    });
    dir = mkdtempSync(join(tmpdir(), 'drover-retention-'));
    server = await startServer({
      engine: t.engine,
      port: 0,
      artifactsDir: dir,
      // A pass is due at every look: what is kept is kept by the rules, not by the clock.
      retention: { farmMs: 10 * DAY, intervalMs: 50, checkMs: 50, batch: 2 },
    });
  });
  after(async () => {
    await server.close();
    await t.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function rpc<T>(method: string, params: unknown, as = token): Promise<Answer<T>> {
    const response = await fetch(`${server.url}/rpc`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${as}` },
      body: JSON.stringify({ jsonrpc: '2.0', method, params, id: 1 }),
    });
    return (await response.json()) as Answer<T>;
  }
  async function call<T>(method: string, params: unknown): Promise<T> {
    const answer = await rpc<T>(method, params);
    if (!answer.result) throw new Error(`${method}: ${JSON.stringify(answer.error)}`);
    return answer.result;
  }

  async function waitFor(what: string, probe: () => Promise<boolean> | boolean): Promise<void> {
    const deadline = Date.now() + 20_000;
    while (!(await probe())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await sleep(50);
    }
  }

  const blobPath = (text: string) => join(dir, sha(text).slice(0, 2), sha(text));
  /** The bytes were written two hours ago: past the grace an upload under way is given. */
  const age = (text: string) => {
    const then = new Date(Date.now() - 2 * 3_600_000);
    utimesSync(blobPath(text), then, then);
  };
  const exists = (jobId: string) =>
    t.engine.getJob(jobId).then(
      () => true,
      () => false,
    );

  /** A job of `group` with one task that uploads `files` through the server; finished unless told. */
  async function jobWith(group: string, files: string[], finish = true) {
    const [lease] = await claimFresh(t.engine, 1, group);
    assert.ok(lease);
    for (const text of files) {
      await uploadArtifact({
        serverUrl: server.url,
        lease,
        name: `${sha(text).slice(0, 8)}.txt`,
        data: text,
      });
      age(text);
    }
    if (finish) await t.engine.complete([{ ...lease, result: null }]);
    return lease.task.jobId;
  }
  const endedDaysAgo = (jobId: string, days: number) =>
    t.engine.database.query(
      `UPDATE jobs SET finished_at = now() - $2 * interval '1 day' WHERE id = $1`,
      [jobId, days],
    );

  it('deletes old finished jobs and their files, keeps the rest, and lets a group keep its own time', async () => {
    const group = `sched-${process.pid}`;
    const old = await jobWith(group, ['old only', 'shared by old and kept']);
    const kept = await jobWith(group, ['shared by old and kept', 'kept only']);
    const running = await jobWith(group, ['running only'], false);
    const { job: queued } = await t.engine.submit({ group, taskType: `never.${process.pid}` });
    const short = await jobWith(`short-${process.pid}`, ['short only']);
    const long = await jobWith(`long-${process.pid}`, ['long only']);
    const shortGroup = await call<GroupRecord>('groups.setRetention', {
      name: `short-${process.pid}`,
      retention: 2 * DAY,
    });
    assert.equal(shortGroup.retention, 2 * DAY);
    await call('groups.setRetention', { name: `long-${process.pid}`, retention: 60 * DAY });
    const refused = await rpc('groups.setRetention', { name: group, retention: 'off' }, member);
    assert.equal(refused.error?.data?.code, 'DROVER_E_FORBIDDEN', 'retention is an admin’s');
    for (const id of [running, queued.id]) {
      await t.engine.database.query(
        `UPDATE jobs SET created_at = now() - interval '400 days' WHERE id = $1`,
        [id],
      );
    }
    await endedDaysAgo(old, 20);
    await endedDaysAgo(short, 5);
    await endedDaysAgo(long, 20);

    await waitFor('the passes to delete the old jobs and their files', async () => {
      if ((await exists(old)) || (await exists(short))) return false;
      return !existsSync(blobPath('old only')) && !existsSync(blobPath('short only'));
    });
    for (const text of ['shared by old and kept', 'kept only', 'running only', 'long only'])
      assert.ok(existsSync(blobPath(text)), `${text} stays on disk`);
    for (const id of [kept, running, queued.id, long])
      assert.ok(await exists(id), `${id} is not due, or not finished`);

    // As jobs.remove: the job's own topic keeps only the news that it is gone, its group's tells.
    // (On PostgreSQL an event is readable once every older transaction of the cluster ended.)
    const read = async (topic: string, until: (events: EventRecord[]) => boolean) => {
      let events: EventRecord[] = [];
      await waitFor(`the news on ${topic}`, async () => {
        events = (await call<{ events: EventRecord[] }>('events.read', { topic, after: '' }))
          .events;
        return until(events);
      });
      return events;
    };
    const own = await read(`job/${old}`, (events) => events.length > 0);
    assert.deepEqual(
      own.map((e) => e.kind),
      ['job.removed'],
    );
    const news = await read(`jobs/${group}`, (events) =>
      events.some((e) => e.kind === 'job.removed'),
    );
    assert.deepEqual(
      news.filter((e) => e.kind === 'job.removed').map((e) => e.subject),
      [old],
    );
    const passes = await t.engine.retentionHold.passes();
    assert.ok(passes.every((p) => p.scheduled && p.serverId === server.hub.serverId));
    assert.equal(
      passes.reduce((sum, p) => sum + p.jobs, 0),
      2,
    );
    assert.equal(
      passes.reduce((sum, p) => sum + p.bytes, 0),
      Buffer.byteLength('old only') + Buffer.byteLength('short only'),
    );
  });

  it('prunes now through retention.prune, counting first on a dry run', async () => {
    const group = `prune-${process.pid}`;
    const a = await jobWith(group, ['pruned a']);
    const b = await jobWith(group, ['pruned b', 'pruned a']);
    await endedDaysAgo(a, 3);
    await endedDaysAgo(b, 3);
    const dry = await call<PruneReport>('retention.prune', {
      olderThanMs: DAY,
      group,
      dryRun: true,
    });
    assert.deepEqual(dry, {
      jobs: 2,
      tasks: 2,
      events: dry.events,
      artifacts: 3,
      blobs: 2,
      bytes: Buffer.byteLength('pruned a') + Buffer.byteLength('pruned b'),
      dryRun: true,
    });
    assert.ok(await exists(a), 'a dry run deletes nothing');
    assert.ok(existsSync(blobPath('pruned a')));
    const bad = await rpc('retention.prune', { olderThanMs: -1, group });
    assert.equal(bad.error?.data?.code, 'DROVER_E_INVALID_PARAMS');
    const forbidden = await rpc('retention.prune', { olderThanMs: DAY, group }, member);
    assert.equal(forbidden.error?.data?.code, 'DROVER_E_FORBIDDEN');
    assert.ok(await exists(b), 'a refused prune deletes nothing');
    const done = await call<PruneReport>('retention.prune', { olderThanMs: DAY, group });
    assert.deepEqual({ ...done, dryRun: true }, dry, 'the dry run counted what then went');
    assert.equal(await exists(a), false);
    assert.equal(await exists(b), false);
    assert.equal(existsSync(blobPath('pruned a')), false, 'the bytes went at once');
    assert.equal(existsSync(blobPath('pruned b')), false);
  });
});
