import { JobStatus, WorkerState } from '@drover/protocol';
import type {
  JobAction,
  JobRecord,
  JobsApplied,
  WorkerAction,
  WorkerFilter,
} from '@drover/protocol';
import type { Config } from '../config.js';
import { call } from '../rpc-client.js';
import { print, required } from './output.js';
import type { Output } from './output.js';

/** `drover jobs cancel|retry|rm` without ids: which jobs of `--group`, from the flags. */
export interface JobFilterFlags {
  statuses?: string[] | undefined;
  search?: string | undefined;
  createdBefore?: string | undefined;
  /** Every job of the group the action applies to. */
  all?: boolean | undefined;
}

/** `drover workers disable|enable|drain`: which workers, besides those named. */
export interface WorkerFilterFlags {
  tags?: string[] | undefined;
  states?: string[] | undefined;
  hosts?: string[] | undefined;
  search?: string | undefined;
  all?: boolean | undefined;
}

/** Whether any flag selects jobs (else the command takes ids). */
export function selectsJobs(flags: JobFilterFlags): boolean {
  return (
    flags.statuses !== undefined ||
    flags.search !== undefined ||
    flags.createdBefore !== undefined ||
    flags.all === true
  );
}

/** Values of a flag given several times or as a comma-separated list. */
export function listOf(values: readonly string[] | undefined): string[] | undefined {
  if (values === undefined) return undefined;
  return values.flatMap((v) => v.split(',')).filter((v) => v !== '');
}

function checked<T extends string>(
  flag: string,
  values: string[] | undefined,
  allowed: readonly T[],
): T[] | undefined {
  for (const value of values ?? [])
    if (!allowed.includes(value as T))
      throw new Error(`--${flag} takes ${allowed.join(', ')}; got "${value}"`);
  return values as T[] | undefined;
}

const PAST = { cancel: 'cancelled', retry: 'retried', remove: 'removed' } as const;

/**
 * Cancels, retries or removes every job of the group the flags select: one `jobs.apply` call per
 * thousand jobs, until the server says there are no more.
 */
export async function applyToJobs(
  config: Config,
  output: Output,
  action: Exclude<JobAction, 'setPriority'>,
  flags: JobFilterFlags,
): Promise<void> {
  const statuses = checked('status', flags.statuses, JobStatus.options);
  const filter = {
    group: config.group,
    ...(statuses && { statuses }),
    ...(flags.search !== undefined && { search: flags.search }),
    ...(flags.createdBefore !== undefined && { createdBefore: flags.createdBefore }),
  };
  const jobs: JobRecord[] = [];
  const skipped: JobsApplied['skipped'] = [];
  for (;;) {
    const page = await call(config, 'jobs.apply', {
      action,
      filter,
      ...(flags.all === true && { all: true }),
    });
    jobs.push(...page.jobs);
    skipped.push(...page.skipped);
    // A page that changed nothing would come back the same: stop rather than ask again.
    if (!page.more || page.jobs.length === 0) break;
  }
  print(output, { jobs, skipped }, () =>
    [
      ...jobs.map((j) => `${PAST[action]} job ${j.id} (${j.name})`),
      ...skipped.map((s) => `skipped job ${s.id}: ${s.message}`),
      `${jobs.length} job${jobs.length === 1 ? '' : 's'} of group "${config.group}" ${PAST[action]}`,
    ].join('\n'),
  );
}

/**
 * Disables, enables or drains the workers named (by name or id) and every one the flags select,
 * in one `workers.apply` call.
 */
export async function applyToWorkers(
  config: Config,
  output: Output,
  action: WorkerAction,
  targets: string[],
  flags: WorkerFilterFlags,
): Promise<void> {
  const states = checked('state', flags.states, WorkerState.options);
  const filter: WorkerFilter = {
    ...(flags.tags && { tags: flags.tags }),
    ...(states && { states }),
    ...(flags.hosts && { hosts: flags.hosts }),
    ...(flags.search !== undefined && { search: flags.search }),
  };
  if (targets.length > 0) {
    const { workers: known } = await call(config, 'workers.list', {});
    filter.ids = targets.map((target) => {
      const worker = known.find((w) => w.id === target || w.name === target);
      if (!worker)
        throw new Error(`No worker is called ${target}; \`drover workers ls\` lists them.`);
      return worker.id;
    });
  } else if (Object.keys(filter).length === 0 && flags.all !== true) {
    required(
      undefined,
      `drover workers ${action} <worker id or name> ... | --tag T | --state S | --worker-host H | --search TEXT | --all`,
    );
  }
  const result = await call(config, 'workers.apply', {
    action,
    filter,
    ...(flags.all === true && { all: true }),
  });
  const unchanged = result.matched - result.workers.length;
  print(output, result, () =>
    [
      ...result.workers.map((w) => `worker ${w.name}: ${w.state}`),
      result.matched === 0
        ? 'no worker matches'
        : unchanged > 0
          ? `${unchanged} matching worker${unchanged === 1 ? ' was' : 's were'} left as ${unchanged === 1 ? 'it was' : 'they were'} (${action} does not apply to ${unchanged === 1 ? 'its' : 'their'} state)`
          : '',
    ]
      .filter((line) => line !== '')
      .join('\n'),
  );
}
