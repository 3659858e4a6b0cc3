// Jobs and groups edited while a real worker process runs them, through the JSON-RPC methods.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import type { GroupRecord, JobRecord, TaskRecord } from '@drover/protocol';
import { backend, openTestEngine, readEventsUntil, sleep, tokenFor } from '@drover/engine/testing';
import type { TestEngine } from '@drover/engine/testing';
import { startServer } from '../src/index.js';
import type { DroverServer } from '../src/index.js';

const fixture = new URL('./fixtures/worker-process.js', import.meta.url).pathname;

interface Answer<T> {
  result?: T;
  error?: { code: number; message: string; data?: { code: string } };
}

describe(`jobs and groups edited while they run (${backend})`, () => {
  let t: TestEngine;
  let server: DroverServer;
  let token: string;
  let worker: ChildProcess;

  before(async () => {
    t = await openTestEngine();
    token = await tokenFor(t.engine);
    const workerToken = await tokenFor(t.engine, { name: 'edit workers', role: 'worker' });
    server = await startServer({ engine: t.engine, port: 0, leaseMs: 10_000, pollMs: 500 });
    worker = spawn(process.execPath, [fixture, server.url, 'edit-worker', '2'], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, DROVER_TOKEN: workerToken },
    });
    await new Promise<void>((resolve, reject) => {
      worker.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
        if (/^ready /m.test(chunk)) resolve();
      });
      worker.once('exit', (code) => reject(new Error(`the worker exited with ${code}`)));
    });
  });
  after(async () => {
    worker.kill('SIGKILL');
    await server.close();
    await t.close();
  });

  async function rpc<T>(method: string, params: unknown): Promise<Answer<T>> {
    const response = await fetch(`${server.url}/rpc`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ jsonrpc: '2.0', method, params, id: 1 }),
    });
    return (await response.json()) as Answer<T>;
  }
  async function call<T>(method: string, params: unknown): Promise<T> {
    const answer = await rpc<T>(method, params);
    if (!answer.result) throw new Error(`${method}: ${JSON.stringify(answer.error)}`);
    return answer.result;
  }

  async function waitFor<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const value = await probe();
      if (value !== undefined) return value;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await sleep(50);
    }
  }
  const jobWhere = (id: string, done: (job: JobRecord) => boolean) =>
    waitFor(`job ${id}`, async () => {
      const job = await t.engine.getJob(id);
      return done(job) ? job : undefined;
    });
  const started = async (id: string) =>
    (await t.engine.listTasks(id)).filter((task: TaskRecord) => task.attempt > 0).length;

  it('lets running tasks finish and starts no other until the job is resumed', async () => {
    const { job } = await call<{ job: JobRecord }>('jobs.submit', {
      group: 'edit',
      taskType: 'sleepy',
      params: { stepMs: 150 },
      items: Array.from({ length: 6 }, () => ({ steps: 4 })),
    });
    await jobWhere(job.id, (j) => j.counts.running + j.counts.leased > 0);
    const head = await t.engine.headCursor(`jobs/edit`);
    const paused = await call<{ job: JobRecord }>('jobs.pause', { id: job.id });
    assert.equal(paused.job.paused, true);
    const runningAtPause = await started(job.id);
    assert.ok(runningAtPause >= 1 && runningAtPause <= 2, 'at most the worker’s two slots');
    // The tasks held at the pause finish; nothing else starts meanwhile.
    const drained = await jobWhere(job.id, (j) => j.counts.running + j.counts.leased === 0);
    assert.equal(drained.counts.succeeded, runningAtPause);
    await sleep(1000);
    assert.equal(await started(job.id), runningAtPause, 'no task started while paused');
    await readEventsUntil(
      t.engine,
      'jobs/edit',
      (events) => events.some((e) => e.kind === 'job.updated' && e.data.paused),
      { after: head },
    );

    const resumed = await call<{ job: JobRecord }>('jobs.resume', { id: job.id });
    assert.equal(resumed.job.paused, false);
    const done = await jobWhere(job.id, (j) => j.status === 'succeeded');
    assert.equal(done.counts.succeeded, 6);
  });

  it('extends a finished job, which runs again to its end; a wrong shape is refused', async () => {
    const { job } = await call<{ job: JobRecord }>('jobs.submit', {
      group: 'edit',
      taskType: 'sleepy',
      params: { steps: 1, stepMs: 10 },
      frames: { start: 1, end: 2 },
    });
    await jobWhere(job.id, (j) => j.status === 'succeeded');
    const wrong = await rpc('jobs.extend', { id: job.id, items: [{ steps: 1 }] });
    assert.equal(wrong.error?.data?.code, 'DROVER_E_INVALID_PARAMS');
    assert.match(wrong.error?.message ?? '', /give frames, not items/);
    const missing = await rpc('jobs.extend', { id: job.id });
    assert.equal(missing.error?.code, -32602);
    const { job: extended, added } = await call<{ job: JobRecord; added: number }>('jobs.extend', {
      id: job.id,
      frames: { start: 3, end: 5 },
    });
    assert.equal(added, 3);
    assert.equal(extended.status, 'running');
    const done = await jobWhere(job.id, (j) => j.status === 'succeeded');
    assert.equal(done.taskCount, 5);
    assert.equal(done.progress, 1);
    const tasks = await t.engine.listTasks(job.id);
    assert.deepEqual(
      tasks.map((task) => [task.index, task.params.frame, task.status]),
      [1, 2, 3, 4, 5].map((frame, index) => [index, frame, 'succeeded']),
    );
  });

  it('pauses a group, its jobs to come included, and resumes it', async () => {
    const group = `edit-group-${backend}`;
    const paused = await call<{ group: GroupRecord; changed: number }>('groups.pause', {
      name: group,
    });
    assert.equal(paused.group.paused, true);
    const { job } = await call<{ job: JobRecord }>('jobs.submit', {
      group,
      taskType: 'sleepy',
      params: { stepMs: 10 },
      items: [{ steps: 1 }, { steps: 2 }],
    });
    assert.equal(job.paused, true);
    await sleep(1000);
    assert.equal(await started(job.id), 0, 'nothing of a paused group starts');
    const resumed = await call<{ group: GroupRecord; changed: number }>('groups.resume', {
      name: group,
    });
    assert.deepEqual([resumed.group.paused, resumed.changed], [false, 1]);
    await jobWhere(job.id, (j) => j.status === 'succeeded');
    const record = await call<GroupRecord>('groups.get', { name: group });
    assert.deepEqual([record.taskCount, record.taskCounts.succeeded, record.progress], [2, 2, 1]);
  });

  it("changes a job's waiting tasks and refuses an empty change", async () => {
    const { job } = await call<{ job: JobRecord }>('jobs.submit', {
      group: 'edit',
      taskType: 'sleepy',
      params: { stepMs: 10 },
      items: [{ steps: 1 }, { steps: 2 }],
    });
    await call('jobs.pause', { id: job.id });
    const { updated, job: after } = await call<{ job: JobRecord; updated: number }>('jobs.update', {
      id: job.id,
      maxAttempts: 5,
      timeoutMs: 20_000,
      priority: 7,
    });
    assert.equal(after.priority, 7);
    assert.ok(updated <= 2);
    const empty = await rpc('jobs.update', { id: job.id });
    assert.equal(empty.error?.data?.code, 'DROVER_E_INVALID_PARAMS');
    // New items are checked against the task type's schema, as a submission's are.
    const bad = await rpc<{ job: JobRecord }>('jobs.extend', { id: job.id, items: [{ steps: 0 }] });
    assert.equal(bad.error?.code, -32602);
    assert.match(bad.error?.message ?? '', /items\.0\.steps/);
    assert.equal((await t.engine.getJob(job.id)).taskCount, 2, 'nothing was added');
    await call('jobs.resume', { id: job.id });
    await jobWhere(job.id, (j) => j.status === 'succeeded');
    const tasks = await t.engine.listTasks(job.id);
    // A task claimed between the submission and the pause keeps what it started with.
    assert.ok(
      tasks.filter((task) => task.maxAttempts === 5 && task.timeoutMs === 20_000).length >= updated,
    );
  });
});
