// One graphile-worker process for bench/run.mjs. Config: { databaseUrl, schema, task, concurrency }.
import { run } from 'graphile-worker';
import { fastPreset, quietLogger } from './graphile-worker.mjs';
import { serveWorker } from './worker-process.mjs';

serveWorker(async ({ databaseUrl, schema, task, concurrency }, record) => {
  const runner = await run({
    preset: fastPreset(databaseUrl, schema, concurrency),
    logger: quietLogger,
    noHandleSignals: true,
    taskList: {
      [task]: async (payload) => {
        record(payload.i);
      },
    },
  });
  return { stop: () => runner.stop() };
});
