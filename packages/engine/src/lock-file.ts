import {
  linkSync,
  mkdirSync,
  readFileSync,
  rmSync,
  rmdirSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { DroverError } from '@drover/protocol';

interface LockOwner {
  pid: number;
  host: string;
  since: string;
}

/** A takeover left behind by a process that died in the middle of one is cleared after this. */
const ABANDONED_TAKEOVER_MS = 10_000;

/**
 * An exclusive lock on a data directory: the file `path` holds the owner's pid and host. PGlite
 * corrupts a directory that two processes open, so a second opener gets
 * `DROVER_E_DATA_DIR_LOCKED` instead. A lock left by a process that no longer runs on this host
 * (killed, crashed) is taken over; one held from another host never is.
 *
 * Two rules make it hold when openers race: the lock file appears with its contents in one step
 * (written aside, then hard-linked into place, which fails if the name exists), and only the one
 * process that created the takeover directory may remove a stale lock.
 */
export class LockFile {
  readonly path: string;
  #released = false;

  private constructor(path: string) {
    this.path = path;
  }

  static acquire(path: string): LockFile {
    const me: LockOwner = { pid: process.pid, host: hostname(), since: new Date().toISOString() };
    for (let tries = 0; tries < 50; tries++) {
      if (tryCreate(path, me)) return new LockFile(path);
      const owner = readOwner(path);
      if (owner && (owner.host !== hostname() || isAlive(owner.pid))) throw locked(path, owner);
      // The owner is gone (or the file is unreadable): take the stale lock over, one process at a time.
      if (takeOver(path, owner, me)) return new LockFile(path);
      sleepSync(10 + Math.random() * 20);
    }
    throw new DroverError(
      'DROVER_E_DATA_DIR_LOCKED',
      `Could not take the lock file ${path}: other processes keep contending for it.`,
    );
  }

  release(): void {
    if (this.#released) return;
    this.#released = true;
    const owner = readOwner(this.path);
    if (owner?.pid === process.pid && owner.host === hostname()) rmSync(this.path, { force: true });
  }
}

/** Creates the lock file with its contents at once; false if it exists. */
function tryCreate(path: string, owner: LockOwner): boolean {
  const aside = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}`;
  writeFileSync(aside, JSON.stringify(owner));
  try {
    linkSync(aside, path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    rmSync(aside, { force: true });
  }
}

/** Replaces a stale lock by ours, if this process wins the takeover; false to try again. */
function takeOver(path: string, stale: LockOwner | undefined, me: LockOwner): boolean {
  const takeover = `${path}.takeover`;
  try {
    mkdirSync(takeover);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    clearAbandonedTakeover(takeover);
    return false;
  }
  try {
    // Still the same stale lock? Another process may have replaced it before we got here.
    const current = readOwner(path);
    if (current?.pid !== stale?.pid || current?.host !== stale?.host) return false;
    rmSync(path, { force: true });
    return tryCreate(path, me);
  } finally {
    rmdirSync(takeover);
  }
}

function clearAbandonedTakeover(takeover: string): void {
  try {
    if (Date.now() - statSync(takeover).mtimeMs > ABANDONED_TAKEOVER_MS) rmdirSync(takeover);
  } catch {
    // Gone already.
  }
}

function locked(path: string, owner: LockOwner): DroverError {
  return new DroverError(
    'DROVER_E_DATA_DIR_LOCKED',
    `The data directory is in use by process ${owner.pid} on ${owner.host} (since ${owner.since}); lock file ${path}. Stop that process, or connect to it instead of opening the directory twice.`,
    { details: owner },
  );
}

function readOwner(path: string): LockOwner | undefined {
  try {
    const parsed = JSON.parse(readFileSync(path, 'utf8')) as Partial<LockOwner>;
    if (typeof parsed.pid === 'number' && typeof parsed.host === 'string') {
      return { pid: parsed.pid, host: parsed.host, since: String(parsed.since) };
    }
  } catch {
    // Missing, or written by something else: no live owner can be named.
  }
  return undefined;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
