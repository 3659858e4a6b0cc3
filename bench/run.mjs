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
// This file reads the flags and runs it all; the parts are in bench/lib/: common.mjs (paths, log,
// helpers), machine.mjs (machine, services, versions), phases.mjs (phases and checks),
// systems.mjs (each system's repetitions), fleet.mjs (bench/fleet/run.mjs) and report.mjs.
import { execFileSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { errorText, fmt, log, PEERS, README, ROOT } from './lib/common.mjs';
import { fleet } from './lib/fleet.mjs';
import { installPeers, machine, peerVersions, postgresInfo, redisInfo } from './lib/machine.mjs';
import { PHASES } from './lib/phases.mjs';
import { prettify, readme } from './lib/report.mjs';
import { runSystem, SYSTEMS } from './lib/systems.mjs';

const DEFAULT_DATABASE_URL = 'postgres://root@127.0.0.1:5432/test';
const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

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

/** This run, as the flags and the environment make it: what the other parts of bench/lib/ read. */
const run = {
  quick: flags.quick,
  noFleet: flags['no-fleet'],
  systems: systemsWanted,
  phases: phasesWanted,
  n: N,
  reps: REPS,
  fleetSizes: FLEET_SIZES,
  fleetTimeoutMs: FLEET_TIMEOUT_MS,
  databaseUrl,
  redis,
  runId,
};

// Preparing: the build (the peers' install and the services are in lib/machine.mjs).

function build() {
  log('npm run build');
  try {
    execFileSync('npm', ['run', 'build'], { cwd: ROOT.pathname, stdio: ['ignore', 2, 2] });
  } catch {
    log('npm run build failed (see above): nothing was measured');
    process.exit(1);
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
  services.postgres = await postgresInfo(databaseUrl);
} catch (error) {
  services.postgres = { error: errorText(error) };
  log(`PostgreSQL: ${services.postgres.error}`);
}
try {
  services.redis = await redisInfo(redis);
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
  results.push(await runSystem(name, run));
  log(`${name}: ${fmt((performance.now() - began) / 1000)} s in all`);
}
const fleetOutcome = flags['no-fleet'] ? { missing: false, runs: [] } : await fleet(run);
load.end = loadavg()[0];
const totalSeconds = (performance.now() - started) / 1000;

const failedChecks = results.some(
  (r) => r.error || Object.values(r.checks).some((all) => all.some((c) => c !== 'ok')),
);
if (failedChecks) process.exitCode = 1;
const markdown = await prettify(
  readme(run, {
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
