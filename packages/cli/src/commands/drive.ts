import { createWriteStream, mkdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { isTerminalJobStatus, isTerminalTaskStatus, scheduledBy, topics } from '@drover/protocol';
import type { EventRecord, JobRecord, TaskRecord } from '@drover/protocol';
import type { Config } from '../config.js';
import { jobBlocklist, limitGroup, taskWhy } from './limits.js';
import type { LimitOptions } from './limits.js';
import { duration, groupsTable, jobsTable, percent, tasksTable, workersTable } from '../format.js';
import { compareCursors } from '@drover/client';
import { call, clientOf, fetchFromFarm } from '../rpc-client.js';
import { clientToken } from '../credentials.js';
import { idOf, print, required } from './output.js';
import { applyToJobs, applyToWorkers } from './bulk.js';
import type { JobFilterFlags, WorkerFilterFlags } from './bulk.js';
import { editGroup, editJob } from './edit.js';
import type { EditOptions } from './edit.js';
import type { Output } from './output.js';

async function listJobs(config: Config, limit: number): Promise<JobRecord[]> {
  const list: JobRecord[] = [];
  while (list.length < limit) {
    const last = list.at(-1);
    const want = Math.min(1000, limit - list.length);
    const { jobs: page } = await call(config, 'jobs.list', {
      group: config.group,
      limit: want,
      ...(last && { before: last.createdAt, beforeId: last.id }),
    });
    list.push(...page);
    if (page.length < want) break;
  }
  return list;
}

/** `--limit N`: a whole number of at least 1. */
export function parseLimit(value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1)
    throw new Error(
      `--limit takes a whole number of at least 1, such as --limit 500; got "${value}"`,
    );
  return n;
}

export async function jobs(
  config: Config,
  output: Output,
  verb: string | undefined,
  args: string[],
  options: { limit: number; all: boolean } & EditOptions = { limit: 100, all: false },
  filter?: JobFilterFlags,
): Promise<void> {
  // Jobs edited while they run: commands/edit.ts.
  if (verb === 'pause' || verb === 'resume' || verb === 'extend' || verb === 'update')
    return editJob(config, output, verb, args, options);
  if (verb === 'blocklist' || verb === 'unblock') return jobBlocklist(config, output, verb, args);
  switch (verb ?? 'ls') {
    case 'ls': {
      const list = await listJobs(config, options.all ? Infinity : options.limit);
      const { groups } = await call(config, 'groups.list', {});
      const total = groups.find((g) => g.name === config.group)?.jobs ?? list.length;
      if (list.length > 0 || output.json) {
        print(output, list, () =>
          [
            jobsTable(list),
            list.length < total
              ? `the newest ${list.length} of ${total} jobs in group "${config.group}" (--limit N or --all for more)`
              : `${total} job${total === 1 ? '' : 's'} in group "${config.group}"`,
          ].join('\n'),
        );
        return;
      }
      console.log(
        groups.length === 0
          ? 'no jobs yet: `drover submit <task type>` sends one'
          : `no jobs in group "${config.group}"; groups with jobs: ${groups.map((g) => g.name).join(', ')} (--group NAME)`,
      );
      return;
    }
    case 'show': {
      const id = idOf('job', args[0], 'drover jobs show <job id>');
      const job = await call(config, 'jobs.get', { id });
      const { tasks } = await call(config, 'tasks.list', { jobId: id, limit: 50 });
      print(output, { job, tasks }, () =>
        [
          jobsTable([job]),
          `group ${job.group}, task type ${job.taskType}, priority ${job.priority}, submitted ${job.createdAt}${job.startedAt ? `, ran ${duration(job.startedAt, job.finishedAt)}` : ''}${job.cancelReason ? `, cancelled: ${job.cancelReason}` : ''}${scheduled(job.idempotencyKey)}`,
          '',
          ...tasks.map(
            (t) =>
              `  task ${t.index} (id ${t.id}) ${t.status.padEnd(9)} ${percent(t.progress).padStart(4)} attempt ${t.attempt}${t.message ? `  ${t.message}` : ''}${t.error && t.status !== 'succeeded' ? `\n      error: ${t.error.message}` : ''}`,
          ),
        ].join('\n'),
      );
      return;
    }
    case 'cancel': {
      if (args.length === 0 && filter) return applyToJobs(config, output, 'cancel', filter);
      const id = idOf('job', args[0], 'drover jobs cancel <job id> | --status S ... [--all]');
      const { job } = await call(config, 'jobs.cancel', { id });
      const stopping = job.counts.leased + job.counts.running;
      print(output, job, () =>
        isTerminalJobStatus(job.status)
          ? `job ${job.id}: ${job.status}${job.cancelReason ? ` (${job.cancelReason})` : ''}`
          : `job ${job.id}: cancelling; ${stopping} running task${stopping === 1 ? ' is' : 's are'} being stopped`,
      );
      return;
    }
    case 'retry': {
      if (args.length === 0 && filter) return applyToJobs(config, output, 'retry', filter);
      const id = idOf('job', args[0], 'drover jobs retry <job id> | --status S ... [--all]');
      const { job, retried } = await call(config, 'jobs.retry', { id });
      print(output, { job, retried }, () =>
        retried.length === 0
          ? `job ${job.id}: nothing to retry (${job.status}, no failed or cancelled tasks)`
          : `job ${job.id}: ${retried.length} task${retried.length === 1 ? '' : 's'} back in the queue; ${job.status}`,
      );
      return;
    }
    case 'rm': {
      if (args.length === 0 && filter) return applyToJobs(config, output, 'remove', filter);
      const usage = 'drover jobs rm <job id> ... | --status S ... [--all]';
      const ids = (args.length === 0 ? [required(undefined, usage)] : args).map((a) =>
        idOf('job', a, usage),
      );
      const removed: JobRecord[] = [];
      for (const id of ids) removed.push((await call(config, 'jobs.remove', { id })).job);
      print(output, removed, () =>
        removed.map((j) => `removed job ${j.id} (${j.status}, ${j.name})`).join('\n'),
      );
      return;
    }
    default:
      throw new Error(
        `drover jobs takes ls, show, cancel, retry, rm, pause, resume, extend, update, blocklist or unblock, not ${verb}`,
      );
  }
}

