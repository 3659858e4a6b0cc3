// The data-directory lock with real processes: a directory another process holds is refused with
// DROVER_E_DATA_DIR_LOCKED, a lock left by a dead process is taken over, and closing releases it.
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DroverError } from '@drover/protocol';
import { openEngine } from '../src/index.js';
import { openTestEngine } from './harness.js';

const holdLock = fileURLToPath(new URL('./fixtures/hold-lock.js', import.meta.url));
const lockRacer = fileURLToPath(new URL('./fixtures/lock-racer.js', import.meta.url));

const dirs: string[] = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** A fresh, migrated data directory (a copy of the harness's template) that nobody holds. */
async function freshDataDir(): Promise<string> {
  const t = await openTestEngine();
  // Close the engine only: the harness's close would delete the directory.
  await t.engine.close();
  assert.ok(t.dataDir);
  dirs.push(t.dataDir);
  return t.dataDir;
}

function lockPath(dataDir: string): string {
  return join(dataDir, 'drover.lock');
}

function readLock(dataDir: string): { pid: number; host: string } {
  return JSON.parse(readFileSync(lockPath(dataDir), 'utf8')) as { pid: number; host: string };
}

interface Holder {
  child: ChildProcess;
  pid: number;
  jobId: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts a child that opens the directory, submits a job and holds the lock until signalled. */
async function startHolder(dataDir: string): Promise<Holder> {
  const child = spawn(process.execPath, [holdLock, dataDir], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  assert.ok(child.stdout && child.pid);
  for await (const line of createInterface({ input: child.stdout })) {
    const ready = /^ready (\S+)$/.exec(line);
    if (ready?.[1]) return { child, pid: child.pid, jobId: ready[1], exited };
  }
  const { code, signal } = await exited;
  assert.fail(`the holder exited (${code ?? signal}) before it was ready:\n${stderr}`);
}

function isLocked(pid: number) {
  return (error: unknown): boolean => {
    assert.ok(error instanceof DroverError, `expected a DroverError, got ${String(error)}`);
    assert.equal(error.code, 'DROVER_E_DATA_DIR_LOCKED');
    assert.match(error.message, new RegExp(`\\bprocess ${pid}\\b`));
    return true;
  };
}

/** The pid of a process that has already exited. */
function deadPid(): number {
  const result = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], {
    encoding: 'utf8',
  });
  const pid = Number(result.stdout);
  assert.ok(Number.isInteger(pid) && pid > 0);
  assert.throws(() => process.kill(pid, 0), { code: 'ESRCH' });
  return pid;
}

async function expectJob(dataDir: string, jobId: string, taskCount: number): Promise<void> {
  const engine = await openEngine({ dataDir });
  try {
    const job = await engine.getJob(jobId);
    assert.equal(job.taskCount, taskCount);
    assert.equal(job.counts.queued, taskCount);
    assert.equal((await engine.listTasks(jobId)).length, taskCount);
  } finally {
    await engine.close();
  }
  assert.equal(existsSync(lockPath(dataDir)), false, 'close removes the lock file');
}

describe('the data directory lock', { timeout: 120_000 }, () => {
  it('refuses a second opener while another process holds the directory', async () => {
    const dataDir = await freshDataDir();
    const holder = await startHolder(dataDir);
    try {
      await assert.rejects(openEngine({ dataDir }), isLocked(holder.pid));
      const lock = readLock(dataDir);
      assert.deepEqual({ pid: lock.pid, host: lock.host }, { pid: holder.pid, host: hostname() });
      // Trying again changes nothing: the refused opener neither removed nor rewrote the lock.
      await assert.rejects(openEngine({ dataDir }), isLocked(holder.pid));
      assert.equal(readLock(dataDir).pid, holder.pid);
      assert.equal(holder.child.exitCode, null, 'the holder still runs');
    } finally {
      holder.child.kill('SIGTERM');
    }
    assert.deepEqual(await holder.exited, { code: 0, signal: null });
    assert.equal(existsSync(lockPath(dataDir)), false, 'a clean close removes the lock file');
    await expectJob(dataDir, holder.jobId, 2);
  });

  it('takes over the lock of a holder killed with SIGKILL', async () => {
    const dataDir = await freshDataDir();
    const holder = await startHolder(dataDir);
    holder.child.kill('SIGKILL');
    assert.deepEqual(await holder.exited, { code: null, signal: 'SIGKILL' });
    assert.equal(readLock(dataDir).pid, holder.pid, 'a killed holder leaves its lock behind');
    await expectJob(dataDir, holder.jobId, 2);
  });

  it('takes over a lock naming a pid that no longer runs on this host', async () => {
    const dataDir = await freshDataDir();
    const pid = deadPid();
    writeFileSync(
      lockPath(dataDir),
      JSON.stringify({ pid, host: hostname(), since: new Date().toISOString() }),
    );
    const engine = await openEngine({ dataDir });
    try {
      assert.equal(readLock(dataDir).pid, process.pid);
    } finally {
      await engine.close();
    }
    assert.equal(existsSync(lockPath(dataDir)), false);
  });

  it('takes over an empty lock file (its writer died before writing it)', async () => {
    const dataDir = await freshDataDir();
    writeFileSync(lockPath(dataDir), '');
    const engine = await openEngine({ dataDir });
    try {
      assert.equal(readLock(dataDir).pid, process.pid);
    } finally {
      await engine.close();
    }
  });

  it('never takes over a lock held from another host', async () => {
    const dataDir = await freshDataDir();
    const pid = deadPid();
    const host = `not-${hostname()}`;
    const lock = JSON.stringify({ pid, host, since: new Date().toISOString() });
    writeFileSync(lockPath(dataDir), lock);
    await assert.rejects(openEngine({ dataDir }), (error: unknown) => {
      assert.ok(isLocked(pid)(error));
      assert.ok((error as DroverError).message.includes(host));
      return true;
    });
    assert.equal(readFileSync(lockPath(dataDir), 'utf8'), lock);
  });

  it('goes to exactly one of several processes that take it at the same moment', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'drover-lock-race-'));
    dirs.push(dir);
    const racers = 3;
    const trials = 30;
    const slotMs = 40;
    // Every other trial starts from a stale lock (a dead pid on this host) instead of none.
    const stale = JSON.stringify({ pid: deadPid(), host: hostname(), since: 'then' });
    for (let k = 1; k < trials; k += 2) writeFileSync(join(dir, `lock-${k}`), stale);
    const startAt = Date.now() + 500;
    const outputs = await Promise.all(
      Array.from({ length: racers }, () => {
        const args = [lockRacer, dir, String(startAt), String(trials), String(slotMs)];
        const racer = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
        let out = '';
        racer.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
        return new Promise<string>((resolve, reject) =>
          racer.once('close', (code) =>
            code === 0 ? resolve(out) : reject(new Error(`a racer exited with ${code}`)),
          ),
        );
      }),
    );
    const owners = Array.from({ length: trials }, () => 0);
    for (const line of outputs.join('').split('\n').filter(Boolean)) {
      const [k, result] = line.split(' ');
      assert.ok(result === 'got' || result === 'locked', line);
      if (result === 'got') owners[Number(k)] = (owners[Number(k)] ?? 0) + 1;
    }
    const wrong = owners.flatMap((n, k) => (n === 1 ? [] : [`lock-${k}: ${n} owners`]));
    assert.deepEqual(wrong, [], `${wrong.length} of ${trials} races did not end with one owner`);
  });

  it('is released by close, so the same process can open the directory again', async () => {
    const dataDir = await freshDataDir();
    const first = await openEngine({ dataDir });
    let jobId: string;
    try {
      assert.equal(readLock(dataDir).pid, process.pid);
      // The same process may not open it twice either: two PGlites on one directory corrupt it.
      await assert.rejects(openEngine({ dataDir }), isLocked(process.pid));
      ({
        job: { id: jobId },
      } = await first.submit({ group: 'lock', taskType: 'noop', items: [{ i: 0 }, { i: 1 }] }));
    } finally {
      await first.close();
    }
    assert.equal(existsSync(lockPath(dataDir)), false, 'close removes the lock file');
    await expectJob(dataDir, jobId, 2);
    // And once more, to see the second close released it too.
    await expectJob(dataDir, jobId, 2);
  });
});
