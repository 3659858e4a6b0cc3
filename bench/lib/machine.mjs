// Facts about the machine and what runs on it, for `npm run bench` (bench/run.mjs): CPUs, memory,
// Node and the commit; the peers pinned in bench/peers/ (installed there when missing) and their
// versions; whether Redis and PostgreSQL answer, and their versions and settings.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { totalmem } from 'node:os';
import pg from 'pg';
import { fmt, log, PEERS, readJson, ROOT } from './common.mjs';

/** The version installed in bench/peers/node_modules of each package bench/peers pins. */
export function peerVersions() {
  const { dependencies } = readJson(new URL('package.json', PEERS));
  return Object.fromEntries(
    Object.keys(dependencies).map((name) => [
      name,
      readJson(new URL(`node_modules/${name}/package.json`, PEERS))?.version,
    ]),
  );
}

/** Installs the peers into bench/peers/ unless exactly the pinned versions are there. */
export function installPeers() {
  const { dependencies } = readJson(new URL('package.json', PEERS));
  const installed = peerVersions();
  if (Object.entries(dependencies).every(([name, version]) => installed[name] === version)) return;
  log('installing the peers into bench/peers/ (npm install --no-audit --no-fund)');
  execFileSync('npm', ['install', '--no-audit', '--no-fund'], {
    cwd: PEERS.pathname,
    stdio: ['ignore', 2, 2],
  });
}

/** Redis's INFO server, straight over a socket: checks that it answers and says its version. */
export function redisInfo(redis) {
  return new Promise((resolve, reject) => {
    const socket = connect(redis.port, redis.host);
    let text = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`Redis at ${redis.host}:${redis.port} does not answer`));
    }, 3000);
    socket.on('connect', () => socket.write('INFO server\r\n'));
    socket.on('data', (chunk) => {
      text += chunk;
      const version = /redis_version:(\S+)/.exec(text);
      if (version) {
        clearTimeout(timer);
        socket.end();
        resolve({ version: version[1] });
      }
    });
    socket.on('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`Redis at ${redis.host}:${redis.port}: ${error.message}`));
    });
  });
}

export async function postgresInfo(databaseUrl) {
  const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 3000 });
  await client.connect();
  try {
    const { rows } = await client.query(
      `SELECT current_setting('server_version') AS version,
              current_setting('fsync') AS fsync,
              current_setting('synchronous_commit') AS synchronous_commit,
              current_setting('shared_buffers') AS shared_buffers,
              current_setting('max_connections') AS max_connections`,
    );
    return rows[0];
  } finally {
    await client.end();
  }
}

function tryCommand(file, args) {
  try {
    return execFileSync(file, args, {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return undefined;
  }
}

export function machine() {
  const cpuinfo = tryRead('/proc/cpuinfo') ?? '';
  const memLine = (tryCommand('free', ['-h']) ?? '').split('\n').find((l) => l.startsWith('Mem:'));
  const commit = tryCommand('git', ['-C', ROOT.pathname, 'rev-parse', '--short', 'HEAD']);
  const dirty = tryCommand('git', ['-C', ROOT.pathname, 'status', '--porcelain']);
  return {
    nproc: tryCommand('nproc', []) ?? 'unknown',
    memory: memLine?.split(/\s+/)[1] ?? `${fmt(totalmem() / 2 ** 30, 1)}Gi`,
    cpu: /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1] ?? 'unknown',
    node: process.version,
    commit: commit ? `${commit}${dirty ? ' (with uncommitted changes)' : ''}` : 'unknown',
  };
}

function tryRead(path) {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}
