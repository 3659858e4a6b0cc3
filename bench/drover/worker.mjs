// One Drover worker process for bench/run.mjs: a `Worker` of `@drover/worker` with the no-op task
// type, `slots` tasks at once. Config (one JSON argument): { url, token, name, taskType, slots }.
import { Worker } from '@drover/worker';
import { serveWorker } from '../peers/worker-process.mjs';
import { noopTask } from './noop-task.mjs';

serveWorker(async ({ url, token, name, taskType, slots }, record) => {
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
