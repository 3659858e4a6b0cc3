import { hostname } from 'node:os';
import { demoTasks } from '@drover/example-fractal';
import { Worker } from '@drover/worker';
import type { Config } from '../config.js';

/** `drover worker`: joins a farm with nothing but its URL and a worker token. */
export async function worker(config: Config): Promise<void> {
  if (!config.token)
    throw new Error("A worker needs the farm's worker token: pass --token or set DROVER_TOKEN.");
  const name = config.name ?? hostname();
  const w = new Worker({
    serverUrl: config.server,
    token: config.token,
    name,
    tags: config.tags,
    slots: config.slots,
    tasks: demoTasks,
    onLog: (line) => console.log(`${new Date().toISOString()} ${name}: ${line}`),
  });
  const record = await w.start();
  console.log(
    `worker ${record.name} (${record.id}) joined ${config.server} with ${config.slots} slot(s)`,
  );
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await w.stop(10_000);
}
