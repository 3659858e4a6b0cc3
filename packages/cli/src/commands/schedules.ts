import type { ScheduleRecord } from '@drover/protocol';
import type { Config } from '../config.js';
import { age, table } from '../format.js';
import { call } from '../rpc-client.js';
import { print, required } from './output.js';
import type { Output } from './output.js';
import { readJobFile, submitError } from './submit.js';

const USAGE = `drover schedules add NAME --cron EXPR --file job.json [--timezone TZ] [--overlap skip|queue|cancel] [--catch-up none|last] [--group G]
  | schedules ls | show NAME | pause NAME | resume NAME | run-now NAME | rm NAME
  | schedules update NAME [--cron EXPR] [--timezone TZ] [--overlap P] [--catch-up P] [--file job.json]`;

export interface ScheduleOptions {
  cron: string | undefined;
  timezone: string | undefined;
  overlap: string | undefined;
  catchUp: string | undefined;
  file: string | undefined;
  /** --group as given: it wins over the job file's group. */
  group: string | undefined;
  allowUnknownType: boolean;
}

/**
 * `drover schedules ...`: jobs submitted again at each tick of a cron expression. The job file is
 * what `drover submit --file` takes, and is checked the same way when the schedule is added.
 */
export async function schedules(
  config: Config,
  output: Output,
  action: string | undefined,
  args: string[],
  options: ScheduleOptions,
): Promise<void> {
  const name = () => required(args[0], USAGE);
  switch (action) {
    case 'add': {
      const scheduleName = name();
      const cron = required(options.cron, USAGE);
      const file = required(options.file, USAGE);
      const job = jobOf(file, options.group ?? config.group, options.group !== undefined);
      const schedule = await call(config, 'schedules.add', {
        name: scheduleName,
        cron,
        job: job as never,
        ...settings(options),
        ...(options.allowUnknownType && { allowUnknownType: true }),
      }).catch((error: unknown) => {
        throw submitError(error, {}, file);
      });
      print(output, schedule, () => `added schedule ${schedule.name}\n${details(schedule)}`);
      return;
    }
    case 'update': {
      const scheduleName = name();
      const job =
        options.file === undefined
          ? undefined
          : jobOf(options.file, options.group ?? config.group, options.group !== undefined);
      const schedule = await call(config, 'schedules.update', {
        name: scheduleName,
        ...(options.cron !== undefined && { cron: options.cron }),
        ...settings(options),
        ...(job !== undefined && { job: job as never }),
        ...(options.allowUnknownType && { allowUnknownType: true }),
      }).catch((error: unknown) => {
        throw submitError(error, {}, options.file);
      });
      print(output, schedule, () => `updated schedule ${schedule.name}\n${details(schedule)}`);
      return;
    }
    case 'ls':
    case undefined: {
      const { schedules: list } = await call(config, 'schedules.list', {});
      print(output, list, () => schedulesTable(list));
      return;
    }
    case 'show': {
      const schedule = await call(config, 'schedules.get', { name: name() });
      print(output, schedule, () => details(schedule));
      return;
    }
    case 'pause':
    case 'resume': {
      const method = action === 'pause' ? 'schedules.pause' : 'schedules.resume';
      const schedule = await call(config, method, { name: name() });
      print(output, schedule, () =>
        schedule.paused
          ? `paused schedule ${schedule.name}: no tick submits until it is resumed`
          : `schedule ${schedule.name} runs; next at ${schedule.nextRunAt ?? 'never'}`,
      );
      return;
    }
    case 'run-now': {
      const result = await call(config, 'schedules.runNow', { name: name() });
      print(
        output,
        result,
        () => `submitted job ${result.job.id} for schedule ${result.schedule.name}`,
      );
      return;
    }
    case 'rm': {
      const schedule = await call(config, 'schedules.remove', { name: name() });
      print(output, schedule, () => `removed schedule ${schedule.name} (its jobs stay)`);
      return;
    }
    default:
      throw new Error(`There is no schedules ${action}. Usage: ${USAGE}`);
  }
}

/** The job file, in the group `--group` names (or the file's, else the default group). */
function jobOf(file: string, group: string, groupGiven: boolean): Record<string, unknown> {
  const job = readJobFile(file);
  return groupGiven || job.group === undefined ? { ...job, group } : job;
}

function settings(options: ScheduleOptions): Record<string, string> {
  return {
    ...(options.timezone !== undefined && { timezone: options.timezone }),
    ...(options.overlap !== undefined && { overlap: options.overlap }),
    ...(options.catchUp !== undefined && { catchUp: options.catchUp }),
  };
}

function schedulesTable(list: ScheduleRecord[]): string {
  if (list.length === 0) return 'no schedules (add one with drover schedules add)';
  return table(
    ['NAME', 'GROUP', 'CRON', 'TIMEZONE', 'NEXT RUN', 'LAST RUN', 'LAST JOB', 'STATE'],
    list.map((s) => [
      s.name,
      s.group,
      s.cron,
      s.timezone,
      s.nextRunAt ?? '-',
      s.lastRunAt ? `${age(s.lastRunAt)} ago` : '-',
      s.lastJobId ?? '-',
      s.paused ? 'paused' : (s.lastOutcome ?? 'waiting'),
    ]),
  );
}

function details(s: ScheduleRecord): string {
  const job = s.job as { taskType?: string; name?: string };
  return [
    `name:        ${s.name}`,
    `group:       ${s.group}`,
    `cron:        ${s.cron} (${s.timezone})`,
    `overlap:     ${s.overlap}    catch-up: ${s.catchUp}`,
    `job:         ${job.name ?? job.taskType ?? '?'} (task type ${job.taskType ?? '?'})`,
    `state:       ${s.paused ? 'paused' : 'running'}`,
    `next runs:   ${s.nextRunAt === null ? '- (paused)' : [s.nextRunAt, ...s.upcoming].join('\n             ')}`,
    `last tick:   ${s.lastTickAt ?? '-'}${s.lastOutcome ? ` ${s.lastOutcome}` : ''}${s.lastReason ? `: ${s.lastReason}` : ''}`,
    `last run:    ${s.lastRunAt ?? '-'}${s.lastJobId ? ` job ${s.lastJobId} (drover jobs show ${s.lastJobId})` : ''}`,
  ].join('\n');
}
