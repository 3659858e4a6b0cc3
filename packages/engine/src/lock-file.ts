import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { DroverError } from '@drover/protocol';

interface LockOwner {
  pid: number;
  host: string;
  since: string;
}

/**
 * An exclusive lock on a data directory: the file `path` holds the owner's pid and host. PGlite
 * corrupts a directory that two processes open, so a second opener gets
 * `DROVER_E_DATA_DIR_LOCKED` instead. A lock left by a process that no longer runs on this host
 * (killed, crashed) is taken over; one held from another host never is.
 */
export class LockFile {
  readonly path: string;
  #released = false;

  private constructor(path: string) {
    this.path = path;
  }

  static acquire(path: string): LockFile {
    for (let tries = 0; tries < 3; tries++) {
      let fd: number;
      try {
        fd = openSync(path, 'wx');
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        const owner = readOwner(path);
        if (owner && (owner.host !== hostname() || isAlive(owner.pid))) {
          throw new DroverError(
            'DROVER_E_DATA_DIR_LOCKED',
            `The data directory is in use by process ${owner.pid} on ${owner.host} (since ${owner.since}); lock file ${path}. Stop that process, or connect to it instead of opening the directory twice.`,
            { details: owner },
          );
        }
        // The owner is gone: the lock is stale.
        rmSync(path, { force: true });
        continue;
      }
      const owner: LockOwner = {
        pid: process.pid,
        host: hostname(),
        since: new Date().toISOString(),
      };
      writeSync(fd, JSON.stringify(owner));
      closeSync(fd);
      return new LockFile(path);
    }
    throw new DroverError(
      'DROVER_E_DATA_DIR_LOCKED',
      `Could not take the lock file ${path}; another process keeps taking it.`,
    );
  }

  release(): void {
    if (this.#released) return;
    this.#released = true;
    const owner = readOwner(this.path);
    if (owner?.pid === process.pid && owner.host === hostname()) rmSync(this.path, { force: true });
  }
}

function readOwner(path: string): LockOwner | undefined {
  try {
    const parsed = JSON.parse(readFileSync(path, 'utf8')) as Partial<LockOwner>;
    if (typeof parsed.pid === 'number' && typeof parsed.host === 'string') {
      return { pid: parsed.pid, host: parsed.host, since: String(parsed.since) };
    }
  } catch {
    // An empty or half-written file: its writer died between creating and writing it.
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
