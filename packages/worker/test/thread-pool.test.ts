import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ArtifactRecord } from '@drover/protocol';
import { ThreadPool } from '../src/thread-pool.js';
import type { TaskContext } from '../src/index.js';
import { busyTask } from './fixtures/busy-task.js';

function context(signal = new AbortController().signal) {
  const seen: string[] = [];
  const ctx: TaskContext = {
    progress: (fraction, message) => seen.push(`progress ${fraction} ${message ?? ''}`),
    log: (line) => seen.push(`log ${line}`),
    artifact: (name, data) => {
      seen.push(`artifact ${name} ${Buffer.from(data).length > 0 ? 'with data' : 'empty'}`);
      return Promise.resolve({ name } as ArtifactRecord);
    },
    jobArtifacts: () => Promise.resolve([]),
    signal,
    attempt: 1,
    taskId: '1',
    jobId: '00000000-0000-4000-8000-000000000000',
  };
  return { ctx, seen };
}

/** The longest gap between ticks of a 20 ms timer while `work` runs. */
async function longestTimerGap(work: () => Promise<unknown>): Promise<number> {
  let last = Date.now();
  let longest = 0;
  const timer = setInterval(() => {
    const now = Date.now();
    longest = Math.max(longest, now - last);
    last = now;
  }, 20);
  try {
    await work();
  } finally {
    clearInterval(timer);
  }
  // A handler that blocks from its first instant lets no tick through at all.
  return Math.max(longest, Date.now() - last);
}

describe('the thread pool for CPU-bound task types', () => {
  it('keeps the event loop free while a handler spins, where running it in place would block it', async () => {
    const pool = new ThreadPool(1);
    try {
      const { ctx, seen } = context();
      let result: unknown;
      const inThread = await longestTimerGap(async () => {
        result = await pool.run(busyTask, ctx, { ms: 1000 });
      });
      assert.ok(inThread < 400, `timers waited ${inThread} ms while the handler ran in a thread`);
      assert.ok((result as { spins: number }).spins > 0);
      assert.deepEqual(seen, [
        'log spinning',
        'progress 1 done spinning',
        'artifact spins.txt with data',
        'log stored spins.txt',
      ]);
      const inPlace = await longestTimerGap(() =>
        Promise.resolve(busyTask.run(context().ctx, { ms: 1000 })),
      );
      assert.ok(inPlace >= 900, `the control: in place, timers waited ${inPlace} ms`);
    } finally {
      await pool.close();
    }
  });

  it('ends the thread when the task is cancelled', async () => {
    const pool = new ThreadPool(1);
    try {
      const controller = new AbortController();
      const started = Date.now();
      const running = pool.run(busyTask, context(controller.signal).ctx, { ms: 30_000 });
      setTimeout(() => controller.abort(new Error('cancelled')), 200);
      await assert.rejects(running);
      assert.ok(Date.now() - started < 5000, 'the 30-second spin was cut short');
    } finally {
      await pool.close();
    }
  });
});
