// A replica SIGKILLed under load. Two `drover server` processes share one PostgreSQL database;
// `drover worker` processes and the client are given both URLs. While a job of many tasks runs,
// the replica most workers are on is killed: its workers move to the other with their running
// tasks and their undelivered reports, the client's wait follows the job there, and every task
// ends succeeded with one succeeded attempt, its result and its file recorded once.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { WebSocket } from 'ws';
import { topics } from '@drover/protocol';
import type { AttemptRecord, EventRecord, JobRecord } from '@drover/protocol';
import { openEngine } from '@drover/engine';
import type { Engine } from '@drover/engine';
import { databaseUrl, sleep, tokenFor } from '@drover/engine/testing';
import { DroverClient } from '@drover/client';
import { drover } from './run-drover.js';

const cli = new URL('../src/main.js', import.meta.url).pathname;
const TASKS = 48;
/** What each task writes: a file whose bytes say which task it is. */
const contentOf = (i: number) => `the output of task ${i}\n`;

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

async function until<T>(
  check: () => Promise<T | undefined> | T | undefined,
  what: string,
  ms = 30_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await Promise.resolve()
      .then(check)
      .catch(() => undefined);
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await sleep(100);
  }
}

/** A process of the drover command, its output kept line by line. */
interface Running {
  child: ChildProcess;
  lines: string[];
  exited: Promise<number | null>;
}

