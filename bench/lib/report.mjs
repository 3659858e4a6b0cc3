// The report of `npm run bench` (bench/run.mjs): the markdown tables of throughput, latency,
// checks and fleet, the machine and versions, and bench/README.md around them (through Prettier).
import { fmt, README, readJson, ROOT } from './common.mjs';
import {
  CONCURRENCY,
  IN_FLIGHT,
  LATENCY_EVERY_MS,
  LATENCY_TASKS,
  PHASE_LABELS,
  POLL_MS,
} from './phases.mjs';

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

function throughputTable(results, phases) {
  const wanted = ['enqueue', 'drain1', 'drain2', 'single'].filter((p) => phases.includes(p));
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

function checksTable(results, phases) {
  const rows = results.map((r) => [
    r.label ?? r.name,
    ...phases.map((p) => {
      if (r.error) return `not run: ${r.error}`;
      const all = r.checks[p];
      if (all.length === 0) return '';
      const bad = all.filter((c) => c !== 'ok');
      return bad.length === 0 ? `ok (${all.length} of ${all.length})` : bad.join('; ');
    }),
  ]);
  return table(['system', ...phases.map((p) => PHASE_LABELS[p])], rows);
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

function fleetSection(outcome, run) {
  if (run.noFleet) return 'Not run (`--no-fleet`).';
  if (outcome.missing)
    return table(
      ['backend', 'workers', 'run'],
      run.fleetSizes.map((w) => [
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

/** bench/README.md, before Prettier: this run's tables, machine and versions, and the method. */
export function readme(
  run,
  { results, fleetOutcome, env, services, peers, startedAt, totalSeconds, load },
) {
  const { n, reps } = run;
  const quickNote = run.quick
    ? ' (a quick smoke run: small numbers of tasks, one repetition; not comparable with a full run)'
    : '';
  const notes = results.flatMap((r) => r.notes.map((note) => `- ${r.label ?? r.name}: ${note}`));
  return `# Benchmarks

This file is written by \`npm run bench\` (\`bench/run.mjs\`): do not edit it by hand, run the
command again. The engine's own benchmark (claims and bulk submits against the engine API, no
server) is in [engine/README.md](engine/README.md) (\`npm run bench:engine\`); how fast the
dashboard follows a farm is in [dashboard/README.md](dashboard/README.md).

## Drover and its peers

Command: \`${commandLine()}\`${quickNote}

Run ${startedAt}, commit ${env.commit}, ${fmt(totalSeconds / 60, 1)} min in all.
${fmt(n)} no-op tasks per phase, ${reps} repetition${reps === 1 ? '' : 's'} of each (a fresh queue
every time): each figure is the median, with the lowest and highest in brackets.

### Throughput

${throughputTable(results, run.phases)}

### Latency

${fmt(LATENCY_TASKS)} tasks, one every ${LATENCY_EVERY_MS} ms, to one idle worker.

${latencyTable(results)}

${notes.length > 0 ? `${notes.join('\n')}\n\n` : ''}### Checks

Every task ran exactly once and the store counts every one done:

${checksTable(results, run.phases)}

### Fleet (Drover only)

\`node bench/fleet/run.mjs --backend pglite|postgres --workers N --tasks ${n}\`, one run each
(what each figure means is at the top of that script):

${fleetSection(fleetOutcome, run)}

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

- **bulk enqueue**: the time of the system's bulk call alone for ${fmt(n)} tasks:
  Drover \`client.submit\` of one job with ${fmt(n)} \`items\`, BullMQ \`Queue.addBulk\`,
  graphile-worker \`addJobs\`, pg-boss \`insert\`.
- **drain, 1 or 2 worker processes**: after a bulk enqueue, 1 or 2 worker processes (separate OS
  processes, \`child_process.fork\`) of ${CONCURRENCY} tasks at once each: Drover \`slots: ${CONCURRENCY}\`,
  BullMQ \`concurrency: ${CONCURRENCY}\`, graphile-worker \`concurrentJobs: ${CONCURRENCY}\`, pg-boss
  ${CONCURRENCY} of a batch at a time (see below). Each process loads its modules first; the clock starts
  when they are told to start (connecting is inside the time) and stops when the store
  itself counts ${fmt(n)} done, asked every ${POLL_MS} ms: Drover \`jobs.get\` (the job's counts in its
  database), BullMQ \`getCompletedCount\`, graphile-worker the jobs left in its table (it deletes
  a job when it completes), pg-boss the \`completed\` rows of its job table. Never the workers'
  own counters. The 1-process drain follows the timed bulk enqueue of the same repetition.
- **one-by-one submit**: ${fmt(n)} tasks through the normal single-submit call, ${IN_FLIGHT} calls in
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
  backend, with ${run.fleetSizes.map((w) => fmt(w)).join(' and ')} workers; its figures as it prints them.

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
export async function prettify(markdown) {
  try {
    const prettier = await import('prettier');
    const options = (await prettier.resolveConfig(README.pathname)) ?? {};
    return await prettier.format(markdown, { ...options, filepath: README.pathname });
  } catch {
    return markdown;
  }
}
