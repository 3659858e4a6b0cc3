// The cost of a metrics scrape on a farm holding 100,000 tasks: `npm run bench:metrics`.
//   node bench/metrics/run.mjs [--backend pglite|postgres] [--tasks 100000] [--jobs 100] [--explain]
// The farm gets --jobs jobs of --tasks tasks in all; a third of the jobs are run to the end
// (their tasks succeeded), the rest wait in the queue, so both the per-job counts and the
// queue's index have their full size. It times the statement that reads the farm's gauges
// (what an uncached scrape costs the database), then whole scrapes of GET /metrics from a real
// server (most answered from the 1.5 s cache, one in that time reading the database).
// PostgreSQL is DROVER_BENCH_DATABASE_URL, else postgres://root@127.0.0.1:5432/test, in a schema
// of this run's own, dropped at the end.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { openEngine } from '../../packages/engine/dist/src/index.js';
import { startServer } from '../../packages/server/dist/src/index.js';

const { values } = parseArgs({
  options: {
    backend: { type: 'string', default: 'pglite' },
    tasks: { type: 'string', default: '100000' },
    jobs: { type: 'string', default: '100' },
    explain: { type: 'boolean', default: false },
  },
});
const tasks = Number(values.tasks);
const jobs = Number(values.jobs);
const perJob = Math.ceil(tasks / jobs);
const databaseUrl = process.env.DROVER_BENCH_DATABASE_URL ?? 'postgres://root@127.0.0.1:5432/test';
const schema = `bench_metrics_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
const dataDir = mkdtempSync(join(tmpdir(), 'drover-bench-metrics-'));
const engine =
  values.backend === 'postgres'
    ? await openEngine({ databaseUrl, schema, migrate: true })
    : await openEngine({ dataDir });

const quantile = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
const summary = (ms) => {
  const sorted = [...ms].sort((a, b) => a - b);
  return `p50 ${quantile(sorted, 0.5).toFixed(2)} ms, p95 ${quantile(sorted, 0.95).toFixed(2)} ms, max ${sorted.at(-1).toFixed(2)} ms (${ms.length} runs)`;
};

try {
  const started = performance.now();
  for (let j = 0; j < jobs; j++) {
    await engine.submit({
      group: `group-${j % 5}`,
      taskType: `type-${j % 4}`,
      params: {},
      items: Array.from({ length: perJob }, (_, i) => ({ i })),
    });
  }
  process.stderr.write(
    `submitted ${jobs * perJob} tasks in ${jobs} jobs in ${((performance.now() - started) / 1000).toFixed(1)} s\n`,
  );
  // A third of the jobs run to the end: finished counts besides the waiting queue.
  const { worker } = await engine.registerWorker({
    name: 'bench-metrics',
    host: 'bench',
    tags: [],
    taskTypes: ['type-0'],
    slots: 500,
  });
  let done = 0;
  for (;;) {
    const leases = await engine.claimBatch({
      groups: [{ taskTypes: ['type-0'], tags: [], slots: Array(500).fill(worker.id) }],
      leaseMs: 60_000,
    });
    if (leases.length === 0) break;
    await engine.complete(leases.map((l) => ({ attemptId: l.attemptId, token: l.token })));
    done += leases.length;
  }
  process.stderr.write(`ran ${done} tasks to the end\n`);
  await engine.maintain();

  const query = [];
  for (let i = 0; i < 50; i++) {
    const t0 = performance.now();
    await engine.farmGauges();
    query.push(performance.now() - t0);
  }
  if (values.explain) {
    const statement = readFileSync(
      new URL('../../packages/engine/sql/farm-metrics.sql', import.meta.url),
      'utf8',
    );
    const plan = await engine.database.query(`EXPLAIN (ANALYZE, BUFFERS) ${statement}`);
    for (const row of plan) process.stderr.write(`${Object.values(row)[0]}\n`);
  }
  const server = await startServer({ engine, port: 0 });
  const scrapes = [];
  let bytes = 0;
  const until = performance.now() + 10_000;
  while (performance.now() < until) {
    const t0 = performance.now();
    const text = await (await fetch(`${server.url}/metrics`)).text();
    scrapes.push(performance.now() - t0);
    bytes = text.length;
  }
  await server.close();
  console.log(
    `backend ${engine.kind}; ${jobs * perJob} tasks in ${jobs} jobs (${done} succeeded, the rest queued)`,
  );
  console.log(`the farm's gauges, one statement (an uncached scrape): ${summary(query)}`);
  console.log(
    `GET /metrics back to back for 10 s (cached 1.5 s): ${summary(scrapes)}; ${bytes} bytes`,
  );
} finally {
  await engine.close();
  rmSync(dataDir, { recursive: true, force: true });
  if (values.backend === 'postgres') {
    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    await client.query(`DROP SCHEMA ${schema} CASCADE`);
    await client.end();
  }
}
