// How long a farm takes to notice what died, with real processes on PostgreSQL:
//   npm run bench:liveness                    with the default lease (30 s), about two minutes
//   LEASE_MS=3000 npm run bench:liveness      a quick run
// 1. A replica dies with its worker (SIGKILL of both: a host lost): from the kill to the worker
//    shown offline by the survivor, and to its tasks running on the survivor's idle worker.
// 2. A worker hangs with its socket open (SIGSTOP): from the stop to `unresponsive` (offered
//    nothing), and the tasks handed to it meanwhile (must be none).
// PostgreSQL is DROVER_BENCH_DATABASE_URL, else postgres://root@127.0.0.1:5432/test; the run works
// in a schema of its own and drops it at the end. Not part of `npm test`: figures, not checks.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { openEngine } from '@drover/engine';
import { startServer } from '@drover/server';

const LEASE_MS = Number(process.env.LEASE_MS ?? 30_000);
const DATABASE_URL = process.env.DROVER_BENCH_DATABASE_URL ?? 'postgres://root@127.0.0.1:5432/test';
const fixtures = new URL('../../packages/server/dist/test/fixtures/', import.meta.url);
const schema = `bench_liveness_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
const children = [];

function start(fixture, args, word, env = {}) {
  const child = spawn(process.execPath, [fileURLToPath(new URL(fixture, fixtures)), ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, ...env },
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    child.stdout.setEncoding('utf8').on('data', (chunk) => {
      for (const line of chunk.split('\n'))
        if (line.startsWith(`${word} `)) resolve({ child, said: line.slice(word.length + 1) });
    });
    child.once('exit', (code) => reject(new Error(`${fixture} ended (${code}) before "${word}"`)));
  });
}
const worker = (url, token, name, slots) =>
  start('worker-process.js', [url, name, String(slots)], 'ready', { DROVER_TOKEN: token });
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
async function until(probe, timeoutMs = 10 * LEASE_MS) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await probe()) return Date.now();
    await sleep(20);
  }
  throw new Error('timed out');
}

const engine = await openEngine({ databaseUrl: DATABASE_URL, schema, migrate: true });
const { secret: token } = await engine.accounts.createToken({ name: 'bench', role: 'worker' });
const survivor = await startServer({ engine, port: 0, leaseMs: LEASE_MS, pollMs: 200 });
const running = async (jobId, workerId) =>
  (await engine.listTasks(jobId)).filter((t) => t.status === 'running' && t.workerId === workerId)
    .length;
try {
  console.log(
    `lease ${LEASE_MS} ms (heartbeat ${Math.floor(LEASE_MS / 3)} ms), PostgreSQL ${DATABASE_URL}`,
  );

  // 1. A replica dies with its worker.
  const doomed = await start('replica-process.js', [schema, String(LEASE_MS)], 'listening', {
    DROVER_TEST_DATABASE_URL: DATABASE_URL,
  });
  const stranded = await worker(doomed.said, token, `stranded-${schema}`, 2);
  const { job } = await engine.submit({
    group: 'bench',
    taskType: 'sleepy',
    params: { steps: 10_000, stepMs: 10 },
    items: [{ n: 1 }, { n: 2 }],
  });
  await until(async () => (await running(job.id, stranded.said)) === 2);
  const idle = await worker(survivor.url, token, `idle-${schema}`, 2);
  // A moment apart from the replica's last heartbeat, as a death would be.
  await sleep(Math.random() * (LEASE_MS / 3));
  doomed.child.kill('SIGKILL');
  stranded.child.kill('SIGKILL');
  const killed = Date.now();
  const offline = await until(
    async () => (await engine.getWorker(stranded.said)).state === 'offline',
  );
  const rerun = await until(async () => (await running(job.id, idle.said)) === 2);
  console.log(`replica SIGKILLed with its worker → worker offline: ${offline - killed} ms`);
  console.log(
    `replica SIGKILLed with its worker → its 2 tasks running on another replica's idle worker: ${rerun - killed} ms`,
  );
  await engine.cancelJob(job.id, 'bench over');

  // 2. A worker hangs.
  const hung = await worker(survivor.url, token, `hung-${schema}`, 1);
  const { job: work } = await engine.submit({
    group: 'bench',
    taskType: 'sleepy',
    params: { steps: 20, stepMs: 50 },
    items: Array.from({ length: 400 }, (_, n) => ({ n })),
  });
  await until(async () => (await running(work.id, hung.said)) === 1);
  await sleep(Math.random() * (LEASE_MS / 3));
  hung.child.kill('SIGSTOP');
  const stopped = Date.now();
  const attemptsOf = async () =>
    (await Promise.all((await engine.listTasks(work.id)).map((t) => engine.listAttempts(t.id))))
      .flat()
      .filter((a) => a.workerId === hung.said).length;
  const before = await attemptsOf();
  const unresponsive = await until(
    async () => (await engine.getWorker(hung.said)).state === 'unresponsive',
  );
  await sleep(LEASE_MS);
  console.log(`worker SIGSTOPped → unresponsive (offered nothing): ${unresponsive - stopped} ms`);
  console.log(
    `tasks handed to it while it hung, over a further lease: ${(await attemptsOf()) - before}`,
  );
  hung.child.kill('SIGCONT');
  await engine.cancelJob(work.id, 'bench over');
} finally {
  for (const child of children) child.kill('SIGKILL');
  await survivor.close();
  await engine.close();
  const client = new pg.Client({ connectionString: DATABASE_URL });
  await client.connect();
  await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await client.end();
}