/** `drover groups`: every group with jobs, counted by status; `groups pause|resume <name>`. */
export async function groups(
  config: Config,
  output: Output,
  verb?: string,
  args: string[] = [],
  limits: LimitOptions = {},
): Promise<void> {
  if (verb === 'pause' || verb === 'resume') return editGroup(config, output, verb, args);
  if (verb === 'limit') return limitGroup(config, output, args, limits);
  if (verb !== undefined && verb !== 'ls')
    throw new Error(`drover groups takes ls, pause, resume or limit, not ${verb}`);
  const { groups: list } = await call(config, 'groups.list', {});
  print(output, list, () => (list.length ? groupsTable(list) : 'no jobs yet'));
}

/** `drover tasks <job id>`: a job's tasks; `drover tasks show <task id>`: one, with its attempts. */
export async function tasks(config: Config, output: Output, args: string[]): Promise<void> {
  if (args[0] === 'why') return taskWhy(config, output, args.slice(1));
  const { workers: known } = await call(config, 'workers.list', {});
  const names = new Map(known.map((w) => [w.id, w.name]));
  if (args[0] === 'show') {
    const id = idOf('task', args[1], 'drover tasks show <task id>');
    const task = await call(config, 'tasks.get', { id });
    const { attempts } = await call(config, 'tasks.attempts', { id });
    print(output, { task, attempts }, () =>
      [
        tasksTable([task], names),
        '',
        `params: ${JSON.stringify(task.params)}`,
        ...(task.result !== null ? [`result: ${JSON.stringify(task.result)}`] : []),
        ...attempts.map(
          (a) =>
            `attempt ${a.number} on ${names.get(a.workerId) ?? a.workerId}: ${a.status} after ${duration(a.startedAt, a.finishedAt)}${a.error ? `: ${a.error.message}` : ''}`,
        ),
      ].join('\n'),
    );
    return;
  }
  const jobId = idOf('job', args[0], 'drover tasks <job id> | drover tasks show <task id>');
  const list: TaskRecord[] = [];
  for (;;) {
    const { tasks: page } = await call(config, 'tasks.list', {
      jobId,
      fromIndex: list.length,
      limit: 1000,
    });
    list.push(...page);
    if (page.length < 1000) break;
  }
  print(output, list, () => tasksTable(list, names));
}

