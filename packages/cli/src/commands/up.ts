import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import type { DroverClient } from '@drover/client';
import { startProducer } from '@drover/example-fractal';
import { isDroverError, isTerminalJobStatus, topics } from '@drover/protocol';
import type { JobRecord, MethodParams } from '@drover/protocol';
import type { Config } from '../config.js';
import { clientOf } from '../rpc-client.js';
import { serve } from './serve.js';

const DRAIN_DEADLINE_MS = 10_000;

/**
 * The demo jobs, each under an idempotency key: submitted by the first `drover up` on a data
 * directory and found, not duplicated, by every later one. moi's hello job, a shell job, and an
 * animation whose last stage assembles its frames into one contact sheet.
 */
const DEMO_JOBS: MethodParams<'jobs.submit'>[] = [
  { group: 'demo', idempotencyKey: 'drover-up:hello', name: 'The hello job', taskType: 'hello' },
  {
    group: 'demo',
    idempotencyKey: 'drover-up:shell',
    name: 'A shell job',
    taskType: 'demo.shell',
    params: { message: 'hello from a shell task' },
  },
  {
    group: 'demo',
    idempotencyKey: 'drover-up:animation',
    name: 'Julia animation, 12 frames and a contact sheet',
    taskType: 'fractal.frame',
    params: { frames: 12 },
    frames: { start: 0, end: 11 },
    then: [{ taskType: 'fractal.contact-sheet', params: { columns: 4 } }],
  },
];

async function submitDemoJobs(client: DroverClient): Promise<void> {
  for (const job of DEMO_JOBS) {
    try {
      // Its own workers are still joining: their task types are known to come.
      const { job: record, created } = await client.call('jobs.submit', {
        ...job,
        allowUnknownType: true,
      });
      console.log(
        created
          ? `submitted "${record.name}" to group "demo" (${record.id})`
          : `"${record.name}" is already there in group "demo" (${record.id}, ${record.status})`,
      );
    } catch (error) {
      // The data directory holds this demo job as an earlier drover defined it: keep that one.
      if (!isDroverError(error, 'DROVER_E_IDEMPOTENCY_CONFLICT')) throw error;
      const details: unknown = error.details;
      const jobId =
        typeof details === 'object' && details !== null && 'jobId' in details
          ? String(details.jobId)
          : 'its id unknown';
      console.log(`an earlier "${job.name}" is already there in group "demo" (${jobId})`);
    }
  }
}

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
  // The server logs only what goes wrong here: the terminal is for the farm's own lines.
  const farm = await serve(config, true, true, 'warn');
  const url = farm.server.url;
  const local = farm.local;
  if (!local) throw new Error('drover up keeps its credentials in the data directory');
  // The farm is driven like any other program drives it: through the client, as the admin.
  const client = clientOf({
    server: [url],
    token: local.admin.secret,
    dataDir: config.dataDir,
    caFile: config.tlsCert === undefined ? undefined : (config.caFile ?? config.tlsCert),
  });
  // The dashboard's way in: one click, once (as Jupyter prints its URL with a token).
  const link = await client.call('auth.loginLink', {});
  console.log(`Drover is up at ${url} (data in ${config.dataDir}/)`);
  console.log(`open the dashboard: ${new URL(link.path, url).toString()}`);
  console.log('  (a one-time sign-in link, valid for an hour; `drover login` prints a new one)');
  if (['0.0.0.0', '::'].includes(config.host)) {
    console.log(
      `listening on every interface: other machines join with drover worker --server http://<this host's name or address>:${config.port} --token-file <a copy of ${config.dataDir}/worker-token>`,
    );
  }
  // What finishes from now on is told on the terminal, as the tracker did.
  const watched = [topics.groupJobs('fractals'), topics.groupJobs('demo')];
  const cursors = await Promise.all(
    watched.map(async (topic) => (await client.call('events.head', { topic })).cursor),
  );

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
        // Their identities live with the farm's data: a second farm on this data directory
        // cannot start a second local-1 beside one still running.
        '--state-dir',
        join(config.dataDir, 'state'),
        '--shell-tasks',
        demoShellTasks(),
        // The user's own task modules (`drover up --tasks FILE`), and without the demo's types
        // when the demo is off.
        ...config.tasks.flatMap((file) => ['--tasks', resolve(file)]),
        ...(config.demo ? [] : ['--demo', 'false']),
        // Over HTTPS the local workers trust the farm's own certificate (self-signed or not).
        ...(config.tlsCert !== undefined ? ['--ca-file', config.caFile ?? config.tlsCert] : []),
      ],
      {
        env: { ...process.env, DROVER_TOKEN: local.worker.secret },
        // The channel is how a worker learns that this farm is gone, however it ended.
        stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
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
        submit: async (job) =>
          (await client.call('jobs.submit', { ...job, allowUnknownType: true })).job.id,
        onError: (error) => console.error(`producer: ${(error as Error).message}`),
      })
    : () => undefined;
  if (config.demo)
    console.log(
      `producing 1-10 Julia renders every ${config.interval} s into group "fractals"; Ctrl-C stops`,
    );

  if (config.demo) await submitDemoJobs(client);

  // A job is told once per ending: it is updated again as late reports of its tasks land (a
  // cancelled job's stopped attempts), and told again only after it ran again (a retry).
  const told = new Set<string>();
  const tell = (job: JobRecord) => {
    if (!isTerminalJobStatus(job.status) || !job.finishedAt) {
      told.delete(job.id);
      return;
    }
    // Told once its running tasks have stopped: then its time is the one it ran.
    if (job.counts.leased + job.counts.running > 0 || told.has(job.id)) return;
    if (told.size >= 10_000) told.clear();
    told.add(job.id);
    // How long it ran, from its first task's start; and, when it waited, since its submission.
    const ran = (Date.parse(job.finishedAt) - Date.parse(job.startedAt ?? job.createdAt)) / 1000;
    const since = (Date.parse(job.finishedAt) - Date.parse(job.createdAt)) / 1000;
    const waited = since - ran >= 0.5 ? ` (${since.toFixed(1)} s after submission)` : '';
    console.log(
      `${job.finishedAt.slice(11, 19)}  ${job.name}: ${job.status} in ${ran.toFixed(1)} s${waited}  (${job.id})`,
    );
  };
  const subscriptions = watched.map((topic, i) =>
    client.subscribe(topic, {
      ...(cursors[i] !== undefined && { cursor: cursors[i] }),
      onEvents: (events) => {
        for (const event of events) if (event.kind === 'job.updated') tell(event.data);
      },
      onError: (error) => console.error(`following ${topic}: ${error.message}`),
    }),
  );

  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  console.log(`\nstopping: draining workers (deadline ${DRAIN_DEADLINE_MS / 1000} s)...`);
  stopProducer();
  for (const subscription of subscriptions) subscription.close();
  const exited = workers.map(
    (w) =>
      new Promise((resolve) => (w.exitCode !== null ? resolve(null) : w.once('exit', resolve))),
  );
  for (const w of workers) w.kill('SIGTERM');
  const deadline = new Promise((resolve) => setTimeout(resolve, DRAIN_DEADLINE_MS + 2000).unref());
  await Promise.race([Promise.all(exited), deadline]);
  for (const w of workers) if (w.exitCode === null) w.kill('SIGKILL');
  client.close();
  await farm.close();
  console.log('stopped; `npm start` again continues where this left off');
}
