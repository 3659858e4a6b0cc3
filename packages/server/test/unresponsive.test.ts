// A worker that hangs with its socket open (SIGSTOP) is unresponsive once two heartbeats are
// missed: it is offered nothing from then on, its tasks go to the others when its leases lapse,
// and it takes tasks again once it is heard again (SIGCONT).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { backend, openTestEngine, sleep, tokenFor, uniqueType } from '@drover/engine/testing';
import type { TestEngine } from '@drover/engine/testing';
import { startServer } from '../src/index.js';
import type { DroverServer } from '../src/index.js';
import { spawnWorker } from './processes.js';
import type { TestProcess } from './processes.js';

const LEASE_MS = 3000;

describe(`a worker that hangs (${backend})`, () => {
  let t: TestEngine;
  let server: DroverServer;
  let workerToken: string;
  const processes: TestProcess[] = [];

  before(async () => {
    t = await openTestEngine();
    workerToken = await tokenFor(t.engine, { name: 'hanging workers', role: 'worker' });
    server = await startServer({ engine: t.engine, port: 0, leaseMs: LEASE_MS, pollMs: 200 });
  });
  after(async () => {
    for (const p of processes) {
      p.child.kill('SIGCONT');
      p.child.kill('SIGKILL');
    }
    await server.close();
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

  it('is offered nothing while it hangs, and takes tasks again when it wakes', async () => {
    const hung = await spawnWorker(server.url, workerToken, uniqueType('hung'), 1);
    const other = await spawnWorker(server.url, workerToken, uniqueType('other'), 1);
    processes.push(hung, other);
    const { job } = await t.engine.submit({
      group: 'hangs',
      taskType: 'sleepy',
      params: { steps: 8, stepMs: 100 },
      items: Array.from({ length: 12 }, (_, n) => ({ n })),
    });
    await until('the worker to run a task', async () =>
      (await t.engine.listTasks(job.id)).some(
        (task) => task.status === 'running' && task.workerId === hung.said,
      )
        ? true
        : undefined,
    );
    hung.child.kill('SIGSTOP');
    const stoppedAt = Date.now();
    const attemptsOf = async (workerId: string) =>
      (
        await Promise.all(
          (await t.engine.listTasks(job.id)).map((task) => t.engine.listAttempts(task.id)),
        )
      )
        .flat()
        .filter((a) => a.workerId === workerId);
    const before = (await attemptsOf(hung.said)).length;
    await until('the worker to be unresponsive', async () =>
      (await t.engine.getWorker(hung.said)).state === 'unresponsive' ? true : undefined,
    );
    const unresponsiveMs = Date.now() - stoppedAt;
    // Three leases: its lease lapses, its slot is free, and still nothing is offered to it.
    await sleep(3 * LEASE_MS);
    const whileHung = await attemptsOf(hung.said);
    assert.equal(whileHung.length, before, 'no task was handed to the hung worker');
    assert.ok(
      whileHung.some((a) => a.status === 'lost'),
      "the hung worker's task was given up when its lease lapsed",
    );
    assert.equal((await t.engine.getWorker(hung.said)).state, 'unresponsive');
    console.log(
      `worker stopped → unresponsive (no more offers) in ${unresponsiveMs} ms (lease ${LEASE_MS} ms)`,
    );

    hung.child.kill('SIGCONT');
    await until('the worker to be online again', async () =>
      (await t.engine.getWorker(hung.said)).state === 'online' ? true : undefined,
    );
    await until('the job to end', async () =>
      (await t.engine.getJob(job.id)).status === 'succeeded' ? true : undefined,
    );
    for (const task of await t.engine.listTasks(job.id)) {
      const attempts = await t.engine.listAttempts(task.id);
      assert.equal(attempts.filter((a) => a.status === 'succeeded').length, 1, 'one outcome');
    }
  });
});
