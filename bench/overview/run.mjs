// The overview's cost on a big farm: farm.overview, farm.history, the sampler's statement and
// jobs.timeline with 100,000 tasks (half of them finished over the last two hours), 1,000
// connected workers each running a task, and 7 days of samples, on PGlite and on PostgreSQL.
//   npm run build && node bench/overview/run.mjs [--backend pglite|postgres|both]
// PostgreSQL is DROVER_BENCH_DATABASE_URL, else postgres://root@127.0.0.1:5432/test; the run
// works in a schema of its own and drops it at the end. Prints a table of timings (ms).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { openEngine } from '../../packages/engine/dist/src/index.js';
import { startServer } from '../../packages/server/dist/src/index.js';

const DATABASE_URL = process.env.DROVER_BENCH_DATABASE_URL ?? 'postgres://root@127.0.0.1:5432/test';
const TASKS = 100_000;
const JOBS = 100;
const WORKERS = 1000;
const TYPE = 'bench.overview';
const { values: flags } = parseArgs({
  options: { backend: { type: 'string', default: 'both' } },
});
const backends = flags.backend === 'both' ? ['pglite', 'postgres'] : [flags.backend];

/** p50, p95 and max of `runs` timed calls of `fn`, in ms, after one call to warm up. */
async function time(runs, fn) {
  await fn();
  const ms = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    await fn();
    ms.push(performance.now() - start);
  }
  ms.sort((a, b) => a - b);
  const at = (q) => ms[Math.min(ms.length - 1, Math.floor(q * ms.length))];
  return { p50: at(0.5), p95: at(0.95), max: ms.at(-1) };
}

async function open(backend) {
  if (backend === 'pglite') {
    const dir = mkdtempSync(join(tmpdir(), 'drover-bench-overview-'));
    const engine = await openEngine({ dataDir: dir });
    return { engine, done: async () => rmSync(dir, { recursive: true, force: true }) };
  }
  const schema = `bench_overview_${process.pid}`;
  const engine = await openEngine({ databaseUrl: DATABASE_URL, schema, migrate: true });
  return {
    engine,
    done: async () => {
      const client = new pg.Client({ connectionString: DATABASE_URL });
      await client.connect();
      await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await client.end();
    },
  };
}

async function fill(engine) {
  const t0 = performance.now();
  const workers = await engine.registerWorkers(
    Array.from({ length: WORKERS }, (_, i) => ({
      name: `bench-${String(i).padStart(4, '0')}`,
      host: `host-${i % 50}`,
      taskTypes: [TYPE],
      slots: 1,
    })),
  );
  for (let j = 0; j < JOBS; j++) {
    await engine.submit({
      group: `g${j % 5}`,
      name: `job ${j}`,
      taskType: TYPE,
      items: Array.from({ length: TASKS / JOBS }, (_, i) => ({ i })),
    });
  }
  // Half the tasks finished over the last two hours, 2% of them failed: as a busy farm's are.
  await engine.database.query(
    `UPDATE tasks SET status = CASE WHEN id % 50 = 0 THEN 'failed' ELSE 'succeeded' END,
            attempt = 1, started_at = now() - interval '2 hours',
            finished_at = now() - random() * interval '2 hours'
      WHERE id IN (SELECT id FROM tasks ORDER BY id LIMIT $1)`,
    [TASKS / 2],
  );
  // Every worker runs one task now.
  for (const { worker } of workers) {
    await engine.claim({ workerId: worker.id, taskTypes: [TYPE], tags: [], limit: 1 });
  }
  // A week of samples every 10 s, up to a minute ago.
  await engine.database.query(
    `INSERT INTO metrics_samples
       (at, interval_ms, queued, running, workers_online, workers_busy, succeeded, failed)
     SELECT g, 10000, 50000, 1000, 1000, 1000, 300, 6
       FROM generate_series(date_trunc('minute', now()) - interval '7 days',
                            date_trunc('minute', now()) - interval '1 minute',
                            interval '10 seconds') g`,
  );
  // One job run for real by a worker of 100 slots: 5,000 attempts, one of them failed and run
  // again, for jobs.timeline.
  const { worker: runner } = await engine.registerWorker({
    name: 'timeline-runner',
    host: 'h',
    taskTypes: ['bench.timeline'],
    slots: 100,
  });
  const { job } = await engine.submit({
    group: 'g0',
    name: 'timeline',
    taskType: 'bench.timeline',
    items: Array.from({ length: 5000 }, (_, i) => ({ i })),
  });
  for (;;) {
    const held = await engine.claim({
      workerId: runner.id,
      taskTypes: ['bench.timeline'],
      tags: [],
      limit: 100,
    });
    if (held.length === 0) break;
    await engine.complete(held.map((a) => ({ ...a, result: null })));
  }
  await engine.maintain();
  return { job, seconds: (performance.now() - t0) / 1000 };
}

