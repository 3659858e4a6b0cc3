// The tokens a benchmark signs in with on a `drover server` it started: every call needs one.
// An embedded farm (PGlite) keeps an admin and a worker token in its data directory (written by
// `drover server` before it listens); a farm on a PostgreSQL database keeps none, so the
// benchmark makes them with `drover tokens create --database-url`, straight in the database,
// before it starts the server. A token goes to a child process in its environment (DROVER_TOKEN)
// or over IPC, never on its command line, where every user of the machine could read it.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

/** The admin and worker tokens `drover server` keeps in an embedded farm's data directory. */
export function localTokens(dataDir) {
  const read = (file) => readFileSync(join(dataDir, file), 'utf8').split('\n')[0].trim();
  return { admin: read('admin-token'), worker: read('worker-token') };
}

/**
 * An admin and a worker token made in the (migrated) database at `databaseUrl` by the drover
 * command `cli`, run with `cwd` and `env` (without DROVER_* settings of whoever runs the bench).
 */
export async function createTokens(cli, databaseUrl, { cwd, env, dataDir }) {
  const create = async (role) => {
    const args = [cli, 'tokens', 'create', '--database-url', databaseUrl, '--json'];
    args.push('--data-dir', dataDir, '--role', role, '--name', `bench ${role}`);
    const { stdout } = await promisify(execFile)(process.execPath, args, { cwd, env });
    return JSON.parse(stdout).secret;
  };
  return { admin: await create('admin'), worker: await create('worker') };
}
