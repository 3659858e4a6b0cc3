// One BullMQ worker process for bench/run.mjs. Config: { connection, prefix, queue, concurrency }.
import { Worker } from 'bullmq';
import { serveWorker } from './worker-process.mjs';

serveWorker(async ({ connection, prefix, queue, concurrency }, record) => {
  const worker = new Worker(
    queue,
    async (job) => {
      record(job.data.i);
      return null;
    },
    { connection, prefix, concurrency },
  );
  await worker.waitUntilReady();
  return { stop: () => worker.close() };
});
