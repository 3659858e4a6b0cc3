// pg-boss as bench/run.mjs drives it, in a PostgreSQL schema of this run's own (dropped at the
// end), one queue (`createQueue`, a partition of its own) per phase. Configuration, from the
// pg-boss v10 docs and its maintainer's answers (timgit/pg-boss #483, #542): v10 has no
// teamSize/teamConcurrency any more; a worker is a `work()` loop that fetches `batchSize` jobs and
// completes them together when its handler resolves, waiting out `pollingIntervalSeconds` (0.5,
// the least v10 accepts) between fetches, and concurrency is the handler's own ("handle
// concurrency yourself in your handler", with p-map or the like). So: `batchSize: 500` fetched
// and locked at once, run 50 at a time, the same shape as graphile-worker's documented fast
// configuration (a local queue of 500, 50 jobs at once). With `batchSize: 50` a process would
// drain at most 50 jobs per 0.5 s. `insert` adds in bulk, `send` one at a time. Maintenance and
// cron (`supervise`, `schedule`) are off: nothing of them is measured. v10 has no completion
// events (onComplete went in v10), so no client sees a job end.
import { performance } from 'node:perf_hooks';
import PgBoss from 'pg-boss';

const WORKER = new URL('pg-boss-worker.mjs', import.meta.url).pathname;

export const WORK_OPTIONS = { batchSize: 500, pollingIntervalSeconds: 0.5 };

export function bossOptions(connectionString, schema) {
  return { connectionString, schema, supervise: false, schedule: false };
}

/** Runs fn over the items, at most `limit` at a time. */
async function eachLimited(items, limit, fn) {
  let next = 0;
  const lane = async () => {
    while (next < items.length) await fn(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
}

/** One work() loop: a batch of WORK_OPTIONS.batchSize, `concurrency` of its jobs at a time. */
export function work(boss, queue, concurrency, onJob) {
  return boss.work(queue, WORK_OPTIONS, (jobs) => eachLimited(jobs, concurrency, onJob));
}

/** @param {{ databaseUrl: string, runId: string }} options */
export function pgBossSystem({ databaseUrl, runId }) {
  const schema = `bench_pgboss_${runId}`;
  let boss;

  return {
    name: 'pg-boss',
    label: 'pg-boss',
    completionSeen: false,
    notes: [
      'pg-boss v10 has no completion events for a client (onComplete was removed in v10), so no completion latency.',
    ],

    async open() {
      boss = new PgBoss(bossOptions(databaseUrl, schema));
      boss.on('error', (error) => process.stderr.write(`[pg-boss] ${error.message}\n`));
      await boss.start();
    },
    async close() {
      if (!boss) return;
      await boss.getDb().executeSql(`DROP SCHEMA IF EXISTS ${schema} CASCADE`, []);
      await boss.stop({ graceful: false, wait: true });
    },

    async newQueue(tag) {
      const name = `noop-${tag}`;
      await boss.createQueue(name);
      return { name };
    },
    /** deleteQueue refuses a queue that still has jobs (its foreign key), so those go first. */
    async dropQueue(q) {
      await boss.getDb().executeSql(`DELETE FROM ${schema}.job WHERE name = $1`, [q.name]);
      await boss.deleteQueue(q.name);
    },

    async enqueueBulk(q, n) {
      await boss.insert(Array.from({ length: n }, (_, i) => ({ name: q.name, data: { i } })));
    },

    async submitOne(q, i) {
      await boss.send(q.name, { i });
    },

    async completed(q) {
      const { rows } = await boss
        .getDb()
        .executeSql(
          `SELECT count(*)::int AS n FROM ${schema}.job WHERE name = $1 AND state = 'completed'`,
          [q.name],
        );
      return rows[0].n;
    },

    worker(q, _index, concurrency) {
      return { script: WORKER, config: { databaseUrl, schema, queue: q.name, concurrency } };
    },

    async startLatencyWorker(q, concurrency, onRun) {
      const worker = new PgBoss(bossOptions(databaseUrl, schema));
      worker.on('error', (error) => process.stderr.write(`[pg-boss] ${error.message}\n`));
      await worker.start();
      await work(worker, q.name, concurrency, async (job) => {
        onRun(job.data.i, performance.now(), job.data);
      });
      return { stop: () => worker.stop({ graceful: true, wait: true, timeout: 5000 }) };
    },

    async submitWatched(q, i, t) {
      await boss.send(q.name, { i, t });
      return undefined;
    },
  };
}
