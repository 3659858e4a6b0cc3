// One Drover server and a fleet of simulated workers on this machine: how the server copes with
// many workers at once.
//
//   node bench/fleet/run.mjs --backend pglite|postgres --workers N --tasks T [--slots 1] [--json]
//        [--compare-one] [--processes 4] [--connect-concurrency 200] [--timeout-seconds 600]
//        [--database-url postgres://root@127.0.0.1:5432/test] [--server-log FILE]
//
// It starts a real server as a child process (`drover server`: PGlite in a fresh temp data dir,
// or a fresh PostgreSQL database created for the run, migrated with `drover migrate`, dropped at
// the end), then N simulated workers spread over several processes (fleet-worker.mjs), each
// holding its share of real WebSockets to /ws that speak the real worker protocol (hello,
// heartbeats at the interval the server gives, tasks.complete for each assignment, obeying
// tasks.stop), each with a unique name, `--slots` slots and one no-op task type. The fleet signs
// in with a worker token and the client with an admin token: the ones an embedded farm keeps in
// its data directory, or, on PostgreSQL, made with `drover tokens create` (bench/lib/tokens.mjs).
//
//  - connectSeconds: from the first socket opened to the last workers.hello answered, connecting
//    at most --connect-concurrency workers at a time over all processes.
//  - dispatch: one job of T no-op tasks (frames 1..T) submitted through @drover/client, polled
//    every 100 ms until it has succeeded with T tasks; tasks/s is T over the time from the submit
//    to the poll that saw it done. Checks: ranTwice, tasks with two completions the server
//    accepted; lost, tasks of the finished job no worker sent a completion for.
//  - heartbeat round trip: every workers.heartbeat call timed by its worker, from the first hello
//    to the end of the dispatch; p50 and p99 over all of them.
//  - server RSS: VmRSS of the server process every 500 ms, the max.
//
// Besides those: socket open, hello and tasks.complete round trips, GET /healthz every 500 ms (the
// server's stalls), what the fleet saw (refused reports, calls that timed out, tasks assigned
// twice, stops, reconnects), CPU seconds of the server, the PostgreSQL backends of
// the run's database, the fleet and everything else on the machine during each phase (other
// people's work skews the figures; a warning says so), and the build that ran. The server sets the
// heartbeat interval (a third of its 30 s lease; the CLI has no flag for it). Every socket is a
// descriptor at both ends: the server needs about N, each fleet process N/processes; a soft
// `ulimit -n` below that is raised for the child when the hard limit allows, else a warning says so.
//
// --compare-one runs the same T tasks with one worker of --slots slots, for the one-worker rate a
// fleet's rate is compared with. A human-readable summary goes to stderr and one JSON object to
// stdout (on one line with --json); the exit code is 1 when the run failed or a check did not hold.
// Past --timeout-seconds (counted from the start) it reports what was done, with `error` set.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  createWriteStream,
  existsSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
} from 'node:fs';
import { copyFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import WebSocket from 'ws';
import { DroverClient } from '@drover/client';
import { createTokens, localTokens } from '../lib/tokens.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, '..', '..');
const CLI = join(ROOT, 'packages', 'cli', 'dist', 'src', 'main.js');
const TASK_TYPE = 'noop';

const { values: flags } = parseArgs({
  options: {
    backend: { type: 'string', default: 'pglite' },
    workers: { type: 'string', default: '50' },
    tasks: { type: 'string', default: '500' },
    slots: { type: 'string', default: '1' },
    json: { type: 'boolean', default: false },
    'compare-one': { type: 'boolean', default: false },
    processes: { type: 'string', default: '4' },
    'connect-concurrency': { type: 'string', default: '200' },
    'timeout-seconds': { type: 'string', default: '600' },
    'database-url': { type: 'string', default: 'postgres://root@127.0.0.1:5432/test' },
    'server-log': { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (flags.help) {
  process.stderr.write(
    readFileSync(fileURLToPath(import.meta.url), 'utf8')
      .split('\n')
      .filter((line) => line.startsWith('//'))
      .map((line) => line.slice(3))
      .join('\n') + '\n',
  );
  process.exit(0);
}

const integer = (name, min) => {
  const n = Number(flags[name]);
  if (!Number.isInteger(n) || n < min) usage(`--${name} must be an integer of at least ${min}`);
  return n;
};
function usage(message) {
  process.stderr.write(`${message}\n`);
  process.stdout.write(`${JSON.stringify({ error: message })}\n`);
  process.exit(2);
}

const backend = flags.backend;
if (backend !== 'pglite' && backend !== 'postgres') usage('--backend is pglite or postgres');
const compareOne = flags['compare-one'];
const N = compareOne ? 1 : integer('workers', 1);
const T = integer('tasks', 1);
const slots = integer('slots', 1);
if (slots > 1024) usage('--slots is at most 1024');
const P = Math.min(integer('processes', 1), N);
const concurrency = integer('connect-concurrency', 1);
const timeoutMs = integer('timeout-seconds', 1) * 1000;
const startedAt = Date.now();
const deadline = startedAt + timeoutMs;

const log = (line) => process.stderr.write(`[fleet ${elapsed()}] ${line}\n`);
const elapsed = () => `${((Date.now() - startedAt) / 1000).toFixed(1)}s`;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const wallNow = () => performance.timeOrigin + performance.now();

class Timeout extends Error {}

/** Which code ran: the commit, whether the tree differs, when the server's dist was built. */
function build() {
  const git = (...args) =>
    spawnSync('git', args, { cwd: ROOT, encoding: 'utf8' }).stdout?.trim() ?? '';
  let serverDist = null;
  try {
    serverDist = statSync(join(ROOT, 'packages', 'server', 'dist', 'src', 'worker-hub.js')).mtime;
  } catch {
    // Not built yet.
  }
  return {
    commit: git('rev-parse', '--short', 'HEAD') || null,
    dirty: git('status', '--porcelain', '--untracked-files=no', 'packages') !== '',
    serverDistBuiltAt: serverDist?.toISOString() ?? null,
  };
}

const result = {
  backend,
  mode: compareOne ? 'compare-one' : 'fleet',
  workers: N,
  slots,
  tasks: T,
  processes: P,
  connected: 0,
  connectSeconds: null,
  heartbeatIntervalMs: null,
  heartbeatRttP50Ms: null,
  heartbeatRttP99Ms: null,
  heartbeats: 0,
  heartbeatRttDispatchP50Ms: null,
  heartbeatRttDispatchP99Ms: null,
  heartbeatsDuringDispatch: 0,
  heartbeatsFailed: 0,
  heartbeatsUnanswered: 0,
  serverRssMaxMb: null,
  dispatchSeconds: null,
  dispatchTasksPerSecond: null,
  lastCompletionSeconds: null,
  completed: 0,
  refused: 0,
  completionsUnanswered: 0,
  completionsUnconfirmed: 0,
  completionsQueuedAtEnd: 0,
  reassigned: 0,
  stops: 0,
  reconnects: 0,
  callTimeouts: 0,
  fdLimit: null,
  warnings: [],
  socketOpenP50Ms: null,
  socketOpenP99Ms: null,
  helloRttP50Ms: null,
  helloRttP99Ms: null,
  healthz: null,
  completeCalls: 0,
  completeRttP50Ms: null,
  completeRttP99Ms: null,
  assignNotifications: 0,
  cpus: cpus().length,
  cpu: { connect: null, dispatch: null },
  build: build(),
  serverLogLines: 0,
  checks: { ranTwice: null, lost: null, ok: false },
};

// --- Cleanup: everything this run started, whatever happens. ---------------------------------

const cleanups = [];
let cleaning;
function cleanup() {
  cleaning ??= (async () => {
    for (const fn of cleanups.reverse()) {
      try {
        await fn();
      } catch (error) {
        log(`cleanup: ${error.message}`);
      }
    }
  })();
  return cleaning;
}
// Stopped from outside (Ctrl-C, a caller's own timeout): clean up, then say what was done.
let interrupted;
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    log(`${signal}: cleaning up`);
    interrupted = signal;
    void finish(130);
  });
}

/** Ends a detached child's whole process group: SIGTERM, then SIGKILL after `graceMs`. */
async function killGroup(child, graceMs) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const signalGroup = (signal) => {
    try {
      process.kill(-child.pid, signal);
    } catch {
      // Already gone.
    }
  };
  signalGroup('SIGTERM');
  const timer = setTimeout(() => signalGroup('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
  // Anything the child left behind in its group.
  signalGroup('SIGKILL');
}

// --- Open files. -----------------------------------------------------------------------------

function openFileLimits() {
  const line = readFileSync('/proc/self/limits', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('Max open files'));
  const [soft, hard] = (line ?? '').split(/\s+/).slice(3, 5);
  const number = (v) => (v === 'unlimited' ? Infinity : Number(v));
  return { soft: number(soft), hard: number(hard) };
}

/**
 * Each socket is a file descriptor at both ends: the server needs one per worker, each fleet
 * process one per worker it holds, plus what Node, PGlite and the database pool use. When the soft
 * limit is lower than that and the hard limit allows more, the child is started through a shell
 * that raises it (`exec` keeps the pid); otherwise the output says so.
 */
const limits = openFileLimits();
result.fdLimit = { soft: limits.soft, hard: limits.hard };
function limitFor(need, who) {
  if (limits.soft >= need) return undefined;
  if (limits.hard >= need) return Math.min(limits.hard, Math.max(need, 65_536));
  result.warnings.push(
    `open files: ${who} needs about ${need} descriptors but the limit is ${limits.soft} (hard ${limits.hard}); raise it (ulimit -n) or expect EMFILE`,
  );
  return undefined;
}

/** Spawns `node args` in its own process group, through `ulimit -n` when `nofile` is set. */
function spawnNode(args, options, nofile) {
  const spawnOptions = { detached: true, ...options };
  if (nofile === undefined) return spawn(process.execPath, args, spawnOptions);
  const quoted = [process.execPath, ...args].map((a) => `'${a.replaceAll("'", "'\\''")}'`);
  return spawn('sh', ['-c', `ulimit -n ${nofile} && exec ${quoted.join(' ')}`], spawnOptions);
}

// --- The database. ---------------------------------------------------------------------------

const runId = randomBytes(4).toString('hex');
const workDir = mkdtempSync(join(tmpdir(), 'drover-fleet-'));
const dataDir = join(workDir, 'data');
/** The environment of the drover command: none of the caller's DROVER_* settings, no drover.json (cwd). */
const serverEnv = Object.fromEntries(
  Object.entries(process.env).filter(([key]) => !key.startsWith('DROVER_')),
);

async function adminQuery(sql) {
  const client = new pg.Client({ connectionString: flags['database-url'] });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

const databaseName = `drover_fleet_${runId}`;

/**
 * A fresh database for the run (the CLI takes no schema), migrated, dropped at the end; with an
 * admin and a worker token made in it, as a server on a shared database keeps none of its own.
 */
async function freshDatabase() {
  const name = databaseName;
  await adminQuery(`CREATE DATABASE ${name}`);
  cleanups.push(() => adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
  const url = new URL(flags['database-url']);
  url.pathname = `/${name}`;
  const migrate = spawnSync(
    process.execPath,
    [CLI, 'migrate', '--database-url', url.href, '--data-dir', dataDir],
    { cwd: workDir, env: serverEnv, encoding: 'utf8' },
  );
  if (migrate.status !== 0)
    throw new Error(`drover migrate failed: ${migrate.stderr || migrate.stdout}`);
  log(`database ${name}: ${migrate.stdout.trim()}`);
  const tokens = await createTokens(CLI, url.href, { cwd: workDir, env: serverEnv, dataDir });
  return { databaseUrl: url.href, tokens };
}

// --- The server. -----------------------------------------------------------------------------

const serverLogFile = join(workDir, 'server.log');
/** Resolves once every server start's log stream has been written out. */
const serverLogsClosed = [];

/** Starts `drover server` on a free port; resolves with its URL and child once it listens. */
async function startServerOnce(databaseUrl) {
  // A benchmark measures throughput, not the per-token limit on calls.
  const args = [
    CLI,
    'server',
    '--port',
    '0',
    '--data-dir',
    dataDir,
    '--rate-limit-per-minute',
    '0',
  ];
  if (databaseUrl) args.push('--database-url', databaseUrl);
  const child = spawnNode(
    args,
    { cwd: workDir, env: serverEnv, stdio: ['ignore', 'pipe', 'pipe'] },
    limitFor(N + 512, 'the server'),
  );
  const logStream = createWriteStream(serverLogFile, { flags: 'a' });
  let output = '';
  const collect = (chunk) => {
    logStream.write(chunk);
    if (output.length < 100_000) output += chunk.toString('utf8');
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  serverLogsClosed.push(new Promise((resolve) => logStream.once('close', resolve)));
  child.once('exit', () => logStream.end());
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      void killGroup(child, 2000);
      reject(new Error(`the server did not start in 120 s:\n${output}`));
    }, 120_000);
    const onData = () => {
      const match = /Drover server at (\S+)/.exec(output);
      if (!match) return;
      clearTimeout(timer);
      child.stdout.off('data', onData);
      resolve({ child, url: match[1] });
    };
    child.stdout.on('data', onData);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`the server exited (${signal ?? code}) before listening:\n${output}`));
    });
  });
}