const rows = [];
for (const backend of backends) {
  const { engine, done } = await open(backend);
  try {
    const { job, seconds } = await fill(engine);
    console.error(`${backend}: filled in ${seconds.toFixed(1)} s`);
    if (process.env.BENCH_EXPLAIN) {
      const { readFileSync } = await import('node:fs');
      for (const [name, params] of [
        ['farm-overview', []],
        ['overview-workers', [1001]],
        ['job-timeline', [job.id, 2001]],
      ]) {
        const text = readFileSync(
          new URL(`../../packages/engine/sql/${name}.sql`, import.meta.url),
          'utf8',
        );
        const plan = await engine.database.query(`EXPLAIN (ANALYZE, BUFFERS) ${text}`, params);
        console.error(`-- ${name}\n${plan.map((r) => r['QUERY PLAN']).join('\n')}`);
      }
    }
    const hour = () => new Date(Date.now() - 3_600_000);
    const cases = {
      'farm.overview (engine)': () => engine.farmOverview(),
      'farm.history 1 h, 10 s step (engine)': () =>
        engine.farmHistory({ since: hour(), stepMs: 10_000 }),
      'farm.history 24 h, 5 min step (engine)': () =>
        engine.farmHistory({ since: new Date(Date.now() - 86_400_000), stepMs: 300_000 }),
      'farm.history 7 d, 1,440 points (engine)': () =>
        engine.farmHistory({ since: new Date(Date.now() - 7 * 86_400_000), stepMs: 10_000 }),
      "the sampler's statement, recording": async () => {
        await engine.database.query(
          `DELETE FROM metrics_samples WHERE at > now() - interval '30 seconds'`,
        );
        await engine.recordSample(10_000, 7 * 86_400_000);
      },
      "the sampler's statement, already recorded": () =>
        engine.recordSample(10_000, 7 * 86_400_000),
      'jobs.timeline, 5,000 attempts, latest 2,000 (engine)': () => engine.jobTimeline(job.id),
    };
    for (const [name, fn] of Object.entries(cases)) {
      rows.push({ backend, case: name, ...(await time(20, fn)) });
    }
    // The same over HTTP, as the dashboard asks: JSON-RPC, authorisation, serialisation.
    const server = await startServer({ engine, port: 0, history: { sampleMs: 0 } });
    const { secret } = await engine.accounts.createToken({ name: 'bench', role: 'admin' });
    // A server starting alone takes the workers no live server holds for gone; these stand for
    // 1,000 workers connected to it.
    await engine.database.query(`UPDATE workers SET state = 'online'`);
    let bytes = {};
    const rpc = async (method, params) => {
      const response = await fetch(`${server.url}/rpc`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${secret}` },
        body: JSON.stringify({ jsonrpc: '2.0', method, params, id: 1 }),
      });
      const text = await response.text();
      bytes[method] = text.length;
      if (JSON.parse(text).error) throw new Error(text);
    };
    try {
      // The server starting alone on PGlite takes the workers for gone and, for seconds, shares
      // the one connection with its start-up work: that row would measure neither.
      if (backend === 'postgres') {
        rows.push({
          backend,
          case: 'farm.overview over HTTP (1,000 workers listed)',
          ...(await time(20, () => rpc('farm.overview', {}))),
        });
      }
      rows.push({
        backend,
        case: 'farm.history 1 h over HTTP',
        ...(await time(20, () => rpc('farm.history', {}))),
      });
      rows.push({
        backend,
        case: 'jobs.timeline over HTTP',
        ...(await time(20, () => rpc('jobs.timeline', { id: job.id }))),
      });
      console.error(`${backend}: answers, bytes: ${JSON.stringify(bytes)}`);
    } finally {
      await server.close();
    }
  } finally {
    await engine.close();
    await done();
  }
}
console.log('| backend | case | p50 ms | p95 ms | max ms |');
console.log('| --- | --- | ---: | ---: | ---: |');
for (const r of rows) {
  console.log(
    `| ${r.backend} | ${r.case} | ${r.p50.toFixed(1)} | ${r.p95.toFixed(1)} | ${r.max.toFixed(1)} |`,
  );
}
