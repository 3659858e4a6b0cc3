import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { demoTasks } from '@drover/example-fractal';
import { Worker, readCaFile, shellTask } from '@drover/worker';
import type { TaskDefinition } from '@drover/worker';
import type { Config } from '../config.js';
import { loadTaskModules } from '../task-modules.js';

/** `drover worker`: joins a farm with nothing but its URL and a worker token. */
export async function worker(config: Config): Promise<void> {
  if (!config.token)
    throw new Error(
      "A worker needs the farm's worker token: give --token-file FILE or set DROVER_TOKEN.",
    );
  const name = config.name ?? hostname();
  const tasks = [
    ...(config.demo ? demoTasks : []),
    ...(await loadTaskModules(config.tasks)),
    ...loadShellTasks(config.shellTasks),
  ];
  if (tasks.length === 0)
    throw new Error(
      'This worker would run no task type: give --tasks FILE or --shell-tasks FILE, or leave --demo on.',
    );
  const w = new Worker({
    serverUrl: config.server,
    token: config.token,
    name,
    tags: config.tags,
    slots: config.slots,
    tasks,
    ...(config.caFile !== undefined && { ca: readCaFile(config.caFile) }),
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

/** The operator's shell-command templates: a JSON array, each checked before the worker starts. */
function loadShellTasks(file: string | undefined): TaskDefinition[] {
  if (!file) return [];
  const templates: unknown = JSON.parse(readFileSync(file, 'utf8'));
  if (!Array.isArray(templates))
    throw new Error(`${file} must hold a JSON array of shell task templates.`);
  return templates.map((template, i) => {
    try {
      return shellTask(template as never);
    } catch (error) {
      throw new Error(
        `Shell task template ${i} in ${file} is invalid: ${(error as Error).message}`,
      );
    }
  });
}
