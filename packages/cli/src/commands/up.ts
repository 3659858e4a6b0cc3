import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { startProducer } from '@drover/example-fractal';
import type { JobRecord } from '@drover/protocol';
import type { Config } from '../config.js';
import { serve } from './serve.js';

const DRAIN_DEADLINE_MS = 10_000;

/** The demo's shell task templates, shipped beside the fractal example. */
function demoShellTasks(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('@drover/example-fractal/package.json')), 'shell-tasks.json');
}

/**
 * `drover up`: a whole farm on this machine. The embedded server on 127.0.0.1, local worker
 * processes, and the fractal producer; Ctrl-C drains the workers (with a deadline) and stops.
 * Starting again continues where it stopped: same workers, queued tasks and finished results.
 */
export async function up(config: Config, cliMain: string): Promise<void> {
  const farm = await serve(config, true);
  const url = farm.server.url;
  console.log(`Drover is up at ${url} (data in ${config.dataDir}/)`);

  const workers: ChildProcess[] = [];
  for (let i = 1; i <= config.workers; i++) {
    const name = `local-${i}`;
    const child = spawn(
      process.execPath,
      [
        cliMain,
        'worker',
        '--server',
        url,
        '--name',
        name,
        '--slots',
        '1',
        '--shell-tasks',
        demoShellTasks(),
      ],
      {
        env: { ...process.env, DROVER_TOKEN: farm.token },
        stdio: ['ignore', 'ignore', 'inherit'],
      },
    );
    workers.push(child);
  }
  console.log(
    `started ${config.workers} local worker process${config.workers === 1 ? '' : 'es'} (local-1..local-${config.workers})`,
  );

  const stopProducer = config.demo
    ? startProducer({
        intervalSeconds: config.interval,
        submit: async (job) => (await farm.engine.submit(job)).job.id,
        onError: (error) => console.error(`producer: ${(error as Error).message}`),
      })
    : () => undefined;
  if (config.demo)
    console.log(
      `producing 1-10 Julia renders every ${config.interval} s into group "fractals"; Ctrl-C stops`,
    );

  // Tell the terminal what the farm finishes, as the tracker did.
  let cursor = await farm.engine.headCursor('jobs/fractals');
  const unlisten = await farm.engine.listen((payload) => {
    if (!payload.split('\n').includes('jobs/fractals') && payload !== '*') return;
    void farm.engine.readEvents({ topic: 'jobs/fractals', after: cursor }).then((page) => {
      cursor = page.cursor;
      for (const e of page.events) {
        const job = e.data as JobRecord;
        if (
          e.kind === 'job.updated' &&
          ['succeeded', 'failed', 'cancelled'].includes(job.status) &&
          job.finishedAt
        ) {
          const seconds = (Date.parse(job.finishedAt) - Date.parse(job.createdAt)) / 1000;
          console.log(
            `${job.finishedAt.slice(11, 19)}  ${job.name}: ${job.status} in ${seconds.toFixed(1)} s  (${job.id})`,
          );
        }
      }
    });
  });

  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  console.log(`\nstopping: draining workers (deadline ${DRAIN_DEADLINE_MS / 1000} s)...`);
  stopProducer();
  await unlisten();
  const exited = workers.map(
    (w) =>
      new Promise((resolve) => (w.exitCode !== null ? resolve(null) : w.once('exit', resolve))),
  );
  for (const w of workers) w.kill('SIGTERM');
  const deadline = new Promise((resolve) => setTimeout(resolve, DRAIN_DEADLINE_MS + 2000).unref());
  await Promise.race([Promise.all(exited), deadline]);
  for (const w of workers) if (w.exitCode === null) w.kill('SIGKILL');
  await farm.close();
  console.log('stopped; `npm start` again continues where this left off');
}
