import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ArtifactRecord, DroverError } from '@drover/protocol';
import type { JobRecord } from '@drover/protocol';
import { backend, openTestEngine, sleep, tokenFor } from '@drover/engine/testing';
import type { TestEngine } from '@drover/engine/testing';
import { uploadArtifact } from '@drover/worker';
import { startServer } from '../src/index.js';
import type { DroverServer } from '../src/index.js';
import { seededBytes } from './fixtures/seeded-bytes.js';

const fixture = new URL('./fixtures/artifact-worker.js', import.meta.url).pathname;
const sha = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

describe(`artifacts stored by a worker process (${backend})`, () => {
  let t: TestEngine;
  let server: DroverServer;
  let dir: string;
  let port = 0;
  /** An admin token, for calls and downloads over HTTP. */
  let token: string;
  const children: ChildProcess[] = [];

  async function start(): Promise<void> {
    server = await startServer({
      engine: t.engine,
      port,
      // Long enough that a loaded machine never lets a lease lapse during a restart.
      leaseMs: 10_000,
      pollMs: 500,
      artifactsDir: join(dir, 'store'),
    });
    port = Number(new URL(server.url).port);
  }

  before(async () => {
    t = await openTestEngine();
    dir = mkdtempSync(join(tmpdir(), 'drover-farm-artifacts-'));
    token = await tokenFor(t.engine);
    const workerToken = await tokenFor(t.engine, { name: 'artifact workers', role: 'worker' });
    await start();
    // The token goes in the environment: argv is visible to every local user.
    const child = spawn(process.execPath, [fixture, server.url, 'artifact-writer'], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, DROVER_TOKEN: workerToken },
    });
    children.push(child);
    await new Promise<void>((resolve, reject) => {
      child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
        if (/^ready /m.test(chunk)) resolve();
      });
      child.once('exit', (code) => reject(new Error(`the worker exited with ${code}`)));
    });
  });
  after(async () => {
    for (const child of children) child.kill('SIGKILL');
    await server.close();
    await t.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function finished(jobId: string, timeoutMs = 20_000): Promise<JobRecord> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const job = await t.engine.getJob(jobId);
      if (['succeeded', 'failed', 'cancelled'].includes(job.status)) return job;
      if (Date.now() > deadline) throw new Error(`job ${jobId} did not finish`);
      await sleep(50);
    }
  }

  async function rpc(method: string, params: unknown): Promise<unknown> {
    const response = await fetch(`${server.url}/rpc`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ jsonrpc: '2.0', method, params, id: 1 }),
    });
    return ((await response.json()) as { result: unknown }).result;
  }

  it('downloads over HTTP exactly the bytes a task stored with ctx.artifact, with the recorded sha256', async () => {
    const size = 300_000;
    const { job } = await t.engine.submit({
      group: 'farm-artifacts',
      taskType: 'artifact.write',
      params: { seed: 42, size, fileName: 'renders/frame-0042.bin' },
    });
    const done = await finished(job.id);
    assert.equal(done.status, 'succeeded');
    const [task] = await t.engine.listTasks(job.id);
    assert.ok(task);
    const returned = ArtifactRecord.parse(task.result);
    const { artifacts } = (await rpc('artifacts.list', { jobId: job.id })) as {
      artifacts: ArtifactRecord[];
    };
    assert.deepEqual(
      artifacts.map((a) => a.name),
      ['renders/frame-0042.bin', 'summary.txt'],
    );
    const [recorded] = artifacts;
    assert.ok(recorded);
    assert.deepEqual(recorded, returned, 'ctx.artifact resolved to the record the server keeps');
    assert.equal(recorded.size, size);
    assert.equal(recorded.sha256, sha(seededBytes(42, size)));

    const response = await fetch(`${server.url}/artifacts/${recorded.id}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(response.status, 200);
    assert.equal(
      response.headers.get('content-disposition'),
      'attachment; filename="frame-0042.bin"',
    );
    const downloaded = Buffer.from(await response.arrayBuffer());
    assert.equal(downloaded.length, size);
    assert.equal(sha(downloaded), recorded.sha256);
    const tail = await fetch(`${server.url}/artifacts/${recorded.id}`, {
      headers: { range: 'bytes=-1000', authorization: `Bearer ${token}` },
    });
    assert.equal(tail.status, 206);
    assert.deepEqual(Buffer.from(await tail.arrayBuffer()), downloaded.subarray(size - 1000));
  });

  it('retries an upload while the server is away, and stores it once when it is back', async () => {
    const gate = join(dir, 'gate');
    const { job } = await t.engine.submit({
      group: 'farm-artifacts',
      taskType: 'artifact.write',
      params: { seed: 7, size: 50_000, fileName: 'late.bin', gate },
    });
    for (;;) {
      const [task] = await t.engine.listTasks(job.id);
      if (task?.status === 'running') break;
      await sleep(50);
    }
    await server.close();
    writeFileSync(gate, '');
    // The worker tries to upload while nothing listens, then the server comes back.
    await sleep(700);
    await start();
    const done = await finished(job.id);
    assert.equal(done.status, 'succeeded');
    const [task] = await t.engine.listTasks(job.id);
    assert.ok(task);
    assert.deepEqual(
      (await t.engine.listAttempts(task.id)).map((a) => a.status),
      ['succeeded'],
      'the attempt kept its lease across the restart',
    );
    const artifacts = await t.engine.listArtifacts({ taskId: task.id });
    assert.deepEqual(
      artifacts.map((a) => [a.name, a.sha256]),
      [
        ['late.bin', sha(seededBytes(7, 50_000))],
        ['summary.txt', sha('seed 7, 50000 bytes\n')],
      ],
    );
  });

  it('gives up at once when the server refuses the credential', async () => {
    const started = Date.now();
    await assert.rejects(
      uploadArtifact({
        serverUrl: server.url,
        lease: { attemptId: '999999', token: '00000000-0000-4000-8000-000000000000' },
        name: 'x.txt',
        data: 'x',
      }),
      (error: unknown) => error instanceof DroverError && error.code === 'DROVER_E_STALE_LEASE',
    );
    assert.ok(Date.now() - started < 1000, 'no back-off on a refused credential');
  });
});
