// The commands a user drives a farm with, run as they are run: the drover process against a real
// server, its output read the way a terminal, a pipe or a script reads it.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { backend, openTestEngine, tokenFor, uniqueType } from '@drover/engine/testing';
import type { TestEngine } from '@drover/engine/testing';
import { startServer } from '@drover/server';
import type { DroverServer } from '@drover/server';
import { drover } from './run-drover.js';

const cli = new URL('../src/main.js', import.meta.url).pathname;

describe(`drover commands against a farm (${backend})`, () => {
  let t: TestEngine;
  let server: DroverServer;
  let dir: string;
  let env: NodeJS.ProcessEnv;

  before(async () => {
    t = await openTestEngine();
    dir = mkdtempSync(join(tmpdir(), 'drover-commands-'));
    writeFileSync(join(dir, 'drover.json'), '{}');
    env = { DROVER_TOKEN: await tokenFor(t.engine), DROVER_DATA_DIR: join(dir, 'data') };
    server = await startServer({ engine: t.engine, port: 0, pollMs: 500 });
  });
  after(async () => {
    await server.close();
    await t.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const run = (...args: string[]) => drover([...args, '--server', server.url], { env, cwd: dir });

  /** A task type a worker has described: `message` (text) and `count` (an integer). */
  async function describedType(): Promise<string> {
    const type = `${uniqueType('echo')}.say`;
    await t.engine.registerWorker({
      name: uniqueType('w'),
      host: 'h',
      taskTypes: [type],
      slots: 1,
      paramsSchemas: {
        [type]: {
          type: 'object',
          properties: { message: { type: 'string' }, count: { type: 'integer' } },
          additionalProperties: false,
        },
      },
    });
    return type;
  }

  it('refuses a task type no worker offers, suggesting the nearest, unless told to queue it', async () => {
    const type = await describedType();
    const misspelt = type.replace('.say', '.sya');
    const refused = await run('submit', misspelt, '--group', 'cli-unknown');
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, new RegExp(`did you mean "${type.replaceAll('.', '\\.')}"\\?`));
    assert.match(refused.stderr, /--allow-unknown-type/);
    assert.deepEqual(await t.engine.listJobs({ group: 'cli-unknown' }), [], 'nothing stored');

    const queued = await run('submit', misspelt, '--group', 'cli-unknown', '--allow-unknown-type');
    assert.equal(queued.code, 0, queued.stderr);
    assert.match(queued.stdout, /^submitted job /m);
    assert.match(queued.stderr, /no online worker offers task type/);
  });

  it('names a misspelt param, and says how to quote text that looks like a number', async () => {
    const type = await describedType();
    const misspelt = await run('submit', type, '--param', 'mesage=hi', '--group', 'cli-params');
    assert.equal(misspelt.code, 1);
    assert.match(
      misspelt.stderr,
      /params\.mesage: "mesage" is not a param of .*; did you mean "message"\?/,
    );

    const number = await run('submit', type, '--param', 'message=5', '--group', 'cli-params');
    assert.equal(number.code, 1);
    assert.match(number.stderr, /params\.message: must be string/);
    assert.match(
      number.stderr,
      /--param message=5 was read as a number; for the text 5, quote it as JSON: --param 'message="5"'/,
    );
    assert.deepEqual(await t.engine.listJobs({ group: 'cli-params' }), [], 'nothing stored');

    const quoted = await run('submit', type, '--param', 'message="5"', '--group', 'cli-params');
    assert.equal(quoted.code, 0, quoted.stderr);
  });

  it('names the --file it cannot use, and why', async () => {
    const missing = await run('submit', '--file', 'no-such-job.json');
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^--file no-such-job\.json: there is no such file\.$/m);
    writeFileSync(join(dir, 'broken.json'), '{"taskType": "hello",');
    const broken = await run('submit', '--file', 'broken.json');
    assert.equal(broken.code, 1);
    assert.match(broken.stderr, /^--file broken\.json is not JSON: /m);
    writeFileSync(
      join(dir, 'backwards.json'),
      JSON.stringify({ taskType: 'nobody.runs.this', frames: { start: 5, end: 1 } }),
    );
    const backwards = await run('submit', '--file', 'backwards.json', '--allow-unknown-type');
    assert.equal(backwards.code, 1);
    assert.match(
      backwards.stderr,
      /^Invalid job submission: frames\.end: end must not be before start \(in backwards\.json\)/m,
    );
    assert.doesNotMatch(backwards.stderr, /jobs\.submit/);
  });

  it('lists the newest jobs of a group, says how many there are, and takes --limit and --all', async () => {
    for (let i = 0; i < 5; i++)
      await t.engine.submit({ group: 'cli-ls', name: `job ${i}`, taskType: 'nobody.runs.this' });
    const three = await run('jobs', 'ls', '--group', 'cli-ls', '--limit', '3');
    assert.equal(three.code, 0, three.stderr);
    assert.match(
      three.stdout,
      /^the newest 3 of 5 jobs in group "cli-ls" \(--limit N or --all for more\)$/m,
    );
    assert.deepEqual(
      [...three.stdout.matchAll(/ job (\d) /g)].map((m) => m[1]),
      ['4', '3', '2'],
      'newest first',
    );
    const all = await run('jobs', 'ls', '--group', 'cli-ls', '--all', '--json');
    assert.equal((JSON.parse(all.stdout) as unknown[]).length, 5);
    const everything = await run('jobs', 'ls', '--group', 'cli-ls');
    assert.match(everything.stdout, /^5 jobs in group "cli-ls"$/m);
    const bad = await run('jobs', 'ls', '--group', 'cli-ls', '--limit', 'lots');
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /--limit takes a whole number of at least 1/);
  });

  it("names a mistyped id in the command's words", async () => {
    const job = await run('jobs', 'show', 'not-a-job');
    assert.equal(job.code, 1);
    assert.match(job.stderr, /^"not-a-job" is not a job id: /m);
    assert.doesNotMatch(job.stderr, /jobs\.get/);
    const task = await run('logs', 'abc');
    assert.match(task.stderr, /^"abc" is not a task id: /m);
  });

  it('writes plain progress lines when --wait is not on a terminal', async () => {
    const workerToken = await tokenFor(t.engine, { name: 'cli workers', role: 'worker' });
    const worker = spawn(
      process.execPath,
      [cli, 'worker', '--server', server.url, '--name', uniqueType('cli-w')],
      {
        cwd: dir,
        env: { ...process.env, DROVER_TOKEN: workerToken },
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    try {
      await new Promise<void>((resolve, reject) => {
        worker.stdout.setEncoding('utf8').on('data', (chunk: string) => {
          if (chunk.includes('joined')) resolve();
        });
        worker.once('exit', (code) => reject(new Error(`drover worker exited with ${code}`)));
      });
      const waited = await run('submit', 'hello', '--group', 'cli-wait', '--wait');
      assert.equal(waited.code, 0, waited.stderr);
      assert.doesNotMatch(waited.stdout, /\r|\x1b/, 'no bar redrawn in place');
      assert.match(waited.stdout, /^\d\d:\d\d:\d\d {2}job \S+ succeeded, 1\/1 task done$/m);
      assert.match(waited.stdout, /^job \S+ succeeded$/m);
    } finally {
      worker.kill('SIGKILL');
    }
  });

  it('shows a draining worker with nothing left to finish as drained', async () => {
    const name = uniqueType('drained');
    const { worker, session } = await t.engine.registerWorker({
      name,
      host: 'h',
      taskTypes: ['hello'],
      slots: 1,
    });
    await t.engine.holdWorker(worker.id, 'draining');
    const listed = await run('workers', 'ls');
    assert.equal(listed.code, 0, listed.stderr);
    const line = listed.stdout.split('\n').find((l) => l.includes(name)) ?? '';
    assert.match(line, / drained /);
    // Gone while drained: offline, and still drained when it comes back until enabled.
    await t.engine.workerGone(worker.id, session);
    const offline = await run('workers', 'ls');
    assert.match(
      offline.stdout.split('\n').find((l) => l.includes(name)) ?? '',
      / offline \(drained\) /,
    );
  });

  it('writes all of a long --json answer to a pipe that reads slowly', async () => {
    const { job } = await t.engine.submit({
      group: 'pipes',
      taskType: 'nobody.runs.this',
      items: Array.from({ length: 600 }, (_, i) => ({ i, padding: 'x'.repeat(100) })),
    });
    // The reader starts a second late: everything written after the pipe's 64 KiB must wait.
    const piped = await drover([], {
      env,
      cwd: dir,
      shell: `drover tasks ${job.id} --json --server ${server.url} | (sleep 1; cat)`,
    });
    assert.equal(piped.code, 0, piped.stderr);
    assert.ok(piped.stdout.length > 256 * 1024, `${piped.stdout.length} bytes; ${piped.stderr}`);
    const tasks = JSON.parse(piped.stdout) as unknown[];
    assert.equal(tasks.length, 600);
  });
});