describe('a server replica killed under load', { timeout: 240_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'drover-failover-'));
  const database = `drover_failover_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
  const url = new URL(databaseUrl);
  url.pathname = `/${database}`;
  const farmDatabase = url.toString();
  const running: Running[] = [];
  let engine: Engine;
  let adminToken: string;
  let workerToken: string;
  let a: { url: string; process: Running };
  let b: { url: string; process: Running };
  let type: string;

  const start = (args: string[], env: NodeJS.ProcessEnv = {}): Running => {
    const child = spawn(process.execPath, [cli, ...args], {
      cwd: dir,
      env: { ...process.env, DROVER_STATE_DIR: join(dir, 'state'), ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const lines: string[] = [];
    const keep = (chunk: string) => lines.push(...chunk.split('\n').filter(Boolean));
    child.stdout?.setEncoding('utf8').on('data', keep);
    child.stderr?.setEncoding('utf8').on('data', keep);
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    const run = { child, lines, exited };
    running.push(run);
    return run;
  };

  const replica = async () => {
    const port = await freePort();
    const process = start([
      'server',
      '--database-url',
      farmDatabase,
      '--data-dir',
      join(dir, 'shared'), // one artifact store for both
      '--port',
      String(port),
    ]);
    const at = `http://127.0.0.1:${port}`;
    await until(async () => (await fetch(`${at}/healthz`)).ok, `the server on ${port}`);
    return { url: at, process };
  };

  before(async () => {
    writeFileSync(join(dir, 'drover.json'), '{}');
    const admin = new pg.Client({ connectionString: databaseUrl });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${database}`);
    await admin.end();
    const migrated = await drover(['migrate', '--database-url', farmDatabase], { cwd: dir });
    assert.equal(migrated.code, 0, migrated.stderr);
    engine = await openEngine({ databaseUrl: farmDatabase });
    adminToken = await tokenFor(engine);
    workerToken = await tokenFor(engine, { name: 'failover workers', role: 'worker' });
    type = `failover.step.${process.pid}`;
    // About a second a task, in steps: a kill finds tasks halfway through.
    writeFileSync(
      join(dir, 'tasks.mjs'),
      [
        `import { defineTask } from '${import.meta.resolve('@drover/worker')}';`,
        `import { z } from '${import.meta.resolve('zod')}';`,
        `import { setTimeout as sleep } from 'node:timers/promises';`,
        `export const step = defineTask({`,
        `  name: '${type}',`,
        `  params: z.object({ i: z.int() }),`,
        `  async run(ctx, { i }) {`,
        `    for (let s = 1; s <= 5; s++) {`,
        `      await sleep(200);`,
        `      ctx.progress(s / 5, 'step ' + s);`,
        `      ctx.log('task ' + i + ' step ' + s);`,
        `    }`,
        // The same bytes as contentOf(i).
        "    await ctx.artifact('out-' + i + '.txt', 'the output of task ' + i + '\\n');",
        `    return { i, attempt: ctx.attempt };`,
        `  },`,
        `});`,
      ].join('\n'),
    );
    a = await replica();
    b = await replica();
  });

  after(async () => {
    for (const run of running) if (run.child.exitCode === null) run.child.kill('SIGKILL');
    await Promise.all(running.map((run) => run.exited));
    await engine?.close();
    const admin = new pg.Client({ connectionString: databaseUrl });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    await admin.end();
    rmSync(dir, { recursive: true, force: true });
  });

  it('loses no task and records no outcome twice; the client sees the job end', async () => {
    // Three workers prefer a, one prefers b: a is the replica the workers are mostly on.
    const workers = [
      ['w-1', `${a.url},${b.url}`],
      ['w-2', `${a.url},${b.url}`],
      ['w-3', `${a.url},${b.url}`],
      ['w-4', `${b.url},${a.url}`],
    ].map(([name = '', servers = '']) => ({
      name,
      process: start(
        [
          'worker',
          '--server',
          servers,
          '--name',
          name,
          '--slots',
          '2',
          '--demo',
          'false',
          '--tasks',
          join(dir, 'tasks.mjs'),
        ],
        { DROVER_TOKEN: workerToken },
      ),
    }));
    await until(
      async () =>
        (await engine.listWorkers()).filter((w) => w.state === 'online').length === 4 || undefined,
      'four workers online',
    );

    // The client, given both: `drover submit --wait` on a first, like the workers.
    writeFileSync(
      join(dir, 'job.json'),
      JSON.stringify({
        group: 'failover',
        name: 'failover under load',
        taskType: type,
        params: {},
        items: Array.from({ length: TASKS }, (_, i) => ({ i })),
      }),
    );
    const submitted = start(['submit', '--file', join(dir, 'job.json'), '--wait', '--json'], {
      DROVER_TOKEN: adminToken,
      DROVER_SERVER: `${a.url},${b.url}`,
    });
    const job = await until(
      async () =>
        (await engine.listJobs({ group: 'failover' })).find(
          (j) => j.name === 'failover under load',
        ),
      'the job submitted',
    );
    // A program's client on a too, following the job's events from the start.
    const watcher = new DroverClient({
      url: [a.url, b.url],
      token: adminToken,
      WebSocket,
      reconnect: { initialMs: 100 },
    });
    const seen: EventRecord[] = [];
    const subscription = watcher.subscribe(topics.job(job.id), {
      onEvents: (events) => seen.push(...events),
    });
    await until(() => watcher.state === 'open' || undefined, 'the watcher connected');
    assert.equal(watcher.url, a.url);

    await until(
      async () => (await engine.getJob(job.id)).counts.succeeded >= 12 || undefined,
      'a quarter of the tasks done',
      60_000,
    );
    const killedAt = Date.now();
    a.process.child.kill('SIGKILL');
    await a.process.exited;

    const ended = await until(
      async () => {
        const current = await engine.getJob(job.id);
        return ['succeeded', 'failed', 'cancelled'].includes(current.status) ? current : undefined;
      },
      'the job to end',
      120_000,
    );
    const code = await submitted.exited;
    assert.equal(code, 0, submitted.lines.join('\n'));
    assert.equal((JSON.parse(submitted.lines.join('\n')) as JobRecord).status, 'succeeded');
    assert.equal(ended.status, 'succeeded');

    // Every task succeeded once: one succeeded attempt, its own result.
    const tasks = await engine.listTasks(job.id, { limit: 10_000 });
    assert.equal(tasks.length, TASKS);
    const attempts = new Map<string, AttemptRecord[]>();
    for (const task of tasks) {
      assert.equal(task.status, 'succeeded', `task ${task.index}`);
      const list = await engine.listAttempts(task.id);
      attempts.set(task.id, list);
      const succeeded = list.filter((x) => x.status === 'succeeded');
      assert.equal(succeeded.length, 1, `task ${task.index}: one succeeded attempt`);
      assert.deepEqual(task.result, {
        i: task.index,
        attempt: succeeded[0]?.number,
      });
    }
    // The job's log says each task succeeded once.
    const events = [];
    for (let cursor = ''; ;) {
      const page = await engine.readEvents({ topic: topics.job(job.id), after: cursor });
      events.push(...page.events);
      if (page.events.length === 0) break;
      cursor = page.cursor;
    }
    const successes = new Map<string, number>();
    for (const event of events) {
      if (event.kind !== 'tasks.updated') continue;
      for (const summary of event.data.tasks)
        if (summary.status === 'succeeded')
          successes.set(summary.id, (successes.get(summary.id) ?? 0) + 1);
    }
    for (const task of tasks)
      assert.equal(successes.get(task.id), 1, `task ${task.index} succeeded once in the log`);
    // One file per task, its bytes those the task wrote.
    const artifacts = await engine.listArtifacts({ jobId: job.id, limit: 1000 });
    const byTask = new Map<string, number>();
    for (const artifact of artifacts)
      byTask.set(artifact.taskId, (byTask.get(artifact.taskId) ?? 0) + 1);
    for (const task of tasks) {
      assert.equal(byTask.get(task.id), 1, `task ${task.index}: one file`);
      const artifact = artifacts.find((x) => x.taskId === task.id);
      assert.equal(artifact?.name, `out-${task.index}.txt`);
      assert.equal(
        artifact?.sha256,
        createHash('sha256').update(contentOf(task.index)).digest('hex'),
      );
    }
    // Tasks that a's workers were running when it died went on, and finished on b on their
    // first lease.
    const onA = new Set(
      (await engine.listWorkers()).filter((w) => w.name !== 'w-4').map((w) => w.id),
    );
    const ofA = [...attempts.values()].flat().filter((x) => onA.has(x.workerId));
    const carried = ofA.filter(
      (x) =>
        x.status === 'succeeded' &&
        Date.parse(x.startedAt) < killedAt &&
        Date.parse(x.finishedAt ?? '') > killedAt + 100,
    );
    assert.ok(
      carried.length > 0,
      "a task a's workers ran at the kill was re-attached and finished",
    );

    // The program's client followed the job to b and saw it end.
    await until(
      () =>
        seen.some((e) => e.kind === 'job.updated' && e.data.status === 'succeeded') || undefined,
      "the watcher's job end",
    );
    assert.equal(watcher.url, b.url);
    subscription.close();
    watcher.close();

    // Measured, not asserted: how long the farm took to hand out work again.
    const handedOut = ofA.map((x) => Date.parse(x.startedAt)).filter((t) => t > killedAt);
    const lost = [...attempts.values()].flat().filter((x) => x.status !== 'succeeded');
    const reattached = workers.flatMap((w) =>
      w.process.lines.filter((line) => /re-attached [1-9]/.test(line)),
    );
    console.log(
      `kill to the first task handed out to a's workers on b: ${Math.min(...handedOut) - killedAt} ms; ` +
        `${carried.length} task(s) running at the kill finished on their first lease; ` +
        `${reattached.length} re-attachment(s) logged; ${lost.length} attempt(s) lost and run again`,
    );
  });
});