/** The other packages may be rebuilding: a server that cannot start is tried again a minute later. */
async function startServer(databaseUrl) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startServerOnce(databaseUrl);
    } catch (error) {
      if (attempt >= 3 || Date.now() + 60_000 > deadline) throw error;
      log(`${error.message.trim()}\nretrying in 60 s (dist may be being rebuilt)`);
      await sleep(60_000);
    }
  }
}

/** CPU seconds a process has used (user + system), from /proc; undefined once it is gone. */
function cpuSecondsOf(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return undefined;
  }
}
/** The CPU seconds of each PostgreSQL backend connected to this run's database, by pid. */
function databaseBackendsCpu() {
  const found = new Map();
  if (backend !== 'postgres') return found;
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(databaseName)) continue;
    } catch {
      continue;
    }
    const cpu = cpuSecondsOf(pid);
    if (cpu !== undefined) found.set(pid, cpu);
  }
  return found;
}

/** The machine's CPU ticks, busy and in all, from /proc/stat. */
function machineTicks() {
  const [, ...ticks] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/);
  const n = ticks.map(Number);
  const idle = n[3] + (n[4] ?? 0);
  const total = n.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}
const CLOCK_TICKS = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout) || 100;

/** Asks each fleet process for its CPU time; one that does not answer at once counts as last told. */
async function fleetCpu(fleet) {
  const asked = fleet.filter((m) => !m.exited);
  for (const m of asked) {
    m.cpu = undefined;
    m.child.send({ type: 'cpu' }, () => undefined);
  }
  const by = Date.now() + 2000;
  while (asked.some((m) => m.cpu === undefined && !m.exited) && Date.now() < by) {
    await Promise.race([
      sleep(100),
      ...asked.map((m) => new Promise((resolve) => m.waiters.push(resolve))),
    ]);
  }
  return fleet.reduce((n, m) => n + (m.cpu ?? m.progress.cpuSeconds ?? 0), 0);
}

