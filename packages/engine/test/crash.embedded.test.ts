// A kill -9 of the process that owns a PGlite directory, in the middle of a stream of submissions,
// loses no acknowledged one: a child submits jobs as fast as it can and prints each acknowledged
// job; the test kills it, opens the directory itself (taking over the dead child's lock) and finds
// every acknowledged job with all its tasks. Then again on the same directory, a few times.
import { spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DroverError } from '@drover/protocol';
import { openEngine } from '../src/index.js';
import type { Engine } from '../src/index.js';
import { openTestEngine } from './harness.js';

const submitter = fileURLToPath(new URL('./fixtures/submitter.js', import.meta.url));

const ROUNDS = 3;

interface Ack {
  group: string;
  n: number;
  jobId: string;
  taskCount: number;
}

/**
 * Runs the submitter on `dataDir` until it has acknowledged `killAfter` jobs, kills it with
 * SIGKILL while it keeps submitting, and returns every job it acknowledged, including those whose
 * lines were still in the pipe when it died.
 */
async function submitAndKill(
  dataDir: string,
  group: string,
  killAfter: number,
): Promise<{ pid: number; acks: Ack[] }> {
  const child = spawn(process.execPath, [submitter, dataDir, group], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const pid = child.pid;
  assert.ok(pid);
  const acks: Ack[] = [];
  try {
    let opened = false;
    // Ends when the child's stdout closes: it is dead and every line it wrote has been read.
    for await (const line of createInterface({ input: child.stdout })) {
      if (line === 'open' && !opened) {
        opened = true;
        continue;
      }
      const ack = /^ack (\d+) ([0-9a-f-]{36}) (\d+)$/.exec(line);
      assert.ok(opened && ack, `unexpected line from the submitter: ${JSON.stringify(line)}`);
      const n = Number(ack[1]);
      assert.equal(n, acks.length, 'the submitter acknowledges jobs in order');
      acks.push({ group, n, jobId: String(ack[2]), taskCount: Number(ack[3]) });
      if (acks.length === killAfter) child.kill('SIGKILL');
    }
  } finally {
    child.kill('SIGKILL');
  }
  const { code, signal } = await exited;
  assert.equal(
    signal,
    'SIGKILL',
    `the submitter stopped by itself (exit code ${code}) after ${acks.length} jobs:\n${stderr}`,
  );
  assert.ok(acks.length >= killAfter);
  return { pid, acks };
}

/** Every acknowledged job is there with all its tasks, and nothing else was half-written. */
async function verify(
  engine: Engine,
  acks: readonly Ack[],
  groups: readonly string[],
): Promise<number> {
  let unacknowledged = 0;
  const lost: string[] = [];
  for (const ack of acks) {
    const job = await engine.getJob(ack.jobId).catch((error: unknown) => {
      if (error instanceof DroverError && error.code === 'DROVER_E_NOT_FOUND') return undefined;
      throw error;
    });
    if (!job) {
      lost.push(`${ack.group}/${ack.n} (job ${ack.jobId})`);
      continue;
    }
    assert.equal(job.group, ack.group);
    assert.equal(job.idempotencyKey, String(ack.n));
    assert.deepEqual(job.params, { n: ack.n });
    assert.equal(job.status, 'queued');
    assert.equal(job.taskCount, ack.taskCount, `job ${ack.group}/${ack.n}`);
    assert.equal(job.counts.queued, ack.taskCount, `job ${ack.group}/${ack.n}`);
    const tasks = await engine.listTasks(ack.jobId);
    assert.equal(tasks.length, ack.taskCount, `tasks of job ${ack.group}/${ack.n}`);
    assert.deepEqual(
      tasks.map((t) => [t.index, t.status, t.params]),
      tasks.map((_, i) => [i, 'queued', { n: ack.n, i }]),
    );
  }
  assert.deepEqual(lost, [], `${lost.length} of ${acks.length} acknowledged jobs are lost`);
  // The submitter waits for each job before the next, so at most one job per round, the one in
  // flight at the kill, may have been committed without being acknowledged; it must be whole too.
  for (const group of groups) {
    const acked = new Set(acks.filter((a) => a.group === group).map((a) => a.jobId));
    const jobs = await engine.listJobs({ group, limit: 1000 });
    assert.ok(jobs.length < 1000, 'the page holds all jobs of the group');
    const extra = jobs.filter((j) => !acked.has(j.id));
    unacknowledged += extra.length;
    assert.ok(
      jobs.length - extra.length === acked.size && extra.length <= 1,
      `${group}: ${acked.size} acknowledged jobs, ${jobs.length} stored, ${extra.length} not acknowledged`,
    );
    for (const job of extra) {
      assert.equal(job.idempotencyKey, String(acked.size));
      assert.equal(job.counts.queued, job.taskCount);
      assert.equal((await engine.listTasks(job.id)).length, job.taskCount);
    }
  }
  return unacknowledged;
}

const dirs: string[] = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('a crash of the process that owns a PGlite directory', { timeout: 90_000 }, () => {
  it('loses no acknowledged submission, kill after kill', async (t) => {
    const template = await openTestEngine();
    // Close only the engine: the harness's close would delete the directory.
    await template.engine.close();
    const dataDir = template.dataDir;
    assert.ok(dataDir);
    dirs.push(dataDir);

    const acks: Ack[] = [];
    const groups: string[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      const group = `crash-${round}`;
      groups.push(group);
      // Somewhere in the hundreds, so the kill lands at a different point each round.
      const killAfter = 200 + Math.floor(Math.random() * 200);
      const started = Date.now();
      const run = await submitAndKill(dataDir, group, killAfter);
      const killed = Date.now();
      acks.push(...run.acks);

      const lock = JSON.parse(readFileSync(join(dataDir, 'drover.lock'), 'utf8')) as {
        pid: number;
      };
      assert.equal(lock.pid, run.pid, 'the killed child left its lock behind');
      const engine = await openEngine({ dataDir });
      try {
        const unacknowledged = await verify(engine, acks, groups);
        t.diagnostic(
          `round ${round}: killed after ${killAfter} acknowledged jobs, ${run.acks.length} read; ` +
            `${acks.length} verified, ${unacknowledged} stored but never acknowledged; ` +
            `${killed - started} ms submitting, ${Date.now() - killed} ms reopening and verifying`,
        );
      } finally {
        await engine.close();
      }
    }
  });
});
