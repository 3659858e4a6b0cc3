import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import { ShellTaskTemplate, runShellTask } from '../src/shell/index.js';
import type { ShellTaskResult } from '../src/shell/index.js';

const GRACE_MS = 1000;

/**
 * The members of a process group that can still run, read from /proc independently of the code
 * under test. Zombies are left out: orphans are reaped by init, which here may take seconds.
 */
function liveMembers(pgid: number): number[] {
  const live: number[] = [];
  for (const pid of readdirSync('/proc').filter((name) => /^[0-9]+$/.test(name))) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      continue;
    }
    const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(pgrp) === pgid && state !== 'Z' && state !== 'X') live.push(Number(pid));
  }
  return live;
}

function groupExists(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (error) {
    assert.equal((error as NodeJS.ErrnoException).code, 'ESRCH');
    return false;
  }
}

/** Checks nothing of the group runs now, and that kill(-pgid, 0) reports ESRCH once reaped. */
async function assertGroupGone(t: TestContext, pgid: number): Promise<void> {
  if (process.platform === 'linux') assert.deepEqual(liveMembers(pgid), [], 'no live member');
  const started = performance.now();
  while (groupExists(pgid)) {
    assert.ok(performance.now() - started < 5000, `group ${pgid} was never reaped`);
    await sleep(20);
  }
  t.diagnostic(`ESRCH ${Math.round(performance.now() - started)} ms after the result`);
}

describe('stopping shell tasks', () => {
  let root: string;
  let n = 0;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'drover-shell-stop-'));
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  /**
   * Runs `script` with sh; its first line of output is "<its pid> <background pid>". Aborts as
   * soon as that line arrives (unless `abort` is false) and measures from there to the result.
   */
  async function run(
    script: string,
    options: { abort?: boolean; timeoutMs?: number } = {},
  ): Promise<{ result: ShellTaskResult; pgid: number; elapsedMs: number }> {
    const template = ShellTaskTemplate.parse({
      name: 'test.stop',
      argv: ['sh', '-c', script],
      graceMs: GRACE_MS,
      ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
    });
    const controller = new AbortController();
    let pgid = 0;
    let from = performance.now();
    const result = await runShellTask(
      template,
      {},
      {
        outDir: join(root, `out-${++n}`),
        signal: controller.signal,
        onLine: (stream, line) => {
          if (stream !== 'stdout' || pgid !== 0) return;
          pgid = Number(line.split(' ')[0]);
          if (options.abort === false) return;
          from = performance.now();
          controller.abort();
        },
      },
    );
    const elapsedMs = Math.round(performance.now() - from);
    assert.ok(pgid > 0, 'the script reported its pid');
    return { result, pgid, elapsedMs };
  }

  it('cancel stops a cooperative command and its background child at once', async (t) => {
    const { result, pgid, elapsedMs } = await run('sleep 30 & echo "$$ $!"; wait');
    t.diagnostic(`cancelled in ${elapsedMs} ms`);
    assert.equal(result.cancelled, true);
    assert.equal(result.timedOut, false);
    assert.equal(result.signal, 'SIGTERM');
    assert.ok(elapsedMs < GRACE_MS, `${elapsedMs} ms`);
    await assertGroupGone(t, pgid);
  });

  it('cancel kills a command that ignores SIGTERM, with its child, after graceMs', async (t) => {
    // An ignored signal stays ignored in children, so the background sleep ignores it too.
    const script = `trap '' TERM; sleep 30 & echo "$$ $!"; wait`;
    const { result, pgid, elapsedMs } = await run(script);
    t.diagnostic(`cancelled in ${elapsedMs} ms (graceMs ${GRACE_MS})`);
    assert.equal(result.cancelled, true);
    assert.equal(result.signal, 'SIGKILL');
    assert.ok(elapsedMs >= GRACE_MS - 50 && elapsedMs < GRACE_MS + 1000, `${elapsedMs} ms`);
    await assertGroupGone(t, pgid);
  });

  it('cancel waits for a grandchild that ignores SIGTERM after the command itself died', async (t) => {
    const script = `(trap '' TERM; exec sleep 30) & echo "$$ $!"; wait`;
    const { result, pgid, elapsedMs } = await run(script);
    t.diagnostic(`cancelled in ${elapsedMs} ms (graceMs ${GRACE_MS})`);
    assert.equal(result.cancelled, true);
    assert.equal(result.signal, 'SIGTERM', 'sh itself ended on SIGTERM');
    assert.ok(elapsedMs >= GRACE_MS - 50 && elapsedMs < GRACE_MS + 1000, `${elapsedMs} ms`);
    await assertGroupGone(t, pgid);
  });

  it('timeoutMs stops a command that runs too long', async (t) => {
    const started = performance.now();
    const { result, pgid } = await run('echo "$$"; exec sleep 30', {
      abort: false,
      timeoutMs: 300,
    });
    const elapsedMs = Math.round(performance.now() - started);
    t.diagnostic(`timed out after ${elapsedMs} ms`);
    assert.equal(result.timedOut, true);
    assert.equal(result.cancelled, false);
    assert.equal(result.exitCode, null);
    assert.equal(result.signal, 'SIGTERM');
    assert.ok(elapsedMs >= 300 && elapsedMs < 300 + 1000, `${elapsedMs} ms`);
    await assertGroupGone(t, pgid);
  });

  it('timeoutMs kills a command that ignores SIGTERM after graceMs', async (t) => {
    const started = performance.now();
    const { result, pgid } = await run(`trap '' TERM; echo "$$"; exec sleep 30`, {
      abort: false,
      timeoutMs: 300,
    });
    const elapsedMs = Math.round(performance.now() - started);
    t.diagnostic(`timed out and killed after ${elapsedMs} ms`);
    assert.equal(result.timedOut, true);
    assert.equal(result.signal, 'SIGKILL');
    assert.ok(elapsedMs >= 300 + GRACE_MS - 50 && elapsedMs < 300 + GRACE_MS + 1000);
    await assertGroupGone(t, pgid);
  });

  it('stops what a command left running when it exits by itself', async (t) => {
    const started = performance.now();
    const { result, pgid } = await run('sleep 30 & echo "$$ $!"; exit 0', { abort: false });
    const elapsedMs = Math.round(performance.now() - started);
    t.diagnostic(`done after ${elapsedMs} ms`);
    assert.equal(result.exitCode, 0);
    assert.equal(result.cancelled, false);
    assert.equal(result.timedOut, false);
    assert.ok(elapsedMs < GRACE_MS, `${elapsedMs} ms`);
    await assertGroupGone(t, pgid);
  });
});
