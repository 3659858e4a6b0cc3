// One Drover worker process for bench/run.mjs: a `Worker` of `@drover/worker` with the no-op task
// type, `slots` tasks at once. Config (one JSON argument): { url, name, taskType, slots }; the
// worker token comes in the environment, DROVER_TOKEN, never on the command line.
import { Worker } from '@drover/worker';
import { serveWorker } from '../peers/worker-process.mjs';
import { noopTask } from './noop-task.mjs';

serveWorker(async ({ url, name, taskType, slots }, record) => {
  const token = process.env.DROVER_TOKEN;
  if (!token) throw new Error('bench/drover/worker.mjs needs the worker token in DROVER_TOKEN');
  const worker = new Worker({
    serverUrl: url,
    token,
    name,
    slots,
    tasks: [noopTask(taskType, (key) => record(key))],
  });
  await worker.start();
  return { stop: () => worker.stop(5000) };
});
