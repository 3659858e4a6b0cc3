// How late a schedule's tick is submitted, with two servers ticking on one PostgreSQL database:
//   npm run bench:schedules                   20 s of an every-second schedule
//   BENCH_SECONDS=60 npm run bench:schedules
// For each tick: from the tick's time to its job's creation (the database's clock for both), and
// how many jobs each tick got (must be one). Also on the embedded database (one server).
// PostgreSQL is DROVER_BENCH_DATABASE_URL, else postgres://root@127.0.0.1:5432/test; the run works
// in a schema of its own and drops it at the end. Not part of `npm test`: figures, not checks.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { openEngine } from '@drover/engine';
import { startServer } from '@drover/server';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 20);
const DATABASE_URL = process.env.DROVER_BENCH_DATABASE_URL ?? 'postgres://root@127.0.0.1:5432/test';
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

async function measure(label, engines) {
  const servers = [];
  for (const engine of engines) servers.push(await startServer({ engine, port: 0 }));
  const [engine] = engines;
  const name = `bench-${randomUUID().slice(0, 8)}`;
  const schedule = await engine.schedules.add({
    name,
    cron: '* * * * * *',
    overlap: 'queue',
    job: { group: 'bench-schedules', taskType: 'bench.noop', params: {} },
  });
  await sleep(SECONDS * 1000);
  await engine.schedules.pause(name);
  const jobs = (await engine.listJobs({ group: 'bench-schedules', limit: 1000 })).filter((j) =>
    j.idempotencyKey?.startsWith(`schedule:${schedule.id}:`),
  );
  const prefix = `schedule:${schedule.id}:`;
  const ticks = jobs.map((j) => j.idempotencyKey.slice(prefix.length));
  const late = jobs
    .map((j) => Date.parse(j.createdAt) - Date.parse(j.idempotencyKey.slice(prefix.length)))
    .sort((a, b) => a - b);
  const sorted = [...ticks].sort();
  let gaps = 0;
  for (let i = 1; i < sorted.length; i++)
    if (Date.parse(sorted[i]) - Date.parse(sorted[i - 1]) !== 1000) gaps += 1;
  console.log(
    `${label}: ${jobs.length} ticks in ${SECONDS} s, ${new Set(ticks).size} distinct, ${gaps} gaps; ` +
      `tick → job created p50 ${percentile(late, 50)} ms, p99 ${percentile(late, 99)} ms, max ${late.at(-1)} ms`,
  );
  for (const server of servers) await server.close();
}

const dataDir = mkdtempSync(join(tmpdir(), 'drover-bench-schedules-'));
const embedded = await openEngine({ dataDir });
await measure('embedded (PGlite), 1 server', [embedded]);
await embedded.close();
rmSync(dataDir, { recursive: true, force: true });

const schema = `bench_sched_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
const a = await openEngine({ databaseUrl: DATABASE_URL, schema, migrate: true });
const b = await openEngine({ databaseUrl: DATABASE_URL, schema });
try {
  await measure('PostgreSQL, 2 servers', [a, b]);
} finally {
  await a.close();
  await b.close();
  const client = new pg.Client({ connectionString: DATABASE_URL });
  await client.connect();
  await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await client.end();
}