/** Where the CPU time of the machine and of each part of the run stands now. */
async function cpuSnapshot(serverPid, fleet) {
  const fleetSeconds = await fleetCpu(fleet);
  return {
    at: wallNow(),
    machine: machineTicks(),
    server: cpuSecondsOf(serverPid) ?? 0,
    database: databaseBackendsCpu(),
    parent: process.cpuUsage(),
    fleet: fleetSeconds,
  };
}

/** CPU time between two snapshots: each part's, the machine's, and what other processes used. */
function cpuBetween(a, b) {
  const seconds = (b.at - a.at) / 1000;
  const capacity = (b.machine.total - a.machine.total) / CLOCK_TICKS;
  const busy = (b.machine.busy - a.machine.busy) / CLOCK_TICKS;
  const server = b.server - a.server;
  let database = 0;
  for (const [pid, cpu] of b.database) database += cpu - (a.database.get(pid) ?? 0);
  const parentUsage = process.cpuUsage(a.parent);
  const parent = (parentUsage.user + parentUsage.system) / 1e6;
  const fleet = Math.max(0, b.fleet - a.fleet);
  const others = Math.max(0, busy - server - database - parent - fleet);
  return {
    seconds: round(seconds, 1),
    serverCpuSeconds: round(server, 1),
    serverCpuPercentOfOneCore: Math.round((100 * server) / seconds),
    databaseCpuSeconds: backend === 'postgres' ? round(database, 1) : null,
    fleetCpuSeconds: round(fleet, 1),
    machineCpuPercent: Math.round((100 * busy) / capacity),
    othersCpuPercent: Math.round((100 * others) / capacity),
  };
}

