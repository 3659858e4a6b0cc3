// Two server processes on one PostgreSQL database tick the same every-second schedule: each tick
// submits exactly one job, and the ticks go on, none lost and none twice, when one server dies.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { openTestEngine, sleep, tokenFor, uniqueType } from '@drover/engine/testing';
import type { TestEngine } from '@drover/engine/testing';
import type { JobRecord, ScheduleRecord } from '@drover/protocol';
import { spawnReplica } from './processes.js';
import type { TestProcess } from './processes.js';

describe('a schedule ticked by two server processes (postgres)', () => {
  let t: TestEngine;
  let token: string;
  const processes: TestProcess[] = [];

  before(async () => {
    t = await openTestEngine();
    token = await tokenFor(t.engine);
  });
  after(async () => {
    for (const p of processes) p.child.kill('SIGKILL');
    await t.close();
  });

  async function rpc<T>(url: string, method: string, params: unknown): Promise<T> {
    const response = await fetch(`${url}/rpc`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ jsonrpc: '2.0', method, params, id: 1 }),
    });
    const body = (await response.json()) as { result?: T; error?: { message: string } };
    if (!body.result) throw new Error(`${method}: ${body.error?.message ?? 'no result'}`);
    return body.result;
  }

  /** The jobs the schedule submitted, by tick, and the ticks in order. */
  async function ticksOf(
    schedule: ScheduleRecord,
  ): Promise<{ ticks: string[]; jobs: JobRecord[] }> {
    const jobs = (await t.engine.listJobs({ group: schedule.group, limit: 1000 })).filter((j) =>
      j.idempotencyKey?.startsWith(`schedule:${schedule.id}:`),
    );
    const ticks = jobs
      .map((j) => (j.idempotencyKey ?? '').slice(`schedule:${schedule.id}:`.length))
      .sort();
    return { ticks, jobs };
  }

  it('submits one job per tick, from whichever server, through the death of one', async () => {
    assert.ok(t.schema);
    const a = await spawnReplica(t.schema, 30_000);
    processes.push(a);
    const b = await spawnReplica(t.schema, 30_000);
    processes.push(b);
    const schedule = await rpc<ScheduleRecord>(a.said, 'schedules.add', {
      name: 'every-second',
      cron: '* * * * * *',
      overlap: 'queue',
      job: { group: 'ticks', taskType: uniqueType(), params: {} },
      allowUnknownType: true,
    });
    const waitForTicks = async (n: number) => {
      const deadline = Date.now() + 30_000;
      while ((await ticksOf(schedule)).ticks.length < n) {
        if (Date.now() > deadline) throw new Error(`fewer than ${n} ticks in 30 s`);
        await sleep(100);
      }
    };
    await waitForTicks(4);
    // One server dies at once; the other goes on ticking alone.
    a.child.kill('SIGKILL');
    const atDeath = (await ticksOf(schedule)).ticks.length;
    await waitForTicks(atDeath + 3);
    await rpc(b.said, 'schedules.pause', { name: schedule.name });

    const { ticks } = await ticksOf(schedule);
    assert.equal(new Set(ticks).size, ticks.length, 'no tick submitted twice');
    for (let i = 1; i < ticks.length; i++) {
      assert.equal(
        Date.parse(ticks[i] ?? '') - Date.parse(ticks[i - 1] ?? ''),
        1000,
        `a tick lost between ${ticks[i - 1]} and ${ticks[i]}`,
      );
    }
    // The first tick is the first second after the schedule was added.
    assert.ok(Date.parse(ticks[0] ?? '') - Date.parse(schedule.createdAt) <= 1000);
  });
});
