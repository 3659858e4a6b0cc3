// The farm's overview over JSON-RPC, with a real worker process running a job: the servers'
// samples (farm.history), the farm now (farm.overview, as each caller may see it) and a job's
// attempts across workers (jobs.timeline).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import type { FarmHistory, FarmOverview, JobRecord, JobTimeline } from '@drover/protocol';
import { backend, openTestEngine, sleep, tokenFor } from '@drover/engine/testing';
import type { TestEngine } from '@drover/engine/testing';
import { startServer } from '../src/index.js';
import type { DroverServer } from '../src/index.js';

const fixture = new URL('./fixtures/worker-process.js', import.meta.url).pathname;

interface Answer<T> {
  result?: T;
  error?: { code: number; message: string; data?: { code: string } };
}

describe(`the farm's overview over JSON-RPC (${backend})`, () => {
  let t: TestEngine;
  let server: DroverServer;
  const tokens: Record<string, string> = {};
  let worker: ChildProcess;

  before(async () => {
    t = await openTestEngine();
    tokens.admin = await tokenFor(t.engine);
    tokens.reader = await tokenFor(t.engine, {
      name: 'reader',
      role: 'member',
      groups: { overview: 'read' },
    });
    tokens.outsider = await tokenFor(t.engine, {
      name: 'outsider',
      role: 'member',
      groups: { elsewhere: 'write' },
    });
    const workerToken = await tokenFor(t.engine, { name: 'overview workers', role: 'worker' });
    server = await startServer({
      engine: t.engine,
      port: 0,
      pollMs: 500,
      history: { sampleMs: 250 },
    });
    worker = spawn(process.execPath, [fixture, server.url, 'overview-worker', '2'], {
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

  async function rpc<T>(method: string, params: unknown, as = 'admin'): Promise<Answer<T>> {
    const response = await fetch(`${server.url}/rpc`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${tokens[as]}` },
      body: JSON.stringify({ jsonrpc: '2.0', method, params, id: 1 }),
    });
    return (await response.json()) as Answer<T>;
  }
  async function call<T>(method: string, params: unknown, as = 'admin'): Promise<T> {
    const answer = await rpc<T>(method, params, as);
    if (!answer.result) throw new Error(`${method}: ${JSON.stringify(answer.error)}`);
    return answer.result;
  }
  async function waitFor<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const value = await probe();
      if (value !== undefined) return value;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await sleep(50);
    }
  }

  it('shows the task a worker runs, its job, to those who may read its group', async () => {
    const { job } = await call<{ job: JobRecord }>('jobs.submit', {
      group: 'overview',
      name: 'slow frames',
      taskType: 'sleepy',
      params: { steps: 20, stepMs: 100 },
      items: [{}, {}],
    });
    const overview = await waitFor('the worker running a task', async () => {
      const o = await call<FarmOverview>('farm.overview', {});
      const w = o.workers.find((x) => x.name === 'overview-worker');
      return w && w.tasks.length > 0 ? o : undefined;
    });
    const row = overview.workers.find((x) => x.name === 'overview-worker');
    assert.ok(row);
    assert.equal(row.tasks[0]?.jobId, job.id);
    assert.equal(row.tasks[0]?.jobName, 'slow frames');
    assert.ok(
      overview.running >= 1 && overview.workersBusy === 1,
      JSON.stringify({
        running: overview.running,
        busy: overview.workersBusy,
        workers: overview.workers,
      }),
    );
    assert.equal(overview.workerStates.online, 1);

    // A reader of the group sees the same; a member of another group sees the worker busy, but
    // neither the task nor its job.
    const reader = await call<FarmOverview>('farm.overview', {}, 'reader');
    assert.equal(reader.workers.find((x) => x.name === 'overview-worker')?.tasks[0]?.jobId, job.id);
    const outsider = await call<FarmOverview>('farm.overview', {}, 'outsider');
    const seen = outsider.workers.find((x) => x.name === 'overview-worker');
    assert.ok(seen);
    assert.deepEqual(seen.tasks, []);
    assert.ok(seen.hiddenTasks >= 1);
    assert.ok(!JSON.stringify(outsider).includes(job.id));

    // The job's timeline: one bar per attempt, on the worker that runs it. Not for outsiders.
    const timeline = await call<JobTimeline>('jobs.timeline', { id: job.id }, 'reader');
    assert.ok(timeline.attempts.length >= 1);
    assert.ok(timeline.attempts.every((a) => a.workerName === 'overview-worker'));
    const refused = await rpc('jobs.timeline', { id: job.id }, 'outsider');
    assert.equal(refused.error?.data?.code, 'DROVER_E_NOT_FOUND');
    const bad = await rpc('jobs.timeline', { id: 'nope' });
    assert.equal(bad.error?.data?.code, 'DROVER_E_INVALID_PARAMS');
    await call('jobs.cancel', { id: job.id });
  });

  it("keeps the farm's history: the tasks a run finished are in the samples", async () => {
    const since = new Date().toISOString();
    const { job } = await call<{ job: JobRecord }>('jobs.submit', {
      group: 'overview',
      taskType: 'sleepy',
      params: { steps: 1, stepMs: 10 },
      items: Array.from({ length: 6 }, () => ({})),
    });
    await waitFor('the job to succeed', async () =>
      (await t.engine.getJob(job.id)).status === 'succeeded' ? true : undefined,
    );
    const history = await waitFor('the samples to count the six tasks', async () => {
      const h = await call<FarmHistory>('farm.history', { since, step: 250 });
      return h.samples.reduce((n, s) => n + s.succeeded, 0) >= 6 ? h : undefined;
    });
    assert.equal(history.step, 250);
    assert.equal(
      history.samples.reduce((n, s) => n + s.succeeded, 0),
      6,
      'each finished task is counted in one interval',
    );
    assert.ok(history.samples.every((s) => s.failed === 0 && s.workersOnline === 1));
    const times = history.samples.map((s) => Date.parse(s.at));
    assert.equal(new Set(times).size, times.length, 'one sample per interval');
    const outsider = await call<FarmHistory>('farm.history', { since }, 'outsider');
    assert.ok(Array.isArray(outsider.samples));
    const bad = await rpc('farm.history', { since: 'yesterday' });
    assert.equal(bad.error?.data?.code, 'DROVER_E_INVALID_PARAMS');
  });
});
