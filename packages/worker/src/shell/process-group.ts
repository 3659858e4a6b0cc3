import { readFile, readdir } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

/** How often a stopping group is looked at. */
const POLL_MS = 50;
/** How long a group may take to disappear after SIGKILL before it is given up on. */
const KILL_WAIT_MS = 5000;
/** How many /proc entries are read at once. */
const SCAN_BATCH = 64;

/**
 * Sends `signal` to every process of the group. Returns false when the group has no process left.
 */
export function signalGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
    // EPERM: a member we may not signal (it changed its user); it is still there.
    return true;
  }
}

/**
 * Whether any process of the group can still run. A member that has exited but not yet been reaped
 * (a zombie) still counts for kill(2), and orphans are reaped by init, which in some containers
 * takes seconds or never happens; on Linux, /proc tells them apart.
 */
export async function groupAlive(pgid: number): Promise<boolean> {
  if (!signalGroup(pgid, 0)) return false;
  if (process.platform !== 'linux') return true;
  let entries: string[];
  try {
    entries = await readdir('/proc');
  } catch {
    return true;
  }
  const pids = entries.filter((name) => /^[0-9]+$/.test(name));
  // In batches, so that a host with many processes does not cost as many open files at once.
  for (let i = 0; i < pids.length; i += SCAN_BATCH) {
    const batch = pids.slice(i, i + SCAN_BATCH);
    const states = await Promise.all(batch.map((pid) => processState(pid, pgid)));
    if (states.some((state) => state !== undefined && state !== 'Z' && state !== 'X')) return true;
  }
  return false;
}

/** The state letter of a process in the group, or undefined if it is not in it (or gone). */
async function processState(pid: string, pgid: number): Promise<string | undefined> {
  let stat: string;
  try {
    stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // "pid (comm) state ppid pgrp ...": comm may itself hold spaces and parentheses.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[2]) === pgid ? fields[0] : undefined;
}

/** Waits until the group has no process that can run, or the deadline; returns whether it is gone. */
async function waitGone(pgid: number, ms: number): Promise<boolean> {
  const deadline = performance.now() + ms;
  for (;;) {
    if (!(await groupAlive(pgid))) return true;
    const left = deadline - performance.now();
    if (left <= 0) return false;
    await sleep(Math.min(POLL_MS, left));
  }
}

/**
 * Stops every process of a group: SIGTERM, then SIGKILL to whatever is left after `graceMs`.
 * Resolves once nothing of the group can run any more (or, if something survives SIGKILL, such as
 * a process stuck in the kernel, after a bounded wait).
 */
export async function stopGroup(pgid: number, graceMs: number): Promise<void> {
  if (!(await groupAlive(pgid))) return;
  signalGroup(pgid, 'SIGTERM');
  // A stopped process (SIGSTOP, ^Z) would hold SIGTERM until continued.
  signalGroup(pgid, 'SIGCONT');
  if (await waitGone(pgid, graceMs)) return;
  signalGroup(pgid, 'SIGKILL');
  await waitGone(pgid, KILL_WAIT_MS);
}
