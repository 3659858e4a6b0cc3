// How fast webhooks reach a receiver, on PostgreSQL with a real server and a real receiver:
//   npm run bench:webhooks            (JOBS=1000 by default, at most 1024)
// 1. Latency: one job ends at a time (50 times): from the commit of its end to the receiver
//    holding the POST, p50 and p99.
// 2. Throughput: JOBS jobs end in one statement: from that commit to the last POST received,
//    with the server's default 16 concurrent tries.
// PostgreSQL is DROVER_BENCH_DATABASE_URL, else postgres://root@127.0.0.1:5432/test; the run works
// in a schema of its own and drops it at the end. Not part of `npm test`: figures, not checks.
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import pg from 'pg';
import { openEngine } from '@drover/engine';
import { startServer } from '@drover/server';

// At most 1024: the one worker claims them all at once.
const JOBS = Math.min(1024, Number(process.env.JOBS ?? 1000));
const DATABASE_URL = process.env.DROVER_BENCH_DATABASE_URL ?? 'postgres://root@127.0.0.1:5432/test';
const schema = `bench_webhooks_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const arrivals = new Map();
const receiver = createServer((request, response) => {
  request.resume().on('end', () => {
    arrivals.set(String(request.headers['drover-delivery']), performance.now());
    response.writeHead(204).end();
  });
});
await new Promise((resolve) => receiver.listen(0, '127.0.0.1', resolve));
const url = `http://127.0.0.1:${receiver.address().port}/hook`;

const engine = await openEngine({ databaseUrl: DATABASE_URL, schema, migrate: true });
const server = await startServer({ engine, port: 0 });
const type = 'bench.webhook';
await engine.webhooks.add({ url, events: ['job.succeeded'] });

async function endJobs(n) {
  for (let i = 0; i < n; i++) await engine.submit({ group: 'bench', taskType: type, params: {} });
  // Registered afresh: a worker no server holds is taken for gone once not seen for a lease.
  const { worker } = await engine.registerWorker({
    name: 'bench',
    host: 'h',
    taskTypes: [type],
    slots: 1024,
  });
  const held = await engine.claim({ workerId: worker.id, taskTypes: [type], tags: [], limit: n });
  return held;
}
const percentile = (values, p) =>
  values.sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(p * values.length))];

try {
  const latencies = [];
  for (let i = 0; i < 50; i++) {
    const [lease] = await endJobs(1);
    const before = arrivals.size;
    const t0 = performance.now();
    await engine.complete([{ ...lease, result: null }]);
    while (arrivals.size === before) await sleep(1);
    latencies.push([...arrivals.values()].at(-1) - t0);
  }
  console.log(
    `latency, job end committed → POST received: p50 ${percentile(latencies, 0.5).toFixed(1)} ms, p99 ${percentile(latencies, 0.99).toFixed(1)} ms (50 jobs one at a time)`,
  );

  const held = await endJobs(JOBS);
  const before = arrivals.size;
  const t0 = performance.now();
  await engine.complete(held.map((lease) => ({ ...lease, result: null })));
  const committed = performance.now();
  while (arrivals.size < before + JOBS) await sleep(5);
  const seconds = (performance.now() - committed) / 1000;
  console.log(
    `throughput: ${JOBS} jobs ended in one statement (${(committed - t0).toFixed(0)} ms with their outbox rows); all ${JOBS} POSTs received ${seconds.toFixed(2)} s later: ${(JOBS / seconds).toFixed(0)} deliveries/s`,
  );
} finally {
  await server.close();
  await engine.close();
  receiver.closeAllConnections();
  receiver.close();
  const client = new pg.Client({ connectionString: DATABASE_URL });
  await client.connect();
  await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await client.end();
}