/**
 * Asks GET /healthz (a request and one database query) one after the other, from the fleet's
 * start, to see the server's stalls: returns a function that stops and gives the latencies.
 */
function probeHealth(url, origin) {
  const samples = [];
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const started = wallNow();
      try {
        const response = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(120_000) });
        await response.arrayBuffer();
      } catch {
        // Counted by its time all the same.
      }
      samples.push({ at: (started - origin) / 1000, ms: wallNow() - started });
      await sleep(500);
    }
  })();
  return async () => {
    stopped = true;
    await loop;
    const sorted = Float64Array.from(samples.map((s) => s.ms)).sort();
    const stalls = samples.filter((s) => s.ms >= 1000);
    return {
      probes: samples.length,
      p50Ms: percentile(sorted, 50),
      p99Ms: percentile(sorted, 99),
      maxMs: round(sorted.at(-1) ?? null, 0),
      stallsOver1s: stalls.length,
      stallSecondsOver1s: round(stalls.reduce((n, s) => n + s.ms, 0) / 1000, 1),
      longest: [...samples]
        .sort((a, b) => b.ms - a.ms)
        .slice(0, 5)
        .filter((s) => s.ms >= 1000)
        .map((s) => ({ atSeconds: round(s.at, 1), ms: Math.round(s.ms) })),
    };
  };
}

/** Samples the server's VmRSS every 500 ms; returns a function that stops and gives the max (kB). */
function sampleRss(pid) {
  let max = 0;
  const read = () => {
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (m) max = Math.max(max, Number(m[1]));
    } catch {
      // The server is gone.
    }
  };
  read();
  const timer = setInterval(read, 500);
  return () => {
    clearInterval(timer);
    read();
    return max;
  };
}

// --- The fleet. ------------------------------------------------------------------------------