export async function workers(
  config: Config,
  output: Output,
  verb: string | undefined,
  args: string[],
  filter: WorkerFilterFlags = {},
): Promise<void> {
  const action = verb ?? 'ls';
  if (action === 'ls') {
    const { workers: list } = await call(config, 'workers.list', {});
    print(output, list, () => (list.length ? workersTable(list) : 'no workers have joined'));
    return;
  }
  if (action !== 'disable' && action !== 'enable' && action !== 'drain') {
    throw new Error(`drover workers takes ls, disable, enable or drain, not ${action}`);
  }
  return applyToWorkers(config, output, action, args, filter);
}

/** `drover logs <task id> [-f]`: a task's log lines, and with --follow the ones still to come. */
export async function logs(
  config: Config,
  output: Output,
  taskId: string | undefined,
  follow: boolean,
): Promise<void> {
  const id = idOf('task', taskId, 'drover logs <task id> [--follow]');
  const show = (events: EventRecord[]) => {
    for (const event of events) {
      if (event.kind !== 'task.log') continue;
      const { attempt, lines } = event.data;
      for (const l of lines) {
        console.log(
          output.json
            ? JSON.stringify({ attempt, ...l })
            : `${l.at} [${attempt}] ${l.stream === 'stderr' ? '! ' : ''}${l.line}`,
        );
      }
    }
  };
  const task = await call(config, 'tasks.get', { id });
  const topic = topics.taskLog(id);
  if (!follow || isTerminalTaskStatus(task.status)) {
    // Everything kept so far, page by page.
    let after = '';
    for (;;) {
      const page = await call(config, 'events.read', { topic, after });
      show(page.events);
      if (page.events.length === 0) return;
      after = page.cursor;
    }
  }
  // Live: the lines so far, then each new one, until the task has finished.
  const drover = clientOf(config);
  const subscription = drover.subscribe(topic, { cursor: '', onEvents: show });
  for (;;) {
    const now = await call(config, 'tasks.get', { id });
    if (isTerminalTaskStatus(now.status)) break;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  // The last lines were written before the task ended: wait until the stream has brought every
  // line readable now (for at most 10 s).
  const { cursor: last } = await call(config, 'events.head', { topic });
  const deadline = Date.now() + 10_000;
  while (compareCursors(subscription.cursor, last) < 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  subscription.close();
}

/** `drover download <job or task id> [--out dir]`: every artifact of a job or task, by id. */
export async function download(
  config: Config,
  target: string | undefined,
  outDir: string,
): Promise<void> {
  const given = required(target, 'drover download <job id | task id> [--out dir]');
  const query = /^[0-9]+$/.test(given)
    ? { taskId: idOf('task', given, 'drover download <task id>') }
    : { jobId: idOf('job', given, 'drover download <job id>') };
  const id = given;
  const { artifacts } = await call(config, 'artifacts.list', query);
  if (artifacts.length === 0) {
    console.log(`no artifacts for ${id}`);
    return;
  }
  mkdirSync(outDir, { recursive: true });
  for (const artifact of artifacts) {
    const token = clientToken(config);
    const response = await fetchFromFarm(config, `/artifacts/${artifact.id}`, {
      ...(token !== undefined && { headers: { authorization: `Bearer ${token}` } }),
    });
    if (!response.ok || !response.body)
      throw new Error(`downloading ${artifact.name} failed: HTTP ${response.status}`);
    // Files are named by the server's record, never by anything else: no path from outside is used.
    const file = join(outDir, basename(artifact.name));
    await pipeline(Readable.fromWeb(response.body as never), createWriteStream(file));
    console.log(`${file}  ${artifact.size} bytes  sha256 ${artifact.sha256}`);
  }
}

/** What a job submitted by a schedule says of it. */
function scheduled(idempotencyKey: string | null | undefined): string {
  const by = scheduledBy(idempotencyKey);
  return by ? `, submitted by schedule ${by.scheduleId} for its tick at ${by.tick}` : '';
}
