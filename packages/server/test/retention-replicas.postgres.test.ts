// Two server processes on one PostgreSQL database, both looking every few milliseconds whether the
// farm's retention pass is due: one runs it at a time, each old job goes once, and prunes asked of
// both at once share the work without an error.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { PruneReport } from '@drover/protocol';
import {
  claimFresh,
  openTestEngine,
  readEventsUntil,
  sleep,
  tokenFor,
} from '@drover/engine/testing';
import type { TestEngine } from '@drover/engine/testing';
import { spawnReplica } from './processes.js';
import type { TestProcess } from './processes.js';

const DAY = 86_400_000;

describe('retention on two replicas (postgres)', () => {
  let t: TestEngine;
  let token: string;
  const replicas: TestProcess[] = [];

  before(async () => {
    t = await openTestEngine();
    token = await tokenFor(t.engine);
    assert.ok(t.schema);
    for (let i = 0; i < 2; i += 1) {
      replicas.push(
        await spawnReplica(t.schema, 30_000, {
          farmMs: 10 * DAY,
          intervalMs: 1,
          checkMs: 10,
          batch: 3,
        }),
      );
    }
  });
  after(async () => {
    for (const r of replicas) r.child.kill('SIGKILL');
    await t.close();
  });

  /** `count` finished jobs of `group` that ended `days` ago. */
  async function finishedJobs(group: string, count: number, days: number): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 0; i < count; i += 1) {
      const held = await claimFresh(t.engine, 1, group);
      await t.engine.complete(held.map((a) => ({ ...a, result: null })));
      ids.push(held[0]?.task.jobId ?? '');
    }
    await t.engine.database.query(
      `UPDATE jobs SET finished_at = now() - $2 * interval '1 day' WHERE id = ANY ($1::uuid[])`,
      [ids, days],
    );
    return ids;
  }

  async function until(what: string, probe: () => Promise<boolean>): Promise<void> {
    const deadline = Date.now() + 60_000;
    while (!(await probe())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await sleep(25);
    }
  }

  const left = async (ids: string[]) =>
    (
      await t.engine.database.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM jobs WHERE id = ANY ($1::uuid[])`,
        [ids],
      )
    )[0]?.n ?? -1;

  const errors = () =>
    replicas.flatMap((r) => r.output).filter((line) => line.includes('"level":50'));

  it('runs the scheduled pass on one replica at a time, each job deleted once', async () => {
    const group = `replicas-${process.pid}`;
    const all: string[] = [];
    // Waves, so that several passes run, on whichever replica takes each.
    for (let wave = 0; wave < 3; wave += 1) {
      const ids = await finishedJobs(group, 40, 20);
      all.push(...ids);
      await until(`wave ${wave} to go`, async () => (await left(ids)) === 0);
    }
    const removed = await readEventsUntil(
      t.engine,
      `jobs/${group}`,
      (events) => events.filter((e) => e.kind === 'job.removed').length >= all.length,
      { timeoutMs: 20_000 },
    );
    const subjects = removed.filter((e) => e.kind === 'job.removed').map((e) => e.subject);
    assert.equal(subjects.length, all.length, 'no job was removed twice');
    assert.deepEqual([...subjects].sort(), [...all].sort());

    // A pass is recorded as it ends, a moment after its last batch committed.
    const scheduled = async () =>
      (await t.engine.retentionHold.passes()).filter((p) => p.scheduled);
    await until('the passes to be recorded', async () => {
      return (await scheduled()).reduce((sum, p) => sum + p.jobs, 0) >= all.length;
    });
    const passes = await scheduled();
    assert.equal(
      passes.reduce((sum, p) => sum + p.jobs, 0),
      all.length,
    );
    assert.ok(passes.length >= 3, `one pass a wave at least, not ${passes.length}`);
    for (let i = 1; i < passes.length; i += 1) {
      const [before, next] = [passes[i - 1], passes[i]];
      assert.ok(before && next);
      assert.ok(
        Date.parse(next.startedAt) >= Date.parse(before.finishedAt),
        `pass ${next.id} (${next.serverId}) started at ${next.startedAt}, before pass ${before.id} (${before.serverId}) ended at ${before.finishedAt}`,
      );
    }
    assert.deepEqual(errors(), []);
  });

  it('shares a prune asked of both replicas at once, each job once and no error', async () => {
    const group = `prunes-${process.pid}`;
    // Younger than the farm's retention: only the prunes take them.
    const ids = await finishedJobs(group, 60, 3);
    const reports = await Promise.all(
      replicas.map(async (r) => {
        const response = await fetch(`${r.said}/rpc`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
          body: JSON.stringify({
            jsonrpc: '2.0',
            method: 'retention.prune',
            params: { olderThanMs: DAY, group },
            id: 1,
          }),
        });
        const answer = (await response.json()) as { result?: PruneReport; error?: unknown };
        assert.ok(answer.result, JSON.stringify(answer.error));
        return answer.result;
      }),
    );
    assert.equal(
      reports.reduce((sum, r) => sum + r.jobs, 0),
      ids.length,
    );
    assert.equal(await left(ids), 0);
    assert.deepEqual(errors(), []);
  });
});
