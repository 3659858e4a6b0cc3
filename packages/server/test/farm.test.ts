import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import type { ChildProcess } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import type { JobRecord, TaskRecord } from '@drover/protocol';
import { backend, openTestEngine, readEventsUntil, sleep, tokenFor } from '@drover/engine/testing';
import type { TestEngine } from '@drover/engine/testing';
import { startServer } from '../src/index.js';
import type { DroverServer } from '../src/index.js';

const fixture = new URL('./fixtures/worker-process.js', import.meta.url).pathname;

interface WorkerProcess {
  name: string;
  child: ChildProcess;
  id: string;
  output: string[];
}

describe(`a farm of worker processes (${backend})`, () => {
  let t: TestEngine;
  let server: DroverServer;
  let port = 0;
  /** An admin token, for calls over HTTP. */
  let token: string;
  /** A worker-role token, for the worker processes. */
  let workerToken: string;
  const processes: WorkerProcess[] = [];

  async function start(): Promise<void> {
    server = await startServer({
      engine: t.engine,
      port,
      // Long enough that a loaded machine never lets a lease lapse during a restart.
      leaseMs: 10_000,
      pollMs: 500,
    });
    port = Number(new URL(server.url).port);
  }

  before(async () => {
    t = await openTestEngine();
    token = await tokenFor(t.engine);
    workerToken = await tokenFor(t.engine, { name: 'farm workers', role: 'worker' });
    await start();
  });
  after(async () => {
    for (const p of processes) p.child.kill('SIGKILL');
    await server.close();
    await t.close();
  });

  function spawnWorker(name: string, slots = 1): Promise<WorkerProcess> {
    // The token goes in the environment: argv is visible to every local user.
    const child = spawn(process.execPath, [fixture, server.url, name, String(slots)], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, DROVER_TOKEN: workerToken },
    });
    const output: string[] = [];
    return new Promise((resolve, reject) => {
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        for (const line of chunk.split('\n').filter(Boolean)) {
          output.push(line);
          const ready = /^ready (\S+)$/.exec(line);
          if (ready?.[1]) {
            const p = { name, child, id: ready[1], output };
            processes.push(p);
            resolve(p);
          }
        }
      });
      child.once('exit', (code) =>
        reject(new Error(`worker ${name} exited with ${code} before it was ready`)),
      );
    });
  }

  async function waitFor<T>(
    what: string,
    probe: () => Promise<T | undefined>,
    timeoutMs = 15_000,
  ): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await probe();
      if (value !== undefined) return value;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await sleep(50);
    }
  }

  const finished = (jobId: string) =>
    waitFor(`job ${jobId} to finish`, async () => {
      const job = await t.engine.getJob(jobId);
      return ['succeeded', 'failed', 'cancelled'].includes(job.status) ? job : undefined;
    });

  it('runs a job across two worker processes, with progress and logs', async () => {
    const [a, b] = await Promise.all([spawnWorker('w-a', 2), spawnWorker('w-b', 2)]);
    const { job } = await t.engine.submit({
      group: 'farm',
      taskType: 'sleepy',
      params: { steps: 3, stepMs: 100 },
      items: Array.from({ length: 8 }, (_, i) => ({ i })),
    });
    const done: JobRecord = await finished(job.id);
    assert.equal(done.status, 'succeeded');
    assert.equal(done.progress, 1);
    const tasks = await t.engine.listTasks(job.id);
    const by = new Set(tasks.map((task) => (task.result as { by: string }).by));
    assert.deepEqual([...by].sort(), [a.name, b.name], 'both workers ran tasks');
    const first = tasks[0];
    assert.ok(first);
    assert.equal(first.message, 'step 3 of 3');
    // On PostgreSQL events are readable once older writers elsewhere on the server have ended.
    const log = await readEventsUntil(
      t.engine,
      `task/${first.id}/log`,
      (events) =>
        events.reduce((n, e) => n + (e.data as { lines: unknown[] }).lines.length, 0) >= 3,
    );
    const lines = log.flatMap((e) =>
      (e.data as { lines: { line: string }[] }).lines.map((l) => l.line),
    );
    assert.equal(lines.length, 3);
  });

  it('checks params at submission against the schema the workers described, storing nothing bad', async () => {
    const describer = await spawnWorker('w-schema', 1);
    const rpc = async (method: string, params: unknown) => {
      const response = await fetch(`${server.url}/rpc`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ jsonrpc: '2.0', method, params, id: 1 }),
      });
      return (await response.json()) as {
        result?: Record<string, unknown>;
        error?: { code: number; data?: { code: string; details?: { path: string }[] } };
      };
    };
    const { result } = await rpc('taskTypes.list', {});
    const types = result?.taskTypes as { name: string; paramsSchema: unknown; workers: number }[];
    const sleepy = types.find((type) => type.name === 'sleepy');
    assert.ok(sleepy, 'the worker described its task types');
    assert.ok(sleepy.workers >= 1);
    assert.deepEqual(Object.keys((sleepy.paramsSchema as { properties: object }).properties), [
      'steps',
      'stepMs',
    ]);
    const group = 'farm-params';
    const bad = await rpc('jobs.submit', { group, taskType: 'sleepy', params: { steps: 0 } });
    assert.equal(bad.error?.code, -32602);
    assert.deepEqual(
      bad.error.data?.details?.map((d) => d.path),
      ['params.steps'],
    );
    const badItem = await rpc('jobs.submit', {
      group,
      taskType: 'sleepy',
      params: { stepMs: 1 },
      items: [{ steps: 1 }, { steps: 'many' }],
    });
    assert.deepEqual(
      badItem.error?.data?.details?.map((d) => d.path),
      ['items.1.steps'],
    );
    assert.deepEqual(await t.engine.listJobs({ group }), [], 'nothing was stored');
    const good = await rpc('jobs.submit', {
      group,
      taskType: 'sleepy',
      params: { steps: 2, stepMs: 1 },
    });
    assert.ok(good.result, 'valid params are accepted');
    const unknown = await rpc('jobs.submit', {
      group,
      taskType: 'nobody.offers.this',
      params: { anything: 1 },
      allowUnknownType: true,
    });
    assert.ok(unknown.result, 'a task type no worker has described is not checked');
    describer.child.kill('SIGKILL');
    // Gone for the server too before the next test, so no task of it is offered to a dead worker.
    await waitFor('the describing worker to go offline', async () =>
      (await t.engine.getWorker(describer.id)).state === 'offline' ? true : undefined,
    );
  });

  it('finishes the task of a worker killed with SIGKILL on another worker, as attempt 2', async () => {
    const { job } = await t.engine.submit({
      group: 'farm',
      taskType: 'sleepy',
      params: { steps: 20, stepMs: 100 },
      backoff: { initialMs: 0, maxMs: 0 },
    });
    const running: TaskRecord = await waitFor('the task to run', async () => {
      const [task] = await t.engine.listTasks(job.id);
      return task?.status === 'running' && task.progress > 0 ? task : undefined;
    });
    const victim = processes.find((p) => p.id === running.workerId);
    assert.ok(victim, 'the task runs on one of the workers');
    victim.child.kill('SIGKILL');
    const done = await finished(job.id);
    assert.equal(done.status, 'succeeded');
    const [task] = await t.engine.listTasks(job.id);
    assert.ok(task);
    assert.equal(task.attempt, 2);
    assert.notEqual((task.result as { by: string }).by, victim.name);
    const attempts = await t.engine.listAttempts(task.id);
    assert.deepEqual(
      attempts.map((x) => x.status),
      ['lost', 'succeeded'],
      'nothing ran a third time',
    );
  });

  it('keeps the identity of a worker restarted under the same name, and brings it back online', async () => {
    const victim = processes.find((p) => p.child.exitCode === null && p.child.signalCode === null);
    assert.ok(victim);
    victim.child.kill('SIGKILL');
    await waitFor('the worker to go offline', async () =>
      (await t.engine.getWorker(victim.id)).state === 'offline' ? true : undefined,
    );
    const again = await spawnWorker(victim.name, 2);
    assert.equal(again.id, victim.id);
    assert.equal((await t.engine.getWorker(victim.id)).state, 'online');
  });

  it('survives a server restart while workers run: they reconnect and every task ends once', async () => {
    await spawnWorker('w-c', 2);
    const { job } = await t.engine.submit({
      group: 'farm',
      taskType: 'sleepy',
      params: { steps: 10, stepMs: 100 },
      items: Array.from({ length: 4 }, (_, i) => ({ i })),
    });
    await waitFor('tasks to run', async () =>
      (await t.engine.getJob(job.id)).counts.running > 0 ? true : undefined,
    );
    await server.close();
    await sleep(500);
    await start();
    const done = await finished(job.id);
    assert.equal(done.status, 'succeeded');
    for (const task of await t.engine.listTasks(job.id)) {
      const attempts = await t.engine.listAttempts(task.id);
      assert.deepEqual(
        attempts.map((x) => x.status),
        ['succeeded'],
        `task ${task.id} ran once, re-attached after the restart`,
      );
    }
  });

  it('stops a cancelled shell task: its whole process group is gone within the grace period plus 1 s', async () => {
    if (!processes.some((p) => p.child.exitCode === null && p.child.signalCode === null))
      await spawnWorker('w-d');
    const { job } = await t.engine.submit({ group: 'farm', taskType: 'stubborn.shell' });
    const [task] = await t.engine.listTasks(job.id);
    assert.ok(task);
    const pgid = await waitFor('the command to print its process group', async () => {
      const { events } = await t.engine.readEvents({ topic: `task/${task.id}/log`, after: '' });
      const line = events
        .flatMap((e) => (e.data as { lines: { line: string }[] }).lines)
        .find((l) => l.line.startsWith('pgid'));
      return line ? Number(line.line.split(' ')[1]) : undefined;
    });
    assert.ok(liveMembers(pgid) > 0);
    const cancelledAt = Date.now();
    const result = await t.engine.cancelJob(job.id, 'no longer needed');
    server.hub.stopTasks(result.toStop, 'no longer needed');
    await waitFor(
      'the process group to be gone',
      () => Promise.resolve(liveMembers(pgid) === 0 ? true : undefined),
      5000,
    );
    const elapsed = Date.now() - cancelledAt;
    assert.ok(elapsed <= 500 + 1000, `gone after ${elapsed} ms`);
    const done = await finished(job.id);
    assert.equal(done.status, 'cancelled');
    const [attempt] = await t.engine.listAttempts(task.id);
    assert.equal(attempt?.status, 'cancelled');
  });
});

/** Processes of a group still running (zombies waiting to be reaped do not count). */
function liveMembers(pgid: number): number {
  let live = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(entry)) continue;
    try {
      // Fields after the command name (which may hold spaces) start at ") ": state, ppid, pgrp.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const [state, , pgrp] = stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
      if (Number(pgrp) === pgid && state !== 'Z') live += 1;
    } catch {
      // The process ended while we looked.
    }
  }
  return live;
}
