import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, hostname } from 'node:os';
import { join } from 'node:path';

/** Who a worker process is: its name, and the secret that proves it is that worker coming back. */
export interface WorkerIdentity {
  name: string;
  /** Sent in `workers.hello`; the same for this worker across its restarts on this machine. */
  instance: string;
  /** The state file that keeps them. */
  file: string;
  /** Lets another process take this identity (done by itself when the process exits). */
  release(): void;
}

/** The most workers without `--name` one machine runs at once from one state directory. */
const MAX_DEFAULT_SLOTS = 1024;

/**
 * Where workers keep their identities: `DROVER_STATE_DIR`, else `$XDG_STATE_HOME/drover`, else
 * `~/.local/state/drover`.
 */
export function defaultStateDir(): string {
  if (process.env.DROVER_STATE_DIR) return process.env.DROVER_STATE_DIR;
  const base = process.env.XDG_STATE_HOME || join(homedir(), '.local', 'state');
  return join(base, 'drover');
}

/**
 * Takes an identity for this process from the state directory, one per live process.
 *
 * With a `name`, the identity is that name's on that server: a second live process on this
 * machine asking for it is refused here, before it could fight the first over the name on the
 * server (another farm's worker of the same name is another worker). Without one, it
 * is the first free default identity: the host's name plus a suffix made once and kept, so a
 * worker restarted keeps its name (and its history on the farm), and two workers started side by
 * side get two names.
 *
 * Each identity is a small JSON file (name and instance secret, readable by its owner only) and a
 * lock file holding the pid of the process that has it; a lock whose process is gone is stale.
 */
export function claimIdentity(options: {
  stateDir: string;
  /** The farm's URL, or its replicas' URLs: a name is a worker of one farm. */
  server: string | readonly string[];
  name?: string;
  host?: string;
}): WorkerIdentity {
  const dir = join(options.stateDir, 'workers');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (options.name !== undefined) {
    // The same servers in any order are the same farm; one URL keeps the key it always had.
    const servers = typeof options.server === 'string' ? [options.server] : [...options.server];
    const farm = createHash('sha256').update(servers.sort().join(',')).digest('hex').slice(0, 12);
    const key = `${options.name}@${farm}`;
    const holder = lock(dir, key);
    if (holder !== undefined) {
      throw new Error(
        `Another worker on this machine runs as ${options.name} (pid ${holder}): give this one another --name, or stop that one first.`,
      );
    }
    return identityOf(dir, key, () => options.name ?? '');
  }
  const host = hostLabel(options.host ?? hostname());
  for (let slot = 1; slot <= MAX_DEFAULT_SLOTS; slot++) {
    const key = `default-${slot}`;
    if (lock(dir, key) !== undefined) continue;
    return identityOf(dir, key, () => `${host}-${randomBytes(2).toString('hex')}`);
  }
  throw new Error(`Every one of ${MAX_DEFAULT_SLOTS} worker identities in ${dir} is in use.`);
}

/** The identity kept under `key` (made now if new), for the process that holds its lock. */
function identityOf(dir: string, key: string, newName: () => string): WorkerIdentity {
  const file = join(dir, `${key}.json`);
  let kept: { name?: unknown; instance?: unknown } = {};
  try {
    kept = JSON.parse(readFileSync(file, 'utf8')) as typeof kept;
  } catch {
    // Missing or unreadable: a new identity is made below.
  }
  const name = typeof kept.name === 'string' && kept.name !== '' ? kept.name : newName();
  const instance =
    typeof kept.instance === 'string' && kept.instance.length >= 16
      ? kept.instance
      : randomBytes(24).toString('base64url');
  if (kept.name !== name || kept.instance !== instance)
    writeFileSync(file, `${JSON.stringify({ name, instance })}\n`, { mode: 0o600 });
  const lockFile = join(dir, `${key}.pid`);
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    process.off('exit', release);
    if (holderOf(lockFile) === process.pid) rmSync(lockFile, { force: true });
  };
  process.on('exit', release);
  return { name, instance, file, release };
}

/**
 * Takes `key`'s lock for this process. Resolves to undefined once taken, or to the pid of the
 * live process that holds it.
 */
function lock(dir: string, key: string): number | undefined {
  const file = join(dir, `${key}.pid`);
  for (let tries = 0; tries < 2; tries++) {
    try {
      writeFileSync(file, String(process.pid), { flag: 'wx', mode: 0o600 });
      return undefined;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = holderOf(file);
    if (holder !== undefined && isAlive(holder)) return holder;
    // Left by a process that is gone: take it over.
    rmSync(file, { force: true });
  }
  return holderOf(file) ?? -1;
}

function holderOf(lockFile: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(lockFile, 'utf8'), 10);
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, as another user's.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The host's name as the start of a worker name: its allowed characters, short enough. */
function hostLabel(host: string): string {
  const label = host
    .replace(/[^A-Za-z0-9._:-]/g, '-')
    .replace(/^[^A-Za-z0-9]+/, '')
    .slice(0, 58);
  return label === '' ? 'worker' : label;
}
