// Drover beside its peers, in one run on one machine: `npm run bench` (not part of `npm test`).
//   npm run bench                                   builds, then every system and phase, and fleet
//   npm run bench -- --quick                        2,000 tasks, 1 repetition, fleet of 200
//   npm run bench -- --only drover,bullmq --phases drain1,latency --no-fleet
// Systems: Drover on PGlite and on PostgreSQL (a real `drover server`, worker processes of
// @drover/worker, @drover/client), BullMQ on Redis, graphile-worker and pg-boss on PostgreSQL.
// The peers are installed into bench/peers/ (its own package.json, exact versions) when missing.
// PostgreSQL is DROVER_BENCH_DATABASE_URL, else postgres://root@127.0.0.1:5432/test; Redis is
// DROVER_BENCH_REDIS_URL, else redis://127.0.0.1:6379. Every system works in a database, schema
// or key prefix of this run's own and removes it at the end. The tables go to stdout and to
// bench/README.md; progress goes to stderr.
import { execFileSync, fork, spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { loadavg, totalmem } from 'node:os';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import pg from 'pg';

const ROOT = new URL('../', import.meta.url);
const README = new URL('bench/README.md', ROOT);
const PEERS = new URL('bench/peers/', ROOT);
const FLEET = new URL('bench/fleet/run.mjs', ROOT);
const DEFAULT_DATABASE_URL = 'postgres://root@127.0.0.1:5432/test';
const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

const SYSTEMS = ['drover-pglite', 'drover-postgres', 'bullmq', 'graphile-worker', 'pg-boss'];
const PHASES = ['enqueue', 'drain1', 'drain2', 'single', 'latency'];
const PHASE_LABELS = {
  enqueue: 'bulk enqueue',
  drain1: 'drain, 1 worker process',
  drain2: 'drain, 2 worker processes',
  single: 'one-by-one submit, 50 in flight',
  latency: 'latency',
};
/** Tasks a worker process (or the latency worker) runs at once. */
const CONCURRENCY = 50;
/** Submissions in flight in the one-by-one phase. */
const IN_FLIGHT = 50;
/** The latency phase: this many tasks, one every LATENCY_EVERY_MS. */
const LATENCY_TASKS = 500;
const LATENCY_EVERY_MS = 10;
/** How often a drain asks the store how many tasks are done. */
const POLL_MS = 50;

const USAGE = `usage: npm run bench -- [--quick] [--only ${SYSTEMS.join(',')}]
                     [--phases ${PHASES.join(',')}] [--no-fleet] [--reps N] [--no-build]

--quick     2,000 tasks, 1 repetition, fleet of 200 workers (a smoke run)
--only      these systems ("drover" is both Drover backends)
--phases    these phases (a drain always follows a bulk enqueue, to check its tasks)
--no-fleet  skip bench/fleet/run.mjs
--reps N    repetitions of every phase (default 3, or 1 with --quick)
--no-build  do not run \`npm run build\` first (for working on this script)`;

const { values: flags } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    phases: { type: 'string' },
    'no-fleet': { type: 'boolean', default: false },
    reps: { type: 'string' },
    'no-build': { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (flags.help) {
  console.log(USAGE);
  process.exit(0);
}

/** Names from a comma-separated flag: each an exact name, or the start of some ("drover"). */
function pick(flag, all, what) {
  if (flag === undefined) return all;
  const chosen = new Set();
  for (const word of flag.split(',').map((w) => w.trim().toLowerCase())) {
    if (!word) continue;
    const normal = (s) => s.replace(/[^a-z0-9]/g, '');
    const matches = all.filter((a) => a === word || normal(a).startsWith(normal(word)));
    if (matches.length === 0) {
      console.error(`--${what}: no ${what === 'only' ? 'system' : 'phase'} "${word}"\n\n${USAGE}`);
      process.exit(2);
    }
    for (const m of matches) chosen.add(m);
  }
  return all.filter((a) => chosen.has(a));
}

const systemsWanted = pick(flags.only, SYSTEMS, 'only');
const phasesWanted = pick(flags.phases, PHASES, 'phases');
const N = flags.quick ? 2_000 : 20_000;
const REPS = flags.reps !== undefined ? Number(flags.reps) : flags.quick ? 1 : 3;
if (!Number.isInteger(REPS) || REPS < 1) {
  console.error('--reps must be a whole number of at least 1');
  process.exit(2);
}
const FLEET_SIZES = flags.quick ? [200] : [1_000, 10_000];
const FLEET_TIMEOUT_MS = (flags.quick ? 5 : 20) * 60_000;
const databaseUrl = process.env.DROVER_BENCH_DATABASE_URL ?? DEFAULT_DATABASE_URL;
const redisUrl = new URL(process.env.DROVER_BENCH_REDIS_URL ?? DEFAULT_REDIS_URL);
const redis = { host: redisUrl.hostname, port: Number(redisUrl.port || 6379) };
/** Makes every database, schema, key prefix, queue and task type name of this run unique. */
const runId = Math.random().toString(36).slice(2, 8);

function log(message) {
  process.stderr.write(`[bench] ${message}\n`);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** The promise, or a rejection with `message` if it has not settled within ms. */
async function within(promise, ms, message) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function errorText(error) {
  return error instanceof Error ? error.message : String(error);
}

// Preparing: the build, the peers' install, the services.

function build() {
  log('npm run build');
  try {
    execFileSync('npm', ['run', 'build'], { cwd: ROOT.pathname, stdio: ['ignore', 2, 2] });
  } catch {
    log('npm run build failed (see above): nothing was measured');
    process.exit(1);
  }
}

function readJson(url) {
  try {
    return JSON.parse(readFileSync(url, 'utf8'));
  } catch {
    return undefined;
  }
}

/** The version installed in bench/peers/node_modules of each package bench/peers pins. */
function peerVersions() {
  const { dependencies } = readJson(new URL('package.json', PEERS));
  return Object.fromEntries(
    Object.keys(dependencies).map((name) => [
      name,
      readJson(new URL(`node_modules/${name}/package.json`, PEERS))?.version,
    ]),
  );
}

/** Installs the peers into bench/peers/ unless exactly the pinned versions are there. */
function installPeers() {
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
function redisInfo() {
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

async function postgresInfo() {
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

// Worker processes.

/**
 * Forks a worker process (see bench/peers/worker-process.mjs for its side): `ready` resolves once
 * it has loaded, `go()` starts it, `stop()` stops it and resolves with the keys its handlers ran.
 */
function forkWorker({ script, config }) {
  const child = fork(script, [JSON.stringify(config)], {
    // The child's stdout goes to stderr too: stdout is for the tables.
    stdio: ['ignore', 2, 2, 'ipc'],
  });
  let onReady;
  let onKeys;
  let failed;
  const ready = new Promise((resolve, reject) => (onReady = { resolve, reject }));
  const keys = new Promise((resolve, reject) => (onKeys = { resolve, reject }));
  keys.catch(() => undefined);
  ready.catch(() => undefined);
  const fail = (error) => {
    failed ??= error;
    onReady.reject(error);
    onKeys.reject(error);
  };
  child.on('message', (message) => {
    if (message?.type === 'ready') onReady.resolve();
    else if (message?.type === 'keys') onKeys.resolve(message.keys);
    else if (message?.type === 'error') fail(new Error(`worker process: ${message.message}`));
  });
  child.on('exit', (code, signal) =>
    fail(new Error(`a worker process exited (${signal ?? code}) before it was done`)),
  );
  return {
    ready,
    get failed() {
      return failed;
    },
    go: () => child.send({ type: 'go' }),
    stop: () => {
      if (child.connected) child.send({ type: 'stop' });
      return keys;
    },
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}

/**
 * Starts `workers` worker processes on queue q holding n tasks and times them from the moment
 * they are told to start until the store counts n tasks done. Then stops them and gathers the
 * keys their handlers ran.
 */
async function drain(system, q, n, workers, pollMs = POLL_MS) {
  const children = Array.from({ length: workers }, (_, w) =>
    forkWorker(system.worker(q, w, CONCURRENCY)),
  );
  try {
    await Promise.all(children.map((c) => c.ready));
    const started = performance.now();
    for (const c of children) c.go();
    const deadline = started + Math.max(120, n / 20) * 1000;
    let done = 0;
    for (;;) {
      done = await system.completed(q, n);
      if (done >= n) break;
      const failed = children.find((c) => c.failed)?.failed;
      if (failed) throw failed;
      if (performance.now() > deadline)
        throw new Error(
          `${done} of ${n} tasks done after ${Math.round((deadline - started) / 1000)} s`,
        );
      await sleep(pollMs);
    }
    const seconds = (performance.now() - started) / 1000;
    const stopped = Promise.all(children.map((c) => c.stop()));
    const keys = (await within(stopped, 60_000, 'worker processes did not stop in 60 s')).flat();
    return { seconds, keys, done };
  } finally {
    for (const c of children) c.kill();
  }
}

/** '' when every key 0..n-1 ran exactly once and the store counts n done; else what is wrong. */
function checkKeys(keys, n, done) {
  const problems = [];
  const seen = new Uint8Array(n);
  let twice = 0;
  let foreign = 0;
  for (const key of keys) {
    if (!Number.isInteger(key) || key < 0 || key >= n) foreign += 1;
    else if (seen[key]) twice += 1;
    else seen[key] = 1;
  }
  const ran = seen.reduce((sum, s) => sum + s, 0);
  if (twice > 0) problems.push(`${twice} tasks ran twice`);
  if (ran < n) problems.push(`${n - ran} tasks never ran`);
  if (foreign > 0) problems.push(`${foreign} unknown keys`);
  if (done !== n) problems.push(`the store counts ${done} done, expected ${n}`);
  return problems.join('; ');
}

// The phases. Each returns its figures and its check ('' when all is well).

/**
 * Before the timed phases of a repetition: a small bulk enqueue and a few single submissions,
 * thrown away, so that no system's first timed call pays for loading scripts or code.
 */
async function warmUp(system, tag) {
  const q = await system.newQueue(tag);
  try {
    await system.enqueueBulk(q, 200);
    for (let i = 0; i < 20; i++) await system.submitOne(q, i);
  } finally {
    await system.dropQueue(q);
  }
}

/** Bulk enqueue of N (timed), then a drain by `workers` processes (timed). */
async function enqueueAndDrain(system, tag, workers) {
  const q = await system.newQueue(tag);
  try {
    const started = performance.now();
    await system.enqueueBulk(q, N);
    const enqueueSeconds = (performance.now() - started) / 1000;
    const { seconds, keys, done } = await drain(system, q, N, workers);
    return { enqueue: N / enqueueSeconds, drain: N / seconds, check: checkKeys(keys, N, done) };
  } finally {
    await system.dropQueue(q);
  }
}

/** N single submissions, IN_FLIGHT at a time (timed), then drained by 2 processes to check. */
async function oneByOne(system, tag) {
  const q = await system.newQueue(tag);
  try {
    let next = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: IN_FLIGHT }, async () => {
        while (next < N) await system.submitOne(q, next++);
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    // Not timed: asking the store less often leaves more of the machine to the drain.
    const { keys, done } = await drain(system, q, N, 2, 250);
    return { single: N / seconds, check: checkKeys(keys, N, done) };
  } finally {
    await system.dropQueue(q);
  }
}

function percentile(values, p) {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/**
 * One idle, connected worker in this process; LATENCY_TASKS tasks submitted one every
 * LATENCY_EVERY_MS, each carrying its submission time. Submit → handler start is measured in the
 * handler; submit → completion is when this client learns of it (where the system tells it).
 */
async function latency(system, tag) {
  const q = await system.newQueue(tag);
  let worker;
  try {
    const keys = [];
    const startMs = [];
    worker = await system.startLatencyWorker(q, CONCURRENCY, (key, at, params) => {
      keys.push(key);
      startMs.push(at - params.t);
    });
    await sleep(1000); // connected and idle
    const doneMs = [];
    const submissions = [];
    const first = performance.now();
    for (let i = 0; i < LATENCY_TASKS; i++) {
      const wait = first + i * LATENCY_EVERY_MS - performance.now();
      if (wait > 0) await sleep(wait);
      const t = performance.now();
      submissions.push(
        system.submitWatched(q, i, t).then((seenAt) => {
          if (seenAt !== undefined) doneMs.push(seenAt - t);
        }),
      );
    }
    const deadline = performance.now() + 120_000;
    await within(Promise.all(submissions), 120_000, 'submissions not all seen done after 120 s');
    let done = 0;
    while ((done = await system.completed(q, LATENCY_TASKS)) < LATENCY_TASKS) {
      if (performance.now() > deadline) break;
      await sleep(POLL_MS);
    }
    const check = checkKeys(keys, LATENCY_TASKS, done);
    return {
      startP50: percentile(startMs, 50),
      startP99: percentile(startMs, 99),
      doneP50: percentile(doneMs, 50),
      doneP99: percentile(doneMs, 99),
      check,
    };
  } finally {
    await worker?.stop();
    await system.dropQueue(q);
  }
}

// The systems.

async function makeSystem(name) {
  if (name.startsWith('drover-')) {
    const { droverSystem } = await import('./drover/system.mjs');
    return droverSystem({ backend: name.slice('drover-'.length), databaseUrl, runId, log });
  }
  if (name === 'bullmq') {
    const { bullmqSystem } = await import('./peers/bullmq.mjs');
    return bullmqSystem({ redis, runId });
  }
  if (name === 'graphile-worker') {
    const { graphileWorkerSystem } = await import('./peers/graphile-worker.mjs');
    return graphileWorkerSystem({ databaseUrl, runId });
  }
  const { pgBossSystem } = await import('./peers/pg-boss.mjs');
  return pgBossSystem({ databaseUrl, runId });
}

/** Every wanted phase of one system, REPS times; figures and checks per phase. */
async function runSystem(name) {
  const figures = Object.fromEntries(PHASES.map((p) => [p, []]));
  const checks = Object.fromEntries(PHASES.map((p) => [p, []]));
  const result = { name, figures, checks, notes: [], error: undefined };
  const wants = (p) => phasesWanted.includes(p);
  let system;
  try {
    system = await makeSystem(name);
    result.label = system.label;
    result.notes = system.notes;
    result.completionSeen = system.completionSeen;
    await system.open();
  } catch (error) {
    result.error = errorText(error);
    log(`${name}: ${result.error}`);
    await system?.close().catch(() => undefined);
    return result;
  }
  const record = (phase, figure, check) => {
    if (figure !== undefined) figures[phase].push(figure);
    checks[phase].push(check || 'ok');
  };
  const failed = (phases, error) => {
    log(`${name}: ${phases.join(', ')} failed: ${error instanceof Error ? error.stack : error}`);
    for (const p of phases) if (wants(p)) checks[p].push(`error: ${errorText(error)}`);
  };
  try {
    for (let rep = 1; rep <= REPS; rep++) {
      const tag = `${runId}-${rep}`;
      try {
        await system.beginRep?.(`r${rep}`);
        await warmUp(system, `${tag}-w`);
      } catch (error) {
        failed(phasesWanted, error);
        await system.endRep?.().catch(() => undefined);
        continue;
      }
      try {
        if (wants('enqueue') || wants('drain1')) {
          log(`${name} #${rep}: bulk enqueue of ${N}, drain by 1 worker process`);
          try {
            const r = await enqueueAndDrain(system, `${tag}-d1`, 1);
            if (wants('enqueue')) record('enqueue', r.enqueue, r.check);
            if (wants('drain1')) record('drain1', r.drain, r.check);
            log(
              `${name} #${rep}: ${fmt(r.enqueue)} enqueued/s, ${fmt(r.drain)} done/s ${r.check || 'ok'}`,
            );
          } catch (error) {
            failed(['enqueue', 'drain1'], error);
          }
        }
        if (wants('drain2')) {
          log(`${name} #${rep}: bulk enqueue of ${N}, drain by 2 worker processes`);
          try {
            const r = await enqueueAndDrain(system, `${tag}-d2`, 2);
            record('drain2', r.drain, r.check);
            log(`${name} #${rep}: ${fmt(r.drain)} done/s ${r.check || 'ok'}`);
          } catch (error) {
            failed(['drain2'], error);
          }
        }
        if (wants('single')) {
          log(`${name} #${rep}: ${N} one-by-one submissions, ${IN_FLIGHT} in flight`);
          try {
            const r = await oneByOne(system, `${tag}-s`);
            record('single', r.single, r.check);
            log(`${name} #${rep}: ${fmt(r.single)} submissions/s ${r.check || 'ok'}`);
          } catch (error) {
            failed(['single'], error);
          }
        }
        if (wants('latency')) {
          log(`${name} #${rep}: latency, ${LATENCY_TASKS} tasks, one every ${LATENCY_EVERY_MS} ms`);
          try {
            const r = await latency(system, `${tag}-l`);
            record('latency', r, r.check);
            log(
              `${name} #${rep}: start p50 ${fmt(r.startP50, 1)} ms, p99 ${fmt(r.startP99, 1)} ms; ` +
                `done p50 ${fmt(r.doneP50, 1)} ms, p99 ${fmt(r.doneP99, 1)} ms ${r.check || 'ok'}`,
            );
          } catch (error) {
            failed(['latency'], error);
          }
        }
      } finally {
        await system.endRep?.().catch((error) => log(`${name}: ending a repetition: ${error}`));
      }
    }
  } finally {
    await system.close().catch((error) => log(`${name}: closing: ${errorText(error)}`));
  }
  return result;
}

// The fleet phase: bench/fleet/run.mjs, when it exists, prints one JSON object on stdout.

function runFleet(backend, workers) {
  const args = [FLEET.pathname, '--backend', backend, '--workers', String(workers)];
  args.push('--tasks', String(N), '--json');
  if (process.env.DROVER_BENCH_DATABASE_URL) args.push('--database-url', databaseUrl);
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, {
      cwd: ROOT.pathname,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let stdout = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), FLEET_TIMEOUT_MS);
    child.on('error', (error) => resolve({ error: error.message }));
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      const figures = lastJsonObject(stdout);
      if (signal === 'SIGKILL')
        resolve({ error: `timed out after ${FLEET_TIMEOUT_MS / 60_000} min` });
      else if (code !== 0 && !figures) resolve({ error: `exited with ${signal ?? code}` });
      else if (!figures) resolve({ error: 'printed no JSON object' });
      else
        resolve({ figures, ...(code !== 0 && { error: figures.error ?? `exited with ${code}` }) });
    });
  });
}

function lastJsonObject(text) {
  try {
    return JSON.parse(text);
  } catch {
    // One object on the last line that parses, or nothing.
  }
  for (const line of text.trim().split('\n').reverse()) {
    try {
      const value = JSON.parse(line);
      if (value && typeof value === 'object' && !Array.isArray(value)) return value;
    } catch {
      continue;
    }
  }
  return undefined;
}

async function fleet() {
  if (!existsSync(FLEET)) return { missing: true, runs: [] };
  const runs = [];
  for (const backend of ['pglite', 'postgres']) {
    if (!systemsWanted.includes(`drover-${backend}`)) continue;
    for (const workers of FLEET_SIZES) {
      log(`fleet: ${backend}, ${workers} workers`);
      const outcome = await runFleet(backend, workers);
      log(`fleet: ${backend}, ${workers} workers: ${outcome.error ?? 'done'}`);
      runs.push({ backend, workers, ...outcome });
    }
  }
  return { missing: false, runs };
}

// Reporting.

function fmt(value, digits = 0) {
  if (value === undefined || Number.isNaN(value)) return '';
  return value.toLocaleString('en-US', {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** "median (min–max)" of the figures, or just the figure when there is one. */
function spread(values, digits = 0) {
  const present = values.filter((v) => v !== undefined && !Number.isNaN(v));
  if (present.length === 0) return '';
  if (present.length === 1) return fmt(present[0], digits);
  const low = Math.min(...present);
  const high = Math.max(...present);
  return `${fmt(median(present), digits)} (${fmt(low, digits)}–${fmt(high, digits)})`;
}

function table(headers, rows) {
  const line = (cells) => `| ${cells.join(' | ')} |`;
  return [line(headers), line(headers.map(() => '---')), ...rows.map(line)].join('\n');
}

function throughputTable(results) {
  const wanted = ['enqueue', 'drain1', 'drain2', 'single'].filter((p) => phasesWanted.includes(p));
  const headers = [
    'system',
    ...wanted.map((p) => `${PHASE_LABELS[p]} (${p === 'single' ? 'submissions' : 'tasks'}/s)`),
  ];
  const rows = results.map((r) => [
    r.label ?? r.name,
    ...wanted.map((p) => (r.error ? 'not run' : spread(r.figures[p]) || 'failed')),
  ]);
  return table(headers, rows);
}

function latencyTable(results) {
  const rows = results.map((r) => {
    const samples = r.figures.latency;
    if (r.error) return [r.label ?? r.name, 'not run', '', '', ''];
    if (samples.length === 0) return [r.label ?? r.name, 'failed', '', '', ''];
    const of = (key) =>
      spread(
        samples.map((s) => s[key]),
        1,
      );
    const none = r.completionSeen ? '' : 'n/a (see below)';
    return [
      r.label ?? r.name,
      of('startP50'),
      of('startP99'),
      of('doneP50') || none,
      of('doneP99') || none,
    ];
  });
  return table(
    [
      'system',
      'submit → handler start p50 (ms)',
      'p99 (ms)',
      'submit → completion seen by the client p50 (ms)',
      'p99 (ms)',
    ],
    rows,
  );
}

function checksTable(results) {
  const rows = results.map((r) => [
    r.label ?? r.name,
    ...phasesWanted.map((p) => {
      if (r.error) return `not run: ${r.error}`;
      const all = r.checks[p];
      if (all.length === 0) return '';
      const bad = all.filter((c) => c !== 'ok');
      return bad.length === 0 ? `ok (${all.length} of ${all.length})` : bad.join('; ');
    }),
  ]);
  return table(['system', ...phasesWanted.map((p) => PHASE_LABELS[p])], rows);
}

/** The fleet table's columns: a heading and how to read it from the fleet script's JSON. */
const FLEET_COLUMNS = [
  ['connected', (f) => (f.connected === undefined ? undefined : `${fmt(f.connected)}`)],
  ['connect (s)', (f) => f.connectSeconds],
  ['heartbeat RTT p50 (ms)', (f) => f.heartbeatRttP50Ms],
  ['heartbeat RTT p99 (ms)', (f) => f.heartbeatRttP99Ms],
  ['server RSS (MB)', (f) => f.serverRssMaxMb ?? f.serverRssMb],
  ['dispatch (tasks/s)', (f) => f.dispatchTasksPerSecond],
  [
    'checks',
    (f) => {
      const c = f.checks;
      if (c === undefined || c === null) return undefined;
      if (typeof c !== 'object') return String(c);
      if (c.ok === true) return 'ok';
      return Object.entries(c)
        .filter(([k]) => k !== 'ok')
        .map(([k, v]) => `${k} ${v ?? '?'}`)
        .join(', ');
    },
  ],
];

function fleetSection(outcome) {
  if (flags['no-fleet']) return 'Not run (`--no-fleet`).';
  if (outcome.missing)
    return table(
      ['backend', 'workers', 'run'],
      FLEET_SIZES.map((w) => [
        'pglite, postgres',
        fmt(w),
        'not run: bench/fleet/run.mjs is missing',
      ]),
    );
  if (outcome.runs.length === 0) return 'Not run: no Drover backend among the systems.';
  const cell = (value) => {
    if (value === undefined || value === null) return '';
    if (typeof value === 'number') return fmt(value, Number.isInteger(value) ? 0 : 2);
    return String(value).replace(/\|/g, '\\|').replace(/\n/g, ' ');
  };
  const rows = outcome.runs.map((run) => [
    run.backend,
    fmt(run.workers),
    ...FLEET_COLUMNS.map(([, read]) => (run.figures ? cell(read(run.figures)) : '')),
    run.error ? `failed: ${cell(run.error)}` : 'ok',
  ]);
  return table(['backend', 'workers', ...FLEET_COLUMNS.map(([heading]) => heading), 'run'], rows);
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

function machine() {
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

function commandLine() {
  const args = process.argv.slice(2).join(' ');
  if (process.env.npm_lifecycle_event === 'bench') {
    return args ? `npm run bench -- ${args}` : 'npm run bench';
  }
  return `node bench/run.mjs${args ? ` ${args}` : ''}`;
}

function versionsList({ env, services, peers }) {
  const drover = readJson(new URL('package.json', ROOT))?.version ?? 'unknown';
  const pglite = readJson(new URL('node_modules/@electric-sql/pglite/package.json', ROOT));
  const pgInfo = services.postgres;
  const postgres =
    pgInfo && !pgInfo.error
      ? `${pgInfo.version} (fsync ${pgInfo.fsync}, synchronous_commit ${pgInfo.synchronous_commit}, ` +
        `shared_buffers ${pgInfo.shared_buffers}, max_connections ${pgInfo.max_connections})`
      : `not reachable (${pgInfo?.error ?? 'not asked'})`;
  const redisVersion = services.redis?.version ?? `not reachable (${services.redis?.error})`;
  return [
    `- Drover: ${drover}, commit ${env.commit}`,
    `- PGlite (\`@electric-sql/pglite\`): ${pglite?.version ?? 'unknown'}`,
    `- PostgreSQL: ${postgres}`,
    `- Redis: ${redisVersion}`,
    `- BullMQ: ${peers.bullmq ?? 'not installed'} (ioredis ${peers.ioredis ?? 'not installed'})`,
    `- graphile-worker: ${peers['graphile-worker'] ?? 'not installed'}`,
    `- pg-boss: ${peers['pg-boss'] ?? 'not installed'}`,
  ].join('\n');
}

function readme({ results, fleetOutcome, env, services, peers, startedAt, totalSeconds, load }) {
  const quickNote = flags.quick
    ? ' (a quick smoke run: small numbers of tasks, one repetition; not comparable with a full run)'
    : '';
  const notes = results.flatMap((r) => r.notes.map((n) => `- ${r.label ?? r.name}: ${n}`));
  return `# Benchmarks

This file is written by \`npm run bench\` (\`bench/run.mjs\`): do not edit it by hand, run the
command again. The engine's own benchmark (claims and bulk submits against the engine API, no
server) is in [engine/README.md](engine/README.md) (\`npm run bench:engine\`); how fast the
dashboard follows a farm is in [dashboard/README.md](dashboard/README.md).

## Drover and its peers

Command: \`${commandLine()}\`${quickNote}

Run ${startedAt}, commit ${env.commit}, ${fmt(totalSeconds / 60, 1)} min in all.
${fmt(N)} no-op tasks per phase, ${REPS} repetition${REPS === 1 ? '' : 's'} of each (a fresh queue
every time): each figure is the median, with the lowest and highest in brackets.

### Throughput

${throughputTable(results)}

### Latency

${fmt(LATENCY_TASKS)} tasks, one every ${LATENCY_EVERY_MS} ms, to one idle worker.

${latencyTable(results)}

${notes.length > 0 ? `${notes.join('\n')}\n\n` : ''}### Checks

Every task ran exactly once and the store counts every one done:

${checksTable(results)}

### Fleet (Drover only)

\`node bench/fleet/run.mjs --backend pglite|postgres --workers N --tasks ${N}\`, one run each
(what each figure means is at the top of that script):

${fleetSection(fleetOutcome)}

## Machine and versions

- CPUs (\`nproc\`): ${env.nproc}
- Memory (\`free -h\`, total): ${env.memory}
- CPU: ${env.cpu}
- Node: ${env.node}
- Load average (1 min) before and after (which counts the run): ${fmt(load.start, 2)} and ${fmt(load.end, 2)}
${versionsList({ env, services, peers })}

## How each phase is measured

Every system runs on this machine, one after the other, against the same PostgreSQL server
(Drover on PostgreSQL, graphile-worker, pg-boss) or Redis (BullMQ). Each repetition of each phase
uses a fresh queue: for Drover a new server on a new database (a new PGlite data directory, or a
new PostgreSQL database after \`drover migrate\`) started as a user would, with
\`node packages/cli/dist/src/main.js server\`; for BullMQ a new queue, obliterated after; for
graphile-worker a new task identifier; for pg-boss a new queue (\`createQueue\`), deleted after.
Handlers do nothing but record their task's key. Each repetition starts with a small bulk
enqueue and 20 single submissions, thrown away (a warm-up), so that no first timed call pays
for loading code or scripts.

- **bulk enqueue**: the time of the system's bulk call alone for ${fmt(N)} tasks:
  Drover \`client.submit\` of one job with ${fmt(N)} \`items\`, BullMQ \`Queue.addBulk\`,
  graphile-worker \`addJobs\`, pg-boss \`insert\`.
- **drain, 1 or 2 worker processes**: after a bulk enqueue, 1 or 2 worker processes (separate OS
  processes, \`child_process.fork\`) of ${CONCURRENCY} tasks at once each: Drover \`slots: ${CONCURRENCY}\`,
  BullMQ \`concurrency: ${CONCURRENCY}\`, graphile-worker \`concurrentJobs: ${CONCURRENCY}\`, pg-boss
  ${CONCURRENCY} of a batch at a time (see below). Each process loads its modules first; the clock starts
  when they are told to start (connecting is inside the time) and stops when the store
  itself counts ${fmt(N)} done, asked every ${POLL_MS} ms: Drover \`jobs.get\` (the job's counts in its
  database), BullMQ \`getCompletedCount\`, graphile-worker the jobs left in its table (it deletes
  a job when it completes), pg-boss the \`completed\` rows of its job table. Never the workers'
  own counters. The 1-process drain follows the timed bulk enqueue of the same repetition.
- **one-by-one submit**: ${fmt(N)} tasks through the normal single-submit call, ${IN_FLIGHT} calls in
  flight at a time: Drover \`client.submit\` (one job of one task each), BullMQ \`Queue.add\`,
  graphile-worker \`addJob\`, pg-boss \`send\`. Then 2 worker processes drain them (not timed),
  for the checks.
- **latency**: one worker (${CONCURRENCY} at once) in the benchmark's own process, connected and idle
  for a second; then ${fmt(LATENCY_TASKS)} tasks submitted one every ${LATENCY_EVERY_MS} ms, each carrying
  \`performance.now()\` of its submission. Submit → handler start is taken in the handler, on the
  same clock. Submit → completion is when the submitting client learns that the task ended:
  Drover a \`job.updated\` event with an ended status on one \`client.subscribe\` to the group's
  jobs (\`jobs/<group>\`; not \`client.waitFor\` per job, which holds a subscription per job
  while a connection may hold at most 256), BullMQ a \`QueueEvents\` 'completed' event. p50 and
  p99 over the ${fmt(LATENCY_TASKS)} tasks; the table gives the median of the repetitions.
- **checks**: every handler records its task's key; for each phase every key ran exactly once,
  no key is unknown, and the store counts every task done.
- **fleet**: \`bench/fleet/run.mjs\` (another benchmark's script) for Drover alone, on each
  backend, with ${FLEET_SIZES.map((w) => fmt(w)).join(' and ')} workers; its figures as it prints them.

Each system's configuration is the fast one its documentation gives:

- **Drover**: the defaults of \`drover server\` and \`@drover/worker\`.
- **BullMQ**: \`Queue.addBulk\`, \`Worker\` with \`concurrency: ${CONCURRENCY}\`, connections with
  \`maxRetriesPerRequest: null\`; completed jobs kept (the default).
- **graphile-worker**: the Performance page's batching: \`localQueue: { size: 500 }\`,
  \`completeJobBatchDelay: 0\`, \`failJobBatchDelay: 0\`, \`maxPoolSize\` concurrency + 1.
- **pg-boss** (v10 dropped \`teamSize\` and \`teamConcurrency\`; its maintainer's advice is to
  run a fetched batch with a concurrency limit in the handler): one \`work()\` loop per process
  with \`batchSize: 500\`, ${CONCURRENCY} of the batch's jobs at a time, \`pollingIntervalSeconds: 0.5\`
  (the least v10 accepts), the same shape as graphile-worker's local queue of 500; \`supervise\`
  and \`schedule\` off. A v10 \`work()\` loop waits out the polling interval after every batch,
  so \`batchSize: ${CONCURRENCY}\` would cap a process at ${CONCURRENCY} jobs per 0.5 s.
`;
}

/** The README through Prettier (as `npm run lint` checks it), when Prettier is installed. */
async function prettify(markdown) {
  try {
    const prettier = await import('prettier');
    const options = (await prettier.resolveConfig(README.pathname)) ?? {};
    return await prettier.format(markdown, { ...options, filepath: README.pathname });
  } catch {
    return markdown;
  }
}

// Main.

// Ctrl-C: exit through process.exit, so that what was started (a Drover server) is ended with it.
for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => process.exit(130));

const startedAt = new Date().toISOString();
const started = performance.now();
const load = { start: loadavg()[0] };
if (!flags['no-build']) build();
const needsPeers = systemsWanted.some((s) => !s.startsWith('drover-'));
if (needsPeers) installPeers();
const services = {};
try {
  services.postgres = await postgresInfo();
} catch (error) {
  services.postgres = { error: errorText(error) };
  log(`PostgreSQL: ${services.postgres.error}`);
}
try {
  services.redis = await redisInfo();
} catch (error) {
  services.redis = { error: errorText(error) };
  log(services.redis.error);
}
const env = machine();
log(
  `${env.nproc} CPUs (${env.cpu}), ${env.memory} memory, Node ${env.node}; ` +
    `${fmt(N)} tasks, ${REPS} repetition(s); systems ${systemsWanted.join(', ')}; ` +
    `phases ${phasesWanted.join(', ')}`,
);

const results = [];
for (const name of systemsWanted) {
  const needs = name === 'bullmq' ? 'redis' : name === 'drover-pglite' ? undefined : 'postgres';
  if (needs && services[needs].error) {
    results.push({ name, figures: {}, checks: {}, notes: [], error: services[needs].error });
    continue;
  }
  const began = performance.now();
  results.push(await runSystem(name));
  log(`${name}: ${fmt((performance.now() - began) / 1000)} s in all`);
}
const fleetOutcome = flags['no-fleet'] ? { missing: false, runs: [] } : await fleet();
load.end = loadavg()[0];
const totalSeconds = (performance.now() - started) / 1000;

const failedChecks = results.some(
  (r) => r.error || Object.values(r.checks).some((all) => all.some((c) => c !== 'ok')),
);
if (failedChecks) process.exitCode = 1;
const markdown = await prettify(
  readme({
    results,
    fleetOutcome,
    env,
    services,
    peers: existsSync(new URL('node_modules', PEERS)) ? peerVersions() : {},
    startedAt,
    totalSeconds,
    load,
  }),
);
writeFileSync(README, markdown);
console.log(markdown);
log(`wrote ${README.pathname} (${fmt(totalSeconds / 60, 1)} min)`);
// Clients of the peers may keep a socket or a timer; the run is over.
process.exit();
