import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import type { JobRecord, TaskRecord } from '@drover/protocol';
import { call, closeClients } from '../src/rpc-client.js';
import type { Target } from '../src/rpc-client.js';

const cli = new URL('../src/main.js', import.meta.url).pathname;
/** `drover up` gives its workers this long to drain, then allows 2 s more before killing them. */
const DRAIN_DEADLINE_MS = 10_000;
const DEMO_JOB_NAMES = [
  'A shell job',
  'Julia animation, 12 frames and a contact sheet',
  'The hello job',
];
/** The one-time sign-in link `drover up` prints for the dashboard. */
const DASHBOARD_LINK = /^open the dashboard: (http:\/\/127\.0\.0\.1:\d+\/login\?code=\S+)$/m;
/** A line of the finished-jobs ticker: `HH:MM:SS  name: status in N s  (job id)`. */
const TOLD =
  /^\d\d:\d\d:\d\d {2}.*: (?:succeeded|failed|cancelled) in [\d.]+ s(?: \([\d.]+ s after submission\))? {2}\(([\da-f-]{36})\)$/gm;

interface RunningUp {
  child: ChildProcess;
  /** Date.now() just before the spawn. */
  spawnedAt: number;
  output(): string;
  exited: Promise<number | null>;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * Spawns `drover up` in a process group of its own, so that a signal to the group reaches it
 * and its worker processes together, as Ctrl-C in a terminal does.
 */
function startUp(dataDir: string, port: number): RunningUp {
  const spawnedAt = Date.now();
  const child = spawn(
    process.execPath,
    [cli, 'up', '--data-dir', dataDir, '--port', String(port), '--interval', '1'],
    { detached: true, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { child, spawnedAt, output: () => output, exited };
}

function told(output: string): string[] {
  return [...output.matchAll(TOLD)].map((m) => m[1] ?? '');
}

describe('drover up: start, Ctrl-C, start again on the same data directory', () => {
  let dataDir: string;
  /** The farm's URL, signing in as the local admin from `<data dir>/admin-token`. */
  let server: Target;
  let port: number;
  const runs: RunningUp[] = [];

  /** Polls `probe` until it returns a value; errors (a server not up yet) count as not yet. */
  async function until<T>(
    what: string,
    timeoutMs: number,
    probe: () => Promise<T | undefined>,
  ): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    let last: unknown;
    for (;;) {
      try {
        const value = await probe();
        if (value !== undefined) return value;
      } catch (error) {
        last = error;
      }
      if (Date.now() > deadline) {
        const output = runs.at(-1)?.output() ?? '';
        throw new Error(
          `${what}: not within ${timeoutMs} ms (last error: ${String(last)})\n${output}`,
        );
      }
      await sleep(200);
    }
  }

  /** The sign-in link a run printed, once it has: its credentials are in the data directory. */
  const dashboardLink = (run: RunningUp) =>
    until('the dashboard link', 60_000, () =>
      Promise.resolve(run.output().match(DASHBOARD_LINK)?.[1]),
    );
  const jobs = async (group: string) => (await call(server, 'jobs.list', { group })).jobs;
  const job = (id: string) => call(server, 'jobs.get', { id });
  const tasks = async (jobId: string) => (await call(server, 'tasks.list', { jobId })).tasks;
  async function onlineWorkers(): Promise<Map<string, string> | undefined> {
    const { workers } = await call(server, 'workers.list', {});
    const online = workers.filter((w) => w.state === 'online');
    const ids = new Map(online.map((w) => [w.name, w.id]));
    return ids.has('local-1') && ids.has('local-2') ? ids : undefined;
  }

  /** Sends Ctrl-C to the farm and waits for it to exit; its exit code, or 'timeout'. */
  async function interrupt(run: RunningUp): Promise<number | null | 'timeout'> {
    process.kill(-(run.child.pid ?? 0), 'SIGINT');
    const timeout = sleep(DRAIN_DEADLINE_MS + 2000 + 5000, 'timeout' as const, { ref: false });
    return Promise.race([run.exited, timeout]);
  }

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'drover-up-'));
    port = await freePort();
    server = { server: [`http://127.0.0.1:${port}`], dataDir };
  });
  after(() => {
    closeClients();
    for (const run of runs) {
      if (run.child.exitCode === null && run.child.signalCode === null) {
        try {
          process.kill(-(run.child.pid ?? 0), 'SIGKILL');
        } catch {
          // Already gone.
        }
      }
    }
    rmSync(dataDir, { recursive: true, force: true });
  });

  // What the first run leaves behind, for the second to find.
  let workerIds: Map<string, string>;
  let demoJobs: JobRecord[];
  let succeeded: { job: JobRecord; tasks: TaskRecord[] }[];
  let queued: JobRecord;
  let toldBeforeStop: string[];
  let adminToken: string;

  it('comes up with two workers, the three demo jobs and the producer, and renders fractals', async (t) => {
    const run = startUp(dataDir, port);
    runs.push(run);

    // The local credentials are written before the link is printed; the commands (these calls)
    // sign in with the admin one by themselves, so none may be made before it is there.
    const link = await dashboardLink(run);
    assert.equal(new URL(link).port, String(port));
    for (const file of ['admin-token', 'worker-token']) {
      assert.equal(statSync(join(dataDir, file)).mode & 0o777, 0o600, `${file} is the owner's`);
    }
    adminToken = readFileSync(join(dataDir, 'admin-token'), 'utf8');
    // The link signs a browser in once: a session cookie, then the dashboard.
    const opened = await fetch(link, { redirect: 'manual' });
    assert.equal(opened.status, 303);
    assert.equal(opened.headers.get('location'), '/');
    assert.ok(opened.headers.get('set-cookie'), 'a session cookie');

    const firstFractal = await until('a succeeded job in group "fractals"', 60_000, async () => {
      const done = (await jobs('fractals')).filter((j) => j.status === 'succeeded');
      return done.length > 0 ? Date.now() - run.spawnedAt : undefined;
    });
    t.diagnostic(`first fractal job succeeded ${firstFractal} ms after the spawn`);
    assert.ok(firstFractal < 60_000);

    demoJobs = await until('the three demo jobs, succeeded', 60_000, async () => {
      const demo = await jobs('demo');
      return demo.length >= 3 && demo.every((j) => j.status === 'succeeded') ? demo : undefined;
    });
    t.diagnostic(`demo jobs succeeded ${Date.now() - run.spawnedAt} ms after the spawn`);
    assert.deepEqual(demoJobs.map((j) => j.name).sort(), DEMO_JOB_NAMES);
    assert.equal(run.output().match(/^submitted "/gm)?.length, 3, run.output());

    workerIds = await until('local-1 and local-2 online', 30_000, onlineWorkers);
    assert.equal(new Set(workerIds.values()).size, workerIds.size);
  });

  /**
   * A restart once told old jobs again when the transaction ids in the event log's cursors had
   * passed a power of ten (999 to 1000) before the stop: ordered as text, the later ones sort
   * first. Takes the log past the next power of ten above its first event, unless that is far.
   */
  async function passPowerOfTen(): Promise<void> {
    const txOf = (cursor: string) => Number(cursor.split(':')[0]);
    const [first] = (await call(server, 'events.read', { topic: 'jobs/demo', limit: 1 })).events;
    assert.ok(first);
    const boundary = 10 ** String(txOf(first.cursor)).length;
    const probe = async () => {
      const { job: filler } = await call(server, 'jobs.submit', {
        group: 'up-filler',
        taskType: 'hello',
        runAt: new Date(Date.now() + 86_400_000).toISOString(),
      });
      const { events } = await call(server, 'events.read', { topic: `job/${filler.id}` });
      return txOf(events[0]?.cursor ?? '0:0');
    };
    let tx = await probe();
    if (boundary - tx > 2000) return;
    // Every submission is a transaction of its own.
    while (tx < boundary) {
      const batch = Math.min(20, boundary - tx);
      await Promise.all(Array.from({ length: batch }, probe));
      tx = await probe();
    }
  }

  it('stops on Ctrl-C with exit code 0 after draining, a job still queued left for later', async () => {
    const run = runs[0];
    assert.ok(run);
    await passPowerOfTen();
    const passedAt = Date.now();
    await until('the ticker telling a fractal job created after that', 30_000, async () => {
      const fresh = (await jobs('fractals')).filter(
        (j) => j.status === 'succeeded' && Date.parse(j.createdAt) >= passedAt,
      );
      return fresh.some((j) => told(run.output()).includes(j.id)) ? true : undefined;
    });
    const fractals = (await jobs('fractals')).filter((j) => j.status === 'succeeded');
    succeeded = await Promise.all(
      [...demoJobs, ...fractals].map(async (j) => ({ job: j, tasks: await tasks(j.id) })),
    );
    // Due a few seconds from now, so no worker can have started it before the stop.
    ({ job: queued } = await call(server, 'jobs.submit', {
      group: 'up-test',
      name: 'queued at the stop',
      taskType: 'hello',
      runAt: new Date(Date.now() + 3000).toISOString(),
    }));

    const stoppingAt = Date.now();
    const code = await interrupt(run);
    const stopMs = Date.now() - stoppingAt;
    assert.equal(code, 0, `drover up exited with ${code} after ${stopMs} ms\n${run.output()}`);
    assert.match(run.output(), /^stopping: draining workers \(deadline 10 s\)\.\.\.$/m);
    assert.match(run.output(), /^stopped; /m);
    toldBeforeStop = told(run.output());
    assert.ok(toldBeforeStop.length > 0, 'the ticker told finished jobs');
  });

  it('starts again where it stopped: same workers, results kept, the queued job run, the demo jobs not again', async () => {
    const run = startUp(dataDir, port);
    runs.push(run);
    await dashboardLink(run);
    assert.equal(
      readFileSync(join(dataDir, 'admin-token'), 'utf8'),
      adminToken,
      'the same local admin credential',
    );

    const ids = await until('local-1 and local-2 online again', 30_000, onlineWorkers);
    assert.deepEqual(ids, workerIds, 'the same names are the same workers');

    const ran = await until('the job queued at the stop, succeeded', 30_000, async () => {
      const current = await job(queued.id);
      return current.status === 'succeeded' ? current : undefined;
    });
    const [task] = await tasks(ran.id);
    assert.equal(task?.result, 'hi!');
    assert.ok(
      Date.parse(task.startedAt ?? '') >= run.spawnedAt,
      `it ran after the restart (started ${task.startedAt})`,
    );

    for (const before of succeeded) {
      const now = await job(before.job.id);
      assert.equal(now.status, 'succeeded', `${now.name} (${now.id})`);
      assert.deepEqual(
        (await tasks(now.id)).map((x) => x.result),
        before.tasks.map((x) => x.result),
        `${now.name} keeps its results`,
      );
    }

    const demo = await jobs('demo');
    assert.deepEqual(
      demo.map((j) => j.id).sort(),
      demoJobs.map((j) => j.id).sort(),
      'the demo jobs are not submitted again',
    );
    assert.doesNotMatch(run.output(), /^submitted "/m);
    assert.equal(run.output().match(/ is already there in group "demo"/g)?.length, 3);

    // Once the ticker has told a job of this run, it has read past everything from before: no
    // job it told before the stop may come again.
    await until('the ticker telling a fractal job of this run', 30_000, async () => {
      const fresh = (await jobs('fractals')).filter(
        (j) => j.status === 'succeeded' && Date.parse(j.createdAt) >= run.spawnedAt,
      );
      return fresh.some((j) => told(run.output()).includes(j.id)) ? true : undefined;
    });
    const again = told(run.output()).filter((id) => toldBeforeStop.includes(id));
    assert.deepEqual(again, [], 'jobs told before the stop are not told again');

    assert.equal(await interrupt(run), 0, run.output());
  });
  it('takes its workers along when it is killed, so the next farm has its own local-1 and local-2', async () => {
    const run = startUp(dataDir, port);
    runs.push(run);
    await until('local-1 and local-2 online', 30_000, onlineWorkers);
    const state = join(dataDir, 'state');
    /** The worker processes of this data directory still running. */
    const workerProcesses = () =>
      readdirSync('/proc')
        .filter((entry) => /^\d+$/.test(entry))
        .filter((pid) => {
          try {
            return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(state);
          } catch {
            return false; // Gone meanwhile.
          }
        });
    assert.equal(workerProcesses().length, 2);
    run.child.kill('SIGKILL'); // The farm alone, not its process group.
    await until('its workers to end', 20_000, () =>
      Promise.resolve(workerProcesses().length === 0 ? true : undefined),
    );

    const next = startUp(dataDir, port);
    runs.push(next);
    await until('the next farm up', 60_000, () =>
      Promise.resolve(next.output().includes('producing') ? true : undefined),
    );
    await until('local-1 and local-2 joining the next farm', 30_000, async () => {
      const { workers } = await call(server, 'workers.list', {});
      const joined = workers.filter(
        (w) => w.state === 'online' && Date.parse(w.lastSeenAt) >= next.spawnedAt,
      );
      return joined.length === 2 ? true : undefined;
    });
    assert.doesNotMatch(next.output(), /Another worker on this machine|is connected already/);
    assert.equal(await interrupt(next), 0, next.output());
  });
});
