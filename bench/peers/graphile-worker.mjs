// graphile-worker as bench/run.mjs drives it, in a PostgreSQL schema of this run's own (dropped
// at the end). Each phase's queue is a task identifier of its own. Configuration, from the
// graphile-worker docs ("Performance", and the 0.16 release notes on batching): the local queue
// (`localQueue.size` 500, as the Performance page's configuration), batched completion and failure
// (`completeJobBatchDelay: 0`, `failJobBatchDelay: 0`), `concurrentJobs: 50`, `maxPoolSize`
// concurrency + 1; `addJobs` for bulk adds and `addJob` one at a time. graphile-worker tells
// no client when a job ends (its events are the worker's), so the latency phase has no
// "completion seen by the client" for it.
import { performance } from 'node:perf_hooks';
import { Logger, makeWorkerUtils, run } from 'graphile-worker';

const WORKER = new URL('graphile-worker-worker.mjs', import.meta.url).pathname;

/** Warnings and errors only: graphile-worker says a lot at info level. */
export const quietLogger = new Logger((scope) => (level, message) => {
  if (level === 'error' || level === 'warning')
    process.stderr.write(`[graphile-worker ${level}] ${message} ${JSON.stringify(scope)}\n`);
});

/** The documented fast configuration, for a worker of `concurrency` jobs at once. */
export function fastPreset(connectionString, schema, concurrency) {
  return {
    worker: {
      connectionString,
      schema,
      concurrentJobs: concurrency,
      maxPoolSize: concurrency + 1,
      localQueue: { size: 500 },
      completeJobBatchDelay: 0,
      failJobBatchDelay: 0,
    },
  };
}

/** @param {{ databaseUrl: string, runId: string }} options */
export function graphileWorkerSystem({ databaseUrl, runId }) {
  const schema = `bench_graphile_${runId}`;
  let utils;

  return {
    name: 'graphile-worker',
    label: 'graphile-worker',
    completionSeen: false,
    notes: [
      'graphile-worker has no way for a client to learn that a job ended, so no completion latency.',
    ],

    async open() {
      utils = await makeWorkerUtils({ connectionString: databaseUrl, schema, logger: quietLogger });
      await utils.migrate();
    },
    async close() {
      if (!utils) return;
      await utils.withPgClient((client) => client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`));
      await utils.release();
    },

    async newQueue(tag) {
      return { task: `noop_${tag}`.replace(/[^a-z0-9_]/gi, '_') };
    },
    async dropQueue(q) {
      await utils.withPgClient((client) =>
        client.query(
          `DELETE FROM ${schema}._private_jobs WHERE task_id IN
             (SELECT id FROM ${schema}._private_tasks WHERE identifier = $1)`,
          [q.task],
        ),
      );
    },

    async enqueueBulk(q, n) {
      await utils.addJobs(
        Array.from({ length: n }, (_, i) => ({ identifier: q.task, payload: { i } })),
      );
    },

    async submitOne(q, i) {
      await utils.addJob(q.task, { i });
    },

    /** A job is deleted when it completes: completed = jobs added - jobs left. */
    async completed(q, n) {
      const left = await utils.withPgClient((client) =>
        client.query(`SELECT count(*)::int AS n FROM ${schema}.jobs WHERE task_identifier = $1`, [
          q.task,
        ]),
      );
      return n - left.rows[0].n;
    },

    worker(q, _index, concurrency) {
      return { script: WORKER, config: { databaseUrl, schema, task: q.task, concurrency } };
    },

    async startLatencyWorker(q, concurrency, onRun) {
      const runner = await run({
        preset: fastPreset(databaseUrl, schema, concurrency),
        logger: quietLogger,
        noHandleSignals: true,
        taskList: {
          [q.task]: async (payload) => {
            onRun(payload.i, performance.now(), payload);
          },
        },
      });
      return { stop: () => runner.stop() };
    },

    async submitWatched(q, i, t) {
      await utils.addJob(q.task, { i, t });
      return undefined;
    },
  };
}
