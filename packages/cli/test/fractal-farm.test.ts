import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PNG } from 'pngjs';
import { mulberry32, randomJuliaParams } from '@drover/example-fractal';
import type { JobRecord } from '@drover/protocol';
import { backend, openTestEngine, sleep, tokenFor } from '@drover/engine/testing';
import type { TestEngine } from '@drover/engine/testing';
import { startServer } from '@drover/server';
import type { DroverServer } from '@drover/server';

const cli = new URL('../src/main.js', import.meta.url).pathname;

describe(`the fractal farm, with drover worker processes (${backend})`, () => {
  let t: TestEngine;
  let server: DroverServer;
  let artifactsDir: string;
  /** What the test itself reads artifacts with, and what the worker processes sign in with. */
  let adminToken: string;
  let workerToken: string;
  const workers: ChildProcess[] = [];

  before(async () => {
    t = await openTestEngine();
    artifactsDir = mkdtempSync(join(tmpdir(), 'drover-fractal-artifacts-'));
    adminToken = await tokenFor(t.engine);
    workerToken = await tokenFor(t.engine, { name: 'fractal workers', role: 'worker' });
    server = await startServer({
      engine: t.engine,
      port: 0,
      artifactsDir,
      pollMs: 500,
    });
    for (const name of ['fractal-a', 'fractal-b']) {
      const child = spawn(
        process.execPath,
        [cli, 'worker', '--server', server.url, '--name', name, '--slots', '2'],
        {
          env: { ...process.env, DROVER_TOKEN: workerToken },
          stdio: ['ignore', 'pipe', 'inherit'],
        },
      );
      workers.push(child);
      await new Promise<void>((resolve, reject) => {
        child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
          if (chunk.includes('joined')) resolve();
        });
        child.once('exit', (code) =>
          reject(new Error(`drover worker ${name} exited with ${code}`)),
        );
      });
    }
  });
  after(async () => {
    for (const w of workers) w.kill('SIGKILL');
    await server.close();
    await t.close();
    rmSync(artifactsDir, { recursive: true, force: true });
  });

  async function finished(job: JobRecord): Promise<JobRecord> {
    const deadline = Date.now() + 60_000;
    let current = job;
    while (
      !['succeeded', 'failed', 'cancelled'].includes(current.status) &&
      Date.now() < deadline
    ) {
      await sleep(100);
      current = await t.engine.getJob(job.id);
    }
    return current;
  }

  it('renders Julia sets whose PNGs, downloaded over HTTP, have the recorded sha256 and size', async () => {
    const random = mulberry32(7);
    // Smaller than the producer's images, so the test stays quick; the same recipe otherwise.
    const items = Array.from({ length: 6 }, () => {
      const params = randomJuliaParams(random);
      return {
        ...params,
        width: 64 + Math.floor(random() * 128),
        height: 64 + Math.floor(random() * 128),
        iterations: 128,
      };
    });
    const { job } = await t.engine.submit({ group: 'fractals', taskType: 'fractal.julia', items });
    const done = await finished(job);
    assert.equal(done.status, 'succeeded');

    const tasks = await t.engine.listTasks(job.id);
    const ranOn = new Set(tasks.map((task) => task.workerId));
    assert.equal(ranOn.size, 2, 'both worker processes rendered');
    for (const task of tasks) {
      const result = task.result as {
        sha256: string;
        width: number;
        height: number;
        durationMs: number;
      };
      const [artifact] = await t.engine.listArtifacts({ taskId: task.id });
      assert.ok(artifact, `task ${task.index} stored its image`);
      assert.equal(artifact.contentType, 'image/png');
      assert.equal(artifact.sha256, result.sha256);
      const response = await fetch(`${server.url}/artifacts/${artifact.id}`, {
        headers: { authorization: `Bearer ${adminToken}` },
      });
      assert.equal(response.status, 200);
      const png = Buffer.from(await response.arrayBuffer());
      assert.equal(
        createHash('sha256').update(png).digest('hex'),
        result.sha256,
        'the bytes are the recorded ones',
      );
      const image = PNG.sync.read(png);
      const asked = task.params as { width: number; height: number };
      assert.deepEqual([image.width, image.height], [asked.width, asked.height]);
      assert.ok(result.durationMs >= 0);
    }
  });

  it('renders a frame range, then assembles the frames into one contact sheet in its last stage', async () => {
    const { job } = await t.engine.submit({
      group: 'fractals',
      taskType: 'fractal.frame',
      params: { frames: 4, width: 80, height: 60, iterations: 64 },
      frames: { start: 0, end: 3 },
      then: [{ taskType: 'fractal.contact-sheet', params: { columns: 2, thumbWidth: 40 } }],
    });
    const done = await finished(job);
    assert.equal(done.status, 'succeeded');
    const artifacts = await t.engine.listArtifacts({ jobId: job.id });
    assert.deepEqual(artifacts.map((a) => a.name).sort(), [
      'contact-sheet.png',
      'frame-00000.png',
      'frame-00001.png',
      'frame-00002.png',
      'frame-00003.png',
    ]);
    const sheet = artifacts.find((a) => a.name === 'contact-sheet.png');
    assert.ok(sheet);
    const png = Buffer.from(
      await (
        await fetch(`${server.url}/artifacts/${sheet.id}`, {
          headers: { authorization: `Bearer ${adminToken}` },
        })
      ).arrayBuffer(),
    );
    const image = PNG.sync.read(png);
    // Two columns and two rows of 40-pixel-wide thumbnails of 80x60 frames.
    assert.deepEqual([image.width, image.height], [80, 60]);
    const [last] = (await t.engine.listTasks(job.id)).filter((task) => task.stage === 1);
    assert.deepEqual((last?.result as { frames: number }).frames, 4);
    assert.equal((last?.result as { image: string }).image, sheet.id, 'the result names its image');
  });
});
