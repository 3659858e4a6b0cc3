// BullMQ as bench/run.mjs drives it, on the Redis at `redis` ({ host, port }). Everything lives
// under a key prefix of this run's own and each queue is obliterated after its phase.
// Configuration, from the BullMQ docs: `Queue.addBulk` for bulk adds ("Adding jobs in bulk"),
// `Queue.add` one at a time, a `Worker` with `concurrency: 50` ("Concurrency"), connections
// with `maxRetriesPerRequest: null` ("Going to production"), and `QueueEvents` 'completed' for
// a client that waits for a job. Completed jobs are kept (the default), which is what lets the
// benchmark count them in Redis.
import { performance } from 'node:perf_hooks';
import { Queue, QueueEvents, Worker } from 'bullmq';

const WORKER = new URL('bullmq-worker.mjs', import.meta.url).pathname;

/** @param {{ redis: { host: string, port: number }, runId: string }} options */
export function bullmqSystem({ redis, runId }) {
  const prefix = `drover-bench-${runId}`;
  const connection = { ...redis, maxRetriesPerRequest: null };
  const queues = new Map();

  return {
    name: 'bullmq',
    label: 'BullMQ',
    completionSeen: true,
    notes: [],

    async open() {},
    async close() {
      for (const queue of queues.values()) await queue.close();
    },

    async newQueue(tag) {
      const name = `q-${tag}`;
      const queue = new Queue(name, { connection, prefix });
      await queue.waitUntilReady();
      queues.set(name, queue);
      return { name, queue };
    },

    async dropQueue(q) {
      await q.events?.close();
      await q.queue.obliterate({ force: true });
      await q.queue.close();
      queues.delete(q.name);
    },

    async enqueueBulk(q, n) {
      await q.queue.addBulk(Array.from({ length: n }, (_, i) => ({ name: 'noop', data: { i } })));
    },

    async submitOne(q, i) {
      await q.queue.add('noop', { i });
    },

    completed(q) {
      return q.queue.getCompletedCount();
    },

    worker(q, _index, concurrency) {
      return { script: WORKER, config: { connection, prefix, queue: q.name, concurrency } };
    },

    async startLatencyWorker(q, concurrency, onRun) {
      q.waiting = new Map();
      q.events = new QueueEvents(q.name, { connection, prefix });
      q.events.on('completed', ({ jobId }) => {
        q.waiting.get(jobId)?.(performance.now());
        q.waiting.delete(jobId);
      });
      await q.events.waitUntilReady();
      const worker = new Worker(
        q.name,
        async (job) => {
          onRun(job.data.i, performance.now(), job.data);
          return null;
        },
        { connection, prefix, concurrency },
      );
      await worker.waitUntilReady();
      return { stop: () => worker.close() };
    },

    /** Adds the job under a known id and resolves when QueueEvents says it completed. */
    submitWatched(q, i, t) {
      const jobId = `k${i}`;
      const done = new Promise((resolve) => q.waiting.set(jobId, resolve));
      return q.queue.add('noop', { i, t }, { jobId }).then(() => done);
    },
  };
}
