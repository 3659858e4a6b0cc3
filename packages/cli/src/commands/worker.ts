import { readFileSync } from 'node:fs';
import { demoTasks } from '@drover/example-fractal';
import { Worker, defaultStateDir, readCaFile, shellTask } from '@drover/worker';
import type { TaskDefinition } from '@drover/worker';
import type { Config } from '../config.js';
import { loadTaskModules } from '../task-modules.js';

/**
 * `drover worker`: joins a farm with nothing but its URL (or its replicas' URLs) and a worker
 * token.
 */
export async function worker(config: Config): Promise<void> {
  if (!config.token)
    throw new Error(
      "A worker needs the farm's worker token: give --token-file FILE or set DROVER_TOKEN.",
    );
  const tasks = [
    ...(config.demo ? demoTasks : []),
    ...(await loadTaskModules(config.tasks)),
    ...loadShellTasks(config.shellTasks),
  ];
  if (tasks.length === 0)
    throw new Error(
      'This worker would run no task type: give --tasks FILE or --shell-tasks FILE, or leave --demo on.',
    );
  // Told from the start, so that an end while it connects is not missed. Started by `drover up`
  // with a channel to it: a farm that died takes its workers along, rather than leaving them to
  // fight a new farm's workers over their names.
  const ended = new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
    process.once('disconnect', resolve);
    if (process.send !== undefined && !process.connected) resolve();
  });
  // Its log lines carry its name, known once started when it is a default one.
  let label = config.name ?? 'worker';
  const w = new Worker({
    serverUrl: config.server,
    token: config.token,
    ...(config.name !== undefined && { name: config.name }),
    stateDir: config.stateDir ?? defaultStateDir(),
    tags: config.tags,
    slots: config.slots,
    tasks,
    ...(config.caFile !== undefined && { ca: readCaFile(config.caFile) }),
    onLog: (line) => console.log(`${new Date().toISOString()} ${label}: ${line}`),
  });
  const record = await Promise.race([w.start(), ended.then(() => undefined)]);
  if (record) {
    label = record.name;
    const others = config.server.filter((url) => url !== w.serverUrl);
    console.log(
      `worker ${record.name} (${record.id}) joined ${w.serverUrl} with ${config.slots} slot(s)` +
        (others.length > 0 ? `; moves to ${others.join(', ')} should it go away` : ''),
    );
    await ended;
  }
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