/** `token`: the worker token, sent to each fleet process over its IPC channel, not its argv. */
function startFleet(url, token) {
  const perProcess = Math.ceil(N / P);
  const nofile = limitFor(perProcess + 256, `each fleet process (${perProcess} sockets)`);
  const prefix = `fleet-${runId}-w`;
  const fleet = [];
  for (let p = 0; p < P; p++) {
    const from = Math.floor((p * N) / P);
    const to = Math.floor(((p + 1) * N) / P);
    const child = spawnNode(
      [join(HERE, 'fleet-worker.mjs')],
      { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
      nofile,
    );
    const member = {
      child,
      size: to - from,
      progress: { connected: 0, accepted: 0, reconnects: 0, cpuSeconds: 0 },
      connected: undefined,
      report: undefined,
      waiters: [],
      exited: false,
    };
    child.on('message', (message) => {
      if (message.type === 'progress') member.progress = message;
      else if (message.type === 'connected') member.connected = message;
      else if (message.type === 'report') member.report = message;
      else if (message.type === 'cpu') member.cpu = message.cpuSeconds;
      else if (message.type === 'fatal') result.warnings.push(`fatal: ${message.message}`);
      for (const wake of member.waiters.splice(0)) wake();
    });
    child.on('exit', (code, signal) => {
      member.exited = true;
      if (!stopping) result.warnings.push(`fleet process ${p} exited (${signal ?? code})`);
      for (const wake of member.waiters.splice(0)) wake();
    });
    child.send({
      type: 'start',
      url,
      token,
      prefix,
      from,
      to,
      slots,
      concurrency: Math.max(1, Math.ceil(concurrency / P)),
      proc: p,
    });
    fleet.push(member);
  }
  return fleet;
}
let stopping = false;

/** Waits until `done()` holds for every fleet process, or the deadline. */
async function untilAll(fleet, done, what) {
  let lastLog = Date.now();
  for (;;) {
    if (fleet.every(done)) return;
    const dead = fleet.find((m) => m.exited);
    if (dead) throw new Error(`a fleet process exited while waiting for ${what}`);
    if (Date.now() > deadline) throw new Timeout(`timed out waiting for ${what}`);
    if (Date.now() - lastLog > 5000) {
      lastLog = Date.now();
      const connected = fleet.reduce((n, m) => n + m.progress.connected, 0);
      const reconnects = fleet.reduce((n, m) => n + m.progress.reconnects, 0);
      log(`${what}: ${connected}/${N} workers connected, ${reconnects} reconnects`);
    }
    await Promise.race([
      sleep(Math.min(1000, Math.max(0, deadline - Date.now()) + 10)),
      ...fleet.map((m) => new Promise((resolve) => m.waiters.push(resolve))),
    ]);
  }
}

/** The promise's value, or undefined once the deadline has passed. */
async function beforeDeadline(promise) {
  let timer;
  const late = new Promise((resolve) => {
    timer = setTimeout(resolve, Math.max(0, deadline - Date.now()), undefined);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

// --- Figures. --------------------------------------------------------------------------------

function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  const v =
    sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
  return Math.round(v * 100) / 100;
}
const sortedOf = (arrays) => Float64Array.from(arrays.flat()).sort();
const round = (v, digits = 2) => (v === null ? null : Math.round(v * 10 ** digits) / 10 ** digits);

// --- The run. --------------------------------------------------------------------------------

async function run() {
  if (!existsSync(CLI)) {
    log('packages/cli/dist is missing: npm run build');
    const built = spawnSync('npm', ['run', 'build'], { cwd: ROOT, stdio: ['ignore', 2, 2] });
    if (built.status !== 0) throw new Error('npm run build failed');
  }

  const database = backend === 'postgres' ? await freshDatabase() : undefined;
  const { child: server, url } = await startServer(database?.databaseUrl);
  // An embedded farm wrote its admin and worker tokens in its data directory before it listened.
  const tokens = database?.tokens ?? localTokens(dataDir);
  const stopRss = sampleRss(server.pid);
  result.build = build();
  cleanups.push(async () => {
    result.serverRssMaxMb ??= round(stopRss() / 1024, 1);
    await killGroup(server, 10_000);
  });
  log(`server ${url} (pid ${server.pid}, ${backend}), log in ${serverLogFile}`);
  let serverExited = false;
  server.once('exit', (code, signal) => {
    serverExited = true;
    if (!stopping) result.warnings.push(`the server exited during the run (${signal ?? code})`);
  });

  // The fleet connects.
  const fleet = [];
  const cpuAtConnect = await cpuSnapshot(server.pid, fleet);
  const stopProbe = probeHealth(url, cpuAtConnect.at);
  fleet.push(...startFleet(url, tokens.worker));
  cleanups.push(async () => {
    stopping = true;
    for (const m of fleet) if (!m.exited) m.child.send({ type: 'stop' }, () => undefined);
    await Promise.all(fleet.map((m) => killGroup(m.child, 3000)));
  });
  log(`${N} workers (${slots} slot${slots === 1 ? '' : 's'} each) in ${P} processes connecting`);
  let failure;
  let dispatchStart;
  let finalJob;
  let cpuAtDispatch;
  try {
    await untilAll(fleet, (m) => m.connected !== undefined, 'the fleet to connect');
    const firstConnect = Math.min(...fleet.map((m) => m.connected.firstConnectAt));
    const lastHello = Math.max(...fleet.map((m) => m.connected.lastHelloAt));
    result.connectSeconds = round((lastHello - firstConnect) / 1000, 3);
    result.connected = fleet.reduce((n, m) => n + m.connected.connected, 0);
    log(`${N} workers connected in ${result.connectSeconds} s`);

    // The job.
    for (const m of fleet) m.child.send({ type: 'phase', phase: 'dispatch' });
    const client = new DroverClient({
      url,
      token: tokens.admin,
      WebSocket,
      connectTimeoutMs: 30_000,
    });
    cleanups.push(() => client.close());
    // Connected before the clock starts: the submit is timed, not the client's handshake.
    await client.call('groups.list', {});
    cpuAtDispatch = await cpuSnapshot(server.pid, fleet);
    dispatchStart = wallNow();
    result.cpu.connect = cpuBetween(cpuAtConnect, cpuAtDispatch);
    const submitted = await beforeDeadline(
      client.submit(
        TASK_TYPE,
        {},
        { group: 'fleet', name: `fleet ${N}x${slots} ${T} no-ops`, frames: { start: 1, end: T } },
      ),
    );
    if (!submitted) throw new Timeout('timed out submitting the job');
    const { job } = submitted;
    log(
      `job ${job.id} of ${T} tasks submitted in ${((wallNow() - dispatchStart) / 1000).toFixed(2)} s`,
    );
    let lastLog = Date.now();
    for (;;) {
      // A stalled server must not keep the run past its deadline: then the last answer stands.
      const answer = await beforeDeadline(client.call('jobs.get', { id: job.id }));
      finalJob = answer ?? finalJob;
      const current = finalJob ?? {
        status: 'queued',
        counts: { succeeded: 0, leased: 0, running: 0 },
      };
      if (answer?.status === 'succeeded' && answer.counts.succeeded === T) {
        result.dispatchSeconds = round((wallNow() - dispatchStart) / 1000, 3);
        result.dispatchTasksPerSecond = Math.round(T / result.dispatchSeconds);
        break;
      }
      if (['failed', 'cancelled'].includes(current.status))
        throw new Error(`the job ended ${current.status}: ${JSON.stringify(current.counts)}`);
      if (serverExited) throw new Error('the server exited');
      if (Date.now() >= deadline) {
        const seconds = (wallNow() - dispatchStart) / 1000;
        result.partial = {
          seconds: round(seconds, 1),
          succeeded: current.counts.succeeded,
          tasksPerSecond: Math.round(current.counts.succeeded / seconds),
        };
        throw new Timeout(
          `timed out during the dispatch: ${current.counts.succeeded}/${T} tasks succeeded`,
        );
      }
      if (Date.now() - lastLog > 5000) {
        lastLog = Date.now();
        const s = (wallNow() - dispatchStart) / 1000;
        log(
          `dispatch: ${current.counts.succeeded}/${T} succeeded, ${current.counts.leased + current.counts.running} leased (${Math.round(current.counts.succeeded / s)} tasks/s so far)`,
        );
      }
      await sleep(100);
    }
    log(
      `${T} tasks done in ${result.dispatchSeconds} s (${result.dispatchTasksPerSecond} tasks/s)`,
    );
  } catch (error) {
    failure = error;
    result.error = error instanceof Timeout ? `timeout: ${error.message}` : error.message;
    log(`error: ${result.error}`);
  }
  result.serverRssMaxMb = round(stopRss() / 1024, 1);
  const cpuAtEnd = await cpuSnapshot(server.pid, fleet);
  result.healthz = await stopProbe();
  if (cpuAtDispatch) result.cpu.dispatch = cpuBetween(cpuAtDispatch, cpuAtEnd);
  else result.cpu.connect = cpuBetween(cpuAtConnect, cpuAtEnd);

  // What the fleet saw.
  for (const m of fleet) {
    if (!m.exited) m.child.send({ type: 'report' }, () => undefined);
  }
  const reportBy = Math.max(Date.now() + 30_000, deadline);
  while (fleet.some((m) => !m.report && !m.exited) && Date.now() < reportBy) {
    await Promise.race([
      sleep(1000),
      ...fleet.map((m) => new Promise((resolve) => m.waiters.push(resolve))),
    ]);
  }
  const reports = fleet.map((m) => m.report).filter(Boolean);
  if (reports.length < fleet.length) result.warnings.push('some fleet processes sent no report');
  summarize(reports, dispatchStart, finalJob, failure);
}

function summarize(reports, dispatchStart, finalJob, failure) {
  const sum = (key) => reports.reduce((n, r) => n + (r[key] ?? 0), 0);
  result.connected = Math.max(result.connected, sum('connected'));
  result.heartbeatIntervalMs = reports.find((r) => r.heartbeatMs)?.heartbeatMs ?? null;
  const all = sortedOf(reports.flatMap((r) => [r.rtts.connect, r.rtts.dispatch]));
  const during = sortedOf(reports.map((r) => r.rtts.dispatch));
  result.heartbeats = all.length;
  result.heartbeatRttP50Ms = percentile(all, 50);
  result.heartbeatRttP99Ms = percentile(all, 99);
  result.heartbeatsDuringDispatch = during.length;
  result.heartbeatRttDispatchP50Ms = percentile(during, 50);
  result.heartbeatRttDispatchP99Ms = percentile(during, 99);
  result.heartbeatsFailed = sum('heartbeatFailures');
  result.heartbeatsUnanswered = sum('heartbeatsUnanswered');
  result.refused = reports.reduce((n, r) => n + r.refused.length, 0);
  result.completionsUnanswered = sum('unanswered');
  result.completionsQueuedAtEnd = sum('finalsQueued');
  result.stops = sum('stops');
  result.reconnects = sum('reconnects');
  result.callTimeouts = sum('callTimeouts');
  const opens = sortedOf(reports.map((r) => r.openRtts));
  result.socketOpenP50Ms = percentile(opens, 50);
  result.socketOpenP99Ms = percentile(opens, 99);
  const hellos = sortedOf(reports.map((r) => r.helloRtts));
  result.helloRttP50Ms = percentile(hellos, 50);
  result.helloRttP99Ms = percentile(hellos, 99);
  for (const [phase, window] of Object.entries(result.cpu)) {
    // Other people's work on this machine skews every figure here.
    if (window && window.othersCpuPercent >= 10)
      result.warnings.push(
        `other processes used ${window.othersCpuPercent}% of the machine's CPU during the ${phase}: the figures are skewed`,
      );
  }
  const completes = sortedOf(reports.map((r) => r.completeRtts));
  result.completeCalls = completes.length;
  result.completeRttP50Ms = percentile(completes, 50);
  result.completeRttP99Ms = percentile(completes, 99);
  result.assignNotifications = sum('assignNotifications');

  const seen = new Map();
  for (const r of reports) for (const id of r.accepted) seen.set(id, (seen.get(id) ?? 0) + 1);
  const sent = new Set(reports.flatMap((r) => r.sent));
  // Sent, but no acceptance seen: their calls timed out or were refused after a lost lease.
  result.completionsUnconfirmed = [...sent].filter((id) => !seen.has(id)).length;
  const assigned = new Map();
  for (const r of reports)
    for (const id of r.assigned) assigned.set(id, (assigned.get(id) ?? 0) + 1);
  result.completed = seen.size;
  result.reassigned = [...assigned.values()].filter((n) => n > 1).length;
  result.checks.ranTwice = [...seen.values()].filter((n) => n > 1).length;
  const lastAck = Math.max(0, ...reports.map((r) => r.lastAckAt ?? 0));
  if (dispatchStart !== undefined && lastAck > dispatchStart)
    result.lastCompletionSeconds = round((lastAck - dispatchStart) / 1000, 3);
  const finished = result.dispatchSeconds !== null;
  // Lost: a task of the finished job no worker ever sent a completion for. Only a finished run
  // can tell; a timed-out one has tasks not run yet.
  result.checks.lost = finished ? T - sent.size : null;
  if (finished && finalJob && finalJob.counts.succeeded !== seen.size)
    result.warnings.push(
      `the server counts ${finalJob.counts.succeeded} succeeded; the fleet saw ${seen.size} accepted and ${result.completionsUnconfirmed} more sent without an acceptance seen (calls that timed out or were refused)`,
    );
  result.checks.ok =
    finished && !failure && result.checks.ranTwice === 0 && result.checks.lost === 0;
}

function serverLogSummary() {
  let text = '';
  try {
    text = readFileSync(serverLogFile, 'utf8');
  } catch {
    return;
  }
  // What every start prints (where it listens, the dashboard's sign-in link) is not news.
  const lines = text
    .split('\n')
    .filter((l) => l.trim() && !/^(Drover server at |open the dashboard: )/.test(l));
  result.serverLogLines = lines.length;
  if (lines.length > 0) {
    process.stderr.write(`\nserver log (${lines.length} lines, last 20):\n`);
    for (const l of lines.slice(-20)) process.stderr.write(`  ${l.slice(0, 400)}\n`);
  }
}

function printSummary() {
  const r = result;
  const lines = [
    '',
    `Drover fleet, ${r.backend}: ${r.workers} workers x ${r.slots} slot(s) in ${r.processes} processes, ${r.tasks} no-op tasks${r.mode === 'compare-one' ? ' (compare-one)' : ''}`,
    `  connected      ${r.connected}/${r.workers} in ${r.connectSeconds ?? '-'} s (${r.reconnects} reconnects, ${r.callTimeouts} call timeouts); socket open p50 ${r.socketOpenP50Ms ?? '-'} ms, p99 ${r.socketOpenP99Ms ?? '-'} ms; workers.hello p50 ${r.helloRttP50Ms ?? '-'} ms, p99 ${r.helloRttP99Ms ?? '-'} ms`,
    `  dispatch       ${r.dispatchSeconds ?? '-'} s, ${r.dispatchTasksPerSecond ?? '-'} tasks/s (last completion acknowledged at ${r.lastCompletionSeconds ?? '-'} s)`,
    `  completed      ${r.completed}/${r.tasks} accepted, ${r.refused} refused, ${r.completionsUnanswered} sent without an answer, ${r.completionsUnconfirmed} tasks sent without an acceptance seen, ${r.completionsQueuedAtEnd} still queued; ${r.reassigned} tasks assigned twice, ${r.stops} stops`,
    `  heartbeats     ${r.heartbeats} every ${r.heartbeatIntervalMs ?? '-'} ms: p50 ${r.heartbeatRttP50Ms ?? '-'} ms, p99 ${r.heartbeatRttP99Ms ?? '-'} ms; during the dispatch ${r.heartbeatsDuringDispatch}: p50 ${r.heartbeatRttDispatchP50Ms ?? '-'} ms, p99 ${r.heartbeatRttDispatchP99Ms ?? '-'} ms; ${r.heartbeatsFailed} failed, ${r.heartbeatsUnanswered} unanswered at the end`,
    `  server RSS     max ${r.serverRssMaxMb ?? '-'} MB`,
    ...(r.healthz
      ? [
          `  /healthz       every 500 ms from the fleet's start: p50 ${r.healthz.p50Ms} ms, p99 ${r.healthz.p99Ms} ms, max ${r.healthz.maxMs} ms; ${r.healthz.stallsOver1s} answers took 1 s or more (${r.healthz.stallSecondsOver1s} s in all)${r.healthz.longest.length ? `; longest at ${r.healthz.longest.map((l) => `${l.atSeconds} s (${l.ms} ms)`).join(', ')}` : ''}`,
        ]
      : []),
    `  tasks.complete ${r.completeCalls} calls for ${r.assignNotifications} tasks.assign: p50 ${r.completeRttP50Ms ?? '-'} ms, p99 ${r.completeRttP99Ms ?? '-'} ms`,
    ...Object.entries(r.cpu)
      .filter(([, w]) => w)
      .map(
        ([phase, w]) =>
          `  CPU ${phase.padEnd(10)} ${w.seconds} s: server ${w.serverCpuSeconds} s (${w.serverCpuPercentOfOneCore}% of one core), ${w.databaseCpuSeconds === null ? '' : `PostgreSQL backends ${w.databaseCpuSeconds} s, `}fleet ${w.fleetCpuSeconds} s; the machine ${w.machineCpuPercent}% busy, ${w.othersCpuPercent}% by other processes (${r.cpus} CPUs)`,
      ),
    `  build          ${r.build.commit}${r.build.dirty ? ' with changes' : ''}, server dist built ${r.build.serverDistBuiltAt}`,
    `  checks         ran twice ${r.checks.ranTwice ?? '-'}, lost ${r.checks.lost ?? '-'}: ${r.checks.ok ? 'ok' : 'NOT OK'}`,
    `  open files     limit ${r.fdLimit.soft} (hard ${r.fdLimit.hard})`,
    ...r.warnings.map((w) => `  warning        ${w}`),
    ...(r.error ? [`  error          ${r.error}`] : []),
    '',
  ];
  process.stderr.write(lines.join('\n'));
}

let finishing;
try {
  await run();
} catch (error) {
  result.error = error.message;
  log(`error: ${error.message}`);
}
await finish(result.error || !result.checks.ok ? 1 : 0);

/** Cleans up, prints the summary and the JSON object, and exits; once, whoever calls first. */
async function finish(exitCode) {
  finishing ??= (async () => {
    await cleanup();
    await Promise.all(serverLogsClosed);
    if (flags['server-log'])
      await copyFile(serverLogFile, flags['server-log']).catch(() => undefined);
    serverLogSummary();
    rmSync(workDir, { recursive: true, force: true });
    // Whatever failed while being stopped failed because of the stop.
    if (interrupted) result.error = `interrupted by ${interrupted}`;
    printSummary();
    process.stdout.write(`${JSON.stringify(result, null, flags.json ? undefined : 2)}\n`);
    process.exit(exitCode);
  })();
  return finishing;
}
