import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { mulberry32, randomJuliaParams } from '@drover/example-fractal';
import { openEngine } from '@drover/engine';
import type { Engine } from '@drover/engine';
import type { JobRecord } from '@drover/protocol';
import { backend, openTestEngine, sleep, tokenFor } from '@drover/engine/testing';
import type { TestEngine } from '@drover/engine/testing';
import { startServer } from '@drover/server';
import type { DroverServer } from '@drover/server';

const cli = new URL('../src/main.js', import.meta.url).pathname;
const sha = (data: Buffer) => createHash('sha256').update(data).digest('hex');

/** Small Julia renders, the producer's recipe at a size that keeps the test quick. */
function renders(count: number, seed: number, size = 96): Record<string, unknown>[] {
  const random = mulberry32(seed);
  return Array.from({ length: count }, () => ({
    ...randomJuliaParams(random),
    width: size,
    height: size,
    iterations: 128,
  }));
}

// Two farms on loopback: "home", where jobs are submitted (on PostgreSQL in the PostgreSQL
// suite), and "remote", an embedded farm whose worker process is the only one: home forwards its
// site jobs there and mirrors them back.
describe(`sites: a job forwarded to another farm and mirrored back (home on ${backend})`, () => {
  let home: TestEngine;
  let homeServer: DroverServer;
  let homeToken: string;
  let remote: Engine;
  let remoteServer: DroverServer;
  let remotePort = 0;
  let remoteToken: string;
  let dir: string;
  const children: ChildProcess[] = [];

  async function startRemote(): Promise<void> {
    remote = await openEngine({ dataDir: join(dir, 'remote') });
    remoteServer = await startServer({
      engine: remote,
      port: remotePort,
      pollMs: 500,
      leaseMs: 10_000,
      artifactsDir: join(dir, 'remote', 'artifacts'),
    });
    remotePort = Number(new URL(remoteServer.url).port);
  }

  async function stopRemote(): Promise<void> {
    await remoteServer.close();
    await remote.close();
  }

  async function rpc(method: string, params: unknown, token = homeToken): Promise<unknown> {
    const response = await fetch(`${homeServer.url}/rpc`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
    });
    const body = (await response.json()) as {
      result?: unknown;
      error?: { message: string; data: { code: string } };
    };
    if (body.error) throw Object.assign(new Error(body.error.message), body.error.data);
    return body.result;
  }

  async function until<T>(
    what: string,
    probe: () => Promise<T | undefined>,
    timeoutMs = 60_000,
  ): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await probe();
      if (value !== undefined) return value;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await sleep(100);
    }
  }

  const finished = (jobId: string) =>
    until(`job ${jobId} to finish here`, async () => {
      const job = await home.engine.getJob(jobId);
      return ['succeeded', 'failed', 'cancelled'].includes(job.status) ? job : undefined;
    });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'drover-sites-'));
    home = await openTestEngine();
    homeToken = await tokenFor(home.engine);
    await startRemote();
    // The token the remote farm made for home: a member of the one group it forwards.
    remoteToken = await tokenFor(remote, {
      name: 'home farm',
      role: 'member',
      groups: { fractals: 'write' },
    });
    const workerToken = await tokenFor(remote, { name: 'remote workers', role: 'worker' });
    const worker = spawn(
      process.execPath,
      [cli, 'worker', '--server', remoteServer.url, '--name', 'remote-1', '--slots', '2'],
      {
        env: { ...process.env, DROVER_TOKEN: workerToken },
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    children.push(worker);
    await new Promise<void>((resolve, reject) => {
      worker.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        if (chunk.includes('joined')) resolve();
      });
      worker.once('exit', (code) => reject(new Error(`the remote worker exited with ${code}`)));
    });
    homeServer = await startServer({
      engine: home.engine,
      port: 0,
      pollMs: 500,
      artifactsDir: join(dir, 'home-artifacts'),
      sites: { tickMs: 200, reconnect: { initialMs: 100, maxMs: 1000 } },
    });
  });
  after(async () => {
    for (const child of children) child.kill('SIGKILL');
    await homeServer.close();
    await stopRemote();
    await home.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('adds a site whose token no method returns, and refuses an unknown site naming the known', async () => {
    const added = await rpc('sites.add', {
      name: 'remote',
      url: remoteServer.url,
      token: remoteToken,
    });
    assert.equal((added as { name: string }).name, 'remote');
    const listed = await rpc('sites.list', {});
    for (const answer of [added, listed])
      assert.ok(!JSON.stringify(answer).includes(remoteToken), 'the token is never returned');
    await assert.rejects(
      rpc('sites.add', { name: 'remote', url: remoteServer.url, token: remoteToken }),
      (error: Error & { code?: string }) =>
        error.code === 'DROVER_E_INVALID_PARAMS' && !error.message.includes(remoteToken),
    );
    const before = await home.engine.listJobs({ group: 'fractals' });
    await assert.rejects(
      rpc('jobs.submit', {
        group: 'fractals',
        taskType: 'fractal.julia',
        items: renders(1, 1),
        site: 'nowhere',
      }),
      (error: Error & { code?: string }) =>
        error.code === 'DROVER_E_INVALID_PARAMS' &&
        error.message.includes('nowhere') &&
        error.message.includes('remote'),
    );
    assert.deepEqual(await home.engine.listJobs({ group: 'fractals' }), before, 'nothing stored');
  });

  it('runs a fractal job at the site through its restart: nothing lost, nothing twice, files readable here', async () => {
    const items = renders(24, 7, 256);
    const { job } = (await rpc('jobs.submit', {
      group: 'fractals',
      name: 'renders at the site',
      taskType: 'fractal.julia',
      items,
      site: 'remote',
    })) as { job: JobRecord };
    assert.equal(job.site, 'remote');
    assert.equal((await home.engine.listJobs({ group: 'fractals' }))[0]?.id, job.id);

    // Once the first render is mirrored here, the remote farm stops and starts again.
    await until('a render mirrored here', async () => {
      const j = await home.engine.getJob(job.id);
      return j.counts.succeeded > 0 ? j : undefined;
    });
    const [atStop] = await remote.listJobs({ group: 'fractals' });
    assert.notEqual(atStop?.status, 'succeeded', 'the site stops in the middle of the job');
    await stopRemote();
    await sleep(500);
    await startRemote();

    const done = await finished(job.id);
    assert.equal(done.status, 'succeeded');
    assert.equal(done.counts.succeeded, items.length);

    // One job at the site, under the key derived from this one: never submitted twice.
    const there = await remote.listJobs({ group: 'fractals' });
    assert.equal(there.length, 1);
    const remoteJob = there[0] as JobRecord;
    assert.equal(remoteJob.status, 'succeeded');
    const remoteTasks = await remote.listTasks(remoteJob.id);

    const tasks = await home.engine.listTasks(job.id);
    assert.equal(tasks.length, items.length);
    for (const task of tasks) {
      const twin = remoteTasks[task.index];
      assert.ok(twin);
      assert.equal(task.status, 'succeeded');
      assert.deepEqual(task.result, twin.result, `task ${task.index} has the site's result`);
      assert.equal(task.workerId, null, "the site's workers are not this farm's");
      const result = task.result as { sha256: string };

      // Its image, once, read through this farm (proxied to the site), whole and by range.
      const artifacts = await home.engine.listArtifacts({ taskId: task.id });
      assert.equal(artifacts.length, 1, `task ${task.index} has its one image here`);
      const artifact = artifacts[0];
      assert.ok(artifact);
      assert.equal(artifact.sha256, result.sha256);
      const whole = await fetch(`${homeServer.url}/artifacts/${artifact.id}`, {
        headers: { authorization: `Bearer ${homeToken}` },
      });
      assert.equal(whole.status, 200);
      const bytes = Buffer.from(await whole.arrayBuffer());
      assert.equal(sha(bytes), result.sha256);
      const part = await fetch(`${homeServer.url}/artifacts/${artifact.id}`, {
        headers: { authorization: `Bearer ${homeToken}`, range: 'bytes=10-29' },
      });
      assert.equal(part.status, 206);
      assert.equal(part.headers.get('content-range'), `bytes 10-29/${bytes.length}`);
      assert.deepEqual(Buffer.from(await part.arrayBuffer()), bytes.subarray(10, 30));

      // Its log, every line once.
      const lines = async (engine: Engine, taskId: string) =>
        (await engine.readEvents({ topic: `task/${taskId}/log`, after: '' })).events.flatMap((e) =>
          e.kind === 'task.log' ? e.data.lines.map((l) => l.line) : [],
        );
      const log = await until(
        `the log of task ${task.index} (${(await lines(remote, twin.id)).length} lines at the site)`,
        async () => {
          const here = await lines(home.engine, task.id);
          return here.length > 0 ? here : undefined;
        },
      );
      assert.deepEqual(log, await lines(remote, twin.id));
    }
    // Without a credential, the proxied download is refused like any other.
    const [first] = await home.engine.listArtifacts({ jobId: job.id });
    const anonymous = await fetch(`${homeServer.url}/artifacts/${first?.id ?? ''}`);
    assert.equal(anonymous.status, 401);
  });

  it('carries a cancel and then a retry to the site, and their effects back', async () => {
    const { job } = (await rpc('jobs.submit', {
      group: 'fractals',
      taskType: 'fractal.julia',
      items: renders(40, 11, 512),
      site: 'remote',
    })) as { job: JobRecord };
    await until('the job to run at the site', async () => {
      const j = await home.engine.getJob(job.id);
      return j.status === 'running' ? j : undefined;
    });
    // Edits that would not reach the site are refused, changing nothing here.
    for (const [method, params] of [
      ['jobs.pause', { id: job.id }],
      ['jobs.update', { id: job.id, maxAttempts: 5 }],
    ] as const) {
      await assert.rejects(rpc(method, params), (error: Error & { code?: string }) => {
        assert.equal(error.code, 'DROVER_E_INVALID_PARAMS');
        assert.match(error.message, /runs at site remote/);
        return true;
      });
    }
    assert.equal((await home.engine.getJob(job.id)).paused, false);
    await rpc('jobs.cancel', { id: job.id, reason: 'not needed' });
    const done = await finished(job.id);
    assert.equal(done.status, 'cancelled');
    assert.equal(done.cancelReason, 'not needed');
    const there = (await remote.listJobs({ group: 'fractals' })).find((j) =>
      j.idempotencyKey?.endsWith(job.id),
    );
    const remoteJob = await until('the cancel at the site', async () => {
      const j = await remote.getJob(there?.id ?? '');
      return j.status === 'cancelled' ? j : undefined;
    });
    assert.equal(remoteJob.cancelReason, 'not needed');
    assert.ok(done.counts.cancelled > 0);

    // A retry travels too: the site runs the cancelled tasks, and the job ends succeeded here.
    await rpc('jobs.retry', { id: job.id });
    const retried = await until('the retried job to succeed here', async () => {
      const j = await home.engine.getJob(job.id);
      return j.status === 'succeeded' ? j : undefined;
    });
    assert.equal(retried.counts.succeeded, 40);
    assert.equal((await remote.getJob(remoteJob.id)).status, 'succeeded');
    assert.equal(
      (await remote.listJobs({ group: 'fractals' })).filter((j) =>
        j.idempotencyKey?.endsWith(job.id),
      ).length,
      1,
      'the same job there, retried',
    );
    // Every file the site has of the job's tasks (a cancelled attempt's too) is mirrored here.
    const remoteTasks = await remote.listTasks(remoteJob.id);
    for (const task of await home.engine.listTasks(job.id)) {
      const twin = remoteTasks[task.index];
      assert.ok(twin);
      const there = await remote.listArtifacts({ taskId: twin.id });
      assert.ok(there.length > 0);
      await until(`the files of task ${task.index} here`, async () =>
        (await home.engine.listArtifacts({ taskId: task.id })).length === there.length
          ? true
          : undefined,
      );
    }
  });

  it('keeps a job waiting while its site is unreachable, saying so, and sends it once it is back', async () => {
    await stopRemote();
    const { job } = (await rpc('jobs.submit', {
      group: 'fractals',
      name: 'while the site is away',
      taskType: 'fractal.julia',
      items: renders(2, 13),
      site: 'remote',
    })) as { job: JobRecord };
    const [waiting] = await until('the job to say it waits', async () => {
      const tasks = await home.engine.listTasks(job.id);
      return tasks[0]?.message === 'site remote unreachable, retrying' ? tasks : undefined;
    });
    assert.equal(waiting?.status, 'queued');
    await startRemote();
    const done = await finished(job.id);
    assert.equal(done.status, 'succeeded');
    const tasks = await home.engine.listTasks(job.id);
    assert.ok(tasks.every((task) => task.message !== 'site remote unreachable, retrying'));
    const there = (await remote.listJobs({ group: 'fractals' })).filter((j) =>
      j.idempotencyKey?.endsWith(job.id),
    );
    assert.equal(there.length, 1, 'sent once');
  });
});
