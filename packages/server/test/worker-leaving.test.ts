// A worker that shuts down in an orderly way (Ctrl-C, SIGTERM: Worker.stop) takes nothing new
// from the moment it begins, and what it gives back (unstarted, or stopped unfinished at its
// deadline) runs again without costing the task an attempt.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { z } from 'zod';
import { Worker, defineTask } from '@drover/worker';
import { backend, openTestEngine, sleep, tokenFor, uniqueType } from '@drover/engine/testing';
import type { TestEngine } from '@drover/engine/testing';
import { startServer } from '../src/index.js';
import type { DroverServer } from '../src/index.js';

describe(`a worker shutting down in an orderly way (${backend})`, () => {
  let t: TestEngine;
  let server: DroverServer;
  let workerToken: string;

  before(async () => {
    t = await openTestEngine();
    workerToken = await tokenFor(t.engine, { name: 'leaving workers', role: 'worker' });
    server = await startServer({ engine: t.engine, port: 0, leaseMs: 10_000, pollMs: 200 });
  });
  after(async () => {
    await server.close();
    await t.close();
  });

  function startWorker(taskType: string, slots: number): Worker {
    const steps = defineTask({
      name: taskType,
      params: z.object({ steps: z.int().min(1), stepMs: z.int().min(1) }),
      async run(ctx, { steps: n, stepMs }) {
        for (let step = 1; step <= n; step++) {
          await sleep(stepMs);
          ctx.signal.throwIfAborted();
          ctx.progress(step / n);
        }
        return { done: n };
      },
    });
    return new Worker({
      serverUrl: server.url,
      token: workerToken,
      name: uniqueType('leaving'),
      slots,
      tasks: [steps],
    });
  }

  async function until<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const value = await probe();
      if (value !== undefined) return value;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await sleep(50);
    }
  }

  it('finishes what it runs within its deadline, and takes nothing new while it does', async () => {
    const type = uniqueType('drain');
    const worker = startWorker(type, 1);
    const record = await worker.start();
    const { job } = await t.engine.submit({
      group: 'leaving',
      taskType: type,
      params: { steps: 10, stepMs: 50 },
      items: [{ i: 0 }, { i: 1 }],
    });
    await until('the first task to run', async () =>
      (await t.engine.listTasks(job.id)).some((task) => task.status === 'running')
        ? true
        : undefined,
    );
    await worker.stop(10_000);
    const tasks = await t.engine.listTasks(job.id);
    assert.deepEqual(
      tasks.map((task) => [task.status, task.attempt]).sort(),
      [
        ['queued', 0],
        ['succeeded', 1],
      ],
      'the running task finished; the other was not handed to the leaving worker',
    );
    // Draining while it left, offline once its socket closed.
    await until('the worker to be offline', async () =>
      (await t.engine.getWorker(record.id)).state === 'offline' ? true : undefined,
    );
  });

  it('gives back what is unfinished at its deadline, charging no attempt', async () => {
    const type = uniqueType('abandon');
    const worker = startWorker(type, 2);
    await worker.start();
    const { job } = await t.engine.submit({
      group: 'leaving',
      taskType: type,
      params: { steps: 1000, stepMs: 20 },
      items: [{ i: 0 }, { i: 1 }, { i: 2 }],
      maxAttempts: 1,
    });
    await until('two tasks to run', async () =>
      (await t.engine.listTasks(job.id)).filter((task) => task.status === 'running').length === 2
        ? true
        : undefined,
    );
    await worker.stop(300);
    const tasks = await until('the tasks given back', async () => {
      const now = await t.engine.listTasks(job.id);
      return now.every((task) => task.status === 'queued') ? now : undefined;
    });
    const ran = tasks.filter((task) => task.attempt === 1);
    assert.equal(ran.length, 2);
    for (const task of ran) {
      assert.equal(task.maxAttempts, 2, 'the attempt given back is not charged');
      const attempts = await t.engine.listAttempts(task.id);
      assert.deepEqual(
        attempts.map((a) => [a.status, a.error?.code]),
        [['released', 'DROVER_E_WORKER_RELEASED']],
      );
    }
  });
});
