// Two replicas on one PostgreSQL database; one dies with its worker (a host lost at once, SIGKILL).
// The survivor marks that worker offline and puts its tasks back at their place in the queue,
// ahead of work submitted after them, and the farm finishes everything exactly once.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { openTestEngine, sleep, tokenFor, uniqueType } from '@drover/engine/testing';
import type { TestEngine } from '@drover/engine/testing';
import { startServer } from '../src/index.js';
import type { DroverServer } from '../src/index.js';
import { spawnReplica, spawnWorker } from './processes.js';
import type { TestProcess } from './processes.js';

const LEASE_MS = 3000;

describe('a replica that dies (postgres)', () => {
  let t: TestEngine;
  let survivor: DroverServer;
  let workerToken: string;
  const processes: TestProcess[] = [];

  before(async () => {
    t = await openTestEngine();
    workerToken = await tokenFor(t.engine, { name: 'replica workers', role: 'worker' });
    survivor = await startServer({ engine: t.engine, port: 0, leaseMs: LEASE_MS, pollMs: 200 });
  });
  after(async () => {
    for (const p of processes) p.child.kill('SIGKILL');
    await survivor.close();
    await t.close();
  });

  async function until<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const value = await probe();
      if (value !== undefined) return value;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await sleep(25);
    }
  }

  it('releases its workers within a lease and runs their tasks first, each once', async () => {
    assert.ok(t.schema);
    const doomed = await spawnReplica(t.schema, LEASE_MS);
    processes.push(doomed);
    const stranded = await spawnWorker(doomed.said, workerToken, uniqueType('stranded'), 2);
    processes.push(stranded);
    const steady = await spawnWorker(survivor.url, workerToken, uniqueType('steady'), 1);
    processes.push(steady);
    // The survivor's worker is busy elsewhere until the stranded worker holds both tasks.
    await t.engine.holdWorker(steady.said, 'draining');
    survivor.hub.workerChanged(await t.engine.getWorker(steady.said));

    const { job: first } = await t.engine.submit({
      group: 'replicas',
      taskType: 'sleepy',
      params: { steps: 20, stepMs: 100 },
      items: [{ n: 1 }, { n: 2 }],
    });
    await until('the stranded worker to run both tasks', async () => {
      const tasks = await t.engine.listTasks(first.id);
      return tasks.every((task) => task.status === 'running' && task.workerId === stranded.said)
        ? true
        : undefined;
    });

    doomed.child.kill('SIGKILL');
    stranded.child.kill('SIGKILL');
    const killedAt = Date.now();
    // Work submitted after the stranded tasks, which the survivor's worker starts on at once.
    const { job: later } = await t.engine.submit({
      group: 'replicas',
      taskType: 'sleepy',
      params: { steps: 30, stepMs: 100 },
      items: [{ n: 1 }, { n: 2 }, { n: 3 }, { n: 4 }],
    });
    survivor.hub.workerChanged(await t.engine.holdWorker(steady.said, null));

    await until('the stranded worker to be offline', async () =>
      (await t.engine.getWorker(stranded.said)).state === 'offline' ? true : undefined,
    );
    const offlineMs = Date.now() - killedAt;
    await until('a stranded task to run again', async () =>
      (await t.engine.listTasks(first.id)).some(
        (task) => task.status === 'running' && task.workerId === steady.said,
      )
        ? true
        : undefined,
    );
    const rerunMs = Date.now() - killedAt;
    console.log(
      `replica killed → its worker offline in ${offlineMs} ms, its task running on a survivor's worker in ${rerunMs} ms (lease ${LEASE_MS} ms)`,
    );

    await until('both jobs to end', async () => {
      const jobs = await Promise.all([t.engine.getJob(first.id), t.engine.getJob(later.id)]);
      return jobs.every((job) => job.status === 'succeeded') ? true : undefined;
    });
    // The stranded tasks went back at their place: both ran before the later job's last tasks.
    const started = async (jobId: string) =>
      Promise.all(
        (await t.engine.listTasks(jobId)).map(async (task) => {
          const attempts = await t.engine.listAttempts(task.id);
          assert.deepEqual(
            attempts.filter((a) => a.status === 'succeeded').length,
            1,
            'one outcome per task',
          );
          return Date.parse(attempts.at(-1)?.startedAt ?? '');
        }),
      );
    const rerun = await started(first.id);
    const afterThem = (await started(later.id)).sort((a, b) => a - b);
    assert.ok(
      Math.max(...rerun) < (afterThem[2] ?? 0),
      'the stranded tasks ran before the work submitted after them',
    );
    for (const task of await t.engine.listTasks(first.id)) {
      const attempts = await t.engine.listAttempts(task.id);
      assert.deepEqual(
        attempts.map((a) => [a.status, a.workerId]),
        [
          ['lost', stranded.said],
          ['succeeded', steady.said],
        ],
      );
    }
  });
});
