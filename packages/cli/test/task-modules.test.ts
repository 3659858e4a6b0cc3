// `drover worker --tasks FILE`: a module of the user's own task definitions, run next to or
// instead of the demo's; a module that does not load or defines nothing stops the worker, naming
// the file.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { backend, openTestEngine, tokenFor, uniqueType } from '@drover/engine/testing';
import type { TestEngine } from '@drover/engine/testing';
import { startServer } from '@drover/server';
import type { DroverServer } from '@drover/server';

const cli = new URL('../src/main.js', import.meta.url).pathname;

describe(`task modules for drover worker (${backend})`, { timeout: 120_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'drover-task-modules-'));
  let t: TestEngine;
  let server: DroverServer;
  let workerToken: string;
  const children: ChildProcess[] = [];
  const type = uniqueType('my.shout');

  before(async () => {
    t = await openTestEngine();
    workerToken = await tokenFor(t.engine, { name: 'module workers', role: 'worker' });
    server = await startServer({ engine: t.engine, port: 0, pollMs: 500 });
    // A module outside the project, as a user writes one: its imports resolved to this checkout.
    writeFileSync(
      join(dir, 'my-tasks.mjs'),
      [
        `import { defineTask } from '${import.meta.resolve('@drover/worker')}';`,
        `import { z } from '${import.meta.resolve('zod')}';`,
        `export const shout = defineTask({`,
        `  name: '${type}',`,
        `  params: z.object({ text: z.string() }),`,
        `  result: z.string(),`,
        `  run: (ctx, { text }) => text.toUpperCase(),`,
        `});`,
        `export const notATask = 42;`,
      ].join('\n'),
    );
    writeFileSync(join(dir, 'broken.mjs'), 'export const x = ;\n');
    writeFileSync(join(dir, 'empty.mjs'), 'export const answer = 42;\n');
  });
  after(async () => {
    for (const child of children) child.kill('SIGKILL');
    await server.close();
    await t.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const worker = (...args: string[]) =>
    spawnSync(process.execPath, [cli, 'worker', '--server', server.url, ...args], {
      encoding: 'utf8',
      timeout: 30_000,
      env: { ...process.env, DROVER_TOKEN: workerToken },
    });

  it('runs the task types a module exports, instead of the demo', async () => {
    const child = spawn(
      process.execPath,
      [
        cli,
        'worker',
        '--server',
        server.url,
        '--name',
        'mine',
        '--demo',
        'false',
        '--tasks',
        join(dir, 'my-tasks.mjs'),
      ],
      { env: { ...process.env, DROVER_TOKEN: workerToken }, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    children.push(child);
    await new Promise<void>((resolve, reject) => {
      child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
        if (chunk.includes('joined')) resolve();
      });
      child.once('exit', (code) => reject(new Error(`drover worker exited with ${code}`)));
    });
    const [registered] = (await t.engine.listWorkers()).filter((w) => w.name === 'mine');
    assert.deepEqual(registered?.taskTypes, [type], 'only the module, not the demo');
    const { job } = await t.engine.submit({
      group: 'modules',
      taskType: type,
      params: { text: 'hi' },
    });
    const deadline = Date.now() + 20_000;
    while ((await t.engine.getJob(job.id)).status !== 'succeeded' && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    const [task] = await t.engine.listTasks(job.id);
    assert.equal(task?.result, 'HI');
  });

  it('stops, naming the file, when a module does not load or defines no task', () => {
    const broken = worker('--tasks', join(dir, 'broken.mjs'));
    assert.equal(broken.status, 1);
    assert.match(broken.stderr, /The task module .*broken\.mjs did not load: .*Unexpected token/);
    const empty = worker('--tasks', join(dir, 'empty.mjs'));
    assert.equal(empty.status, 1);
    assert.match(empty.stderr, /The task module .*empty\.mjs exports no task definitions/);
    const missing = worker('--tasks', join(dir, 'nowhere.mjs'));
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /nowhere\.mjs did not load/);
    const twice = worker(
      '--tasks',
      join(dir, 'my-tasks.mjs'),
      '--tasks',
      join(dir, 'my-tasks.mjs'),
    );
    assert.equal(twice.status, 1);
    assert.match(twice.stderr, /is defined twice/);
    const nothing = worker('--demo', 'false');
    assert.equal(nothing.status, 1);
    assert.match(nothing.stderr, /would run no task type/);
  });
});
