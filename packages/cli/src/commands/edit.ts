import type { GroupRecord, JobRecord } from '@drover/protocol';
import type { Config } from '../config.js';
import { call } from '../rpc-client.js';
import { percent } from '../format.js';
import { idOf, print, required } from './output.js';
import type { Output } from './output.js';
import { readJobFile } from './submit.js';

/** What `drover jobs extend` and `drover jobs update` take besides the job's id. */
export interface EditOptions {
  file?: string | undefined;
  frames?: string | undefined;
  maxAttempts?: string | undefined;
  timeoutMs?: string | undefined;
  priority?: string | undefined;
}

function state(job: JobRecord): string {
  return `${job.status}${job.paused ? ', paused' : ''}, ${job.counts.succeeded}/${job.taskCount} tasks done (${percent(job.progress)})`;
}

/** A whole number from an option, or undefined when the option is not given. */
function wholeNumber(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n))
    throw new Error(`--${flag} takes a whole number, such as --${flag} 3; got "${value}"`);
  return n;
}

/** `--frames 241-480` or `--frames 241-480:2` (every second frame). */
function frameRange(value: string): { start: number; end: number; step?: number } {
  const match = /^(-?\d+)-(-?\d+)(?::(\d+))?$/.exec(value.trim());
  if (!match?.[1] || !match[2])
    throw new Error(`--frames takes a range such as 241-480 or 241-480:2; got "${value}"`);
  return {
    start: Number(match[1]),
    end: Number(match[2]),
    ...(match[3] !== undefined && { step: Number(match[3]) }),
  };
}

/**
 * `drover jobs pause|resume|extend|update <job id>`: a job edited while it runs. Pausing lets the
 * tasks workers hold finish and starts no other; `extend` adds items (`--file` with
 * `{"items": [...]}`) or frames (`--frames 241-480`, or a file with `"frames"`); `update`
 * changes the waiting tasks' `--max-attempts`, `--timeout-ms` and `--priority`.
 */
export async function editJob(
  config: Config,
  output: Output,
  verb: 'pause' | 'resume' | 'extend' | 'update',
  args: string[],
  options: EditOptions,
): Promise<void> {
  const id = idOf('job', args[0], `drover jobs ${verb} <job id>`);
  switch (verb) {
    case 'pause':
    case 'resume': {
      const { job } = await call(config, `jobs.${verb}`, { id });
      print(output, job, () =>
        verb === 'pause'
          ? `job ${job.id}: paused; tasks already running finish, no other starts (${state(job)})`
          : `job ${job.id}: ${job.paused ? 'still paused' : 'resumed'} (${state(job)})`,
      );
      return;
    }
    case 'extend': {
      if ((options.file === undefined) === (options.frames === undefined))
        throw new Error(
          'usage: drover jobs extend <job id> --frames 241-480 | --file more.json (with "items" or "frames")',
        );
      const more =
        options.frames !== undefined
          ? { frames: frameRange(options.frames) }
          : readJobFile(options.file ?? '');
      const maxAttempts = wholeNumber('max-attempts', options.maxAttempts);
      const timeoutMs = wholeNumber('timeout-ms', options.timeoutMs);
      const { job, added } = await call(config, 'jobs.extend', {
        ...more,
        ...(maxAttempts !== undefined && { maxAttempts }),
        ...(timeoutMs !== undefined && { timeoutMs }),
        id,
      });
      print(output, { job, added }, () => `job ${job.id}: ${added} tasks added (${state(job)})`);
      return;
    }
    case 'update': {
      const maxAttempts = wholeNumber('max-attempts', options.maxAttempts);
      const timeoutMs = wholeNumber('timeout-ms', options.timeoutMs);
      const priority = wholeNumber('priority', options.priority);
      if (maxAttempts === undefined && timeoutMs === undefined && priority === undefined)
        throw new Error(
          'usage: drover jobs update <job id> [--max-attempts N] [--timeout-ms MS] [--priority P]',
        );
      const { job, updated } = await call(config, 'jobs.update', {
        id,
        ...(maxAttempts !== undefined && { maxAttempts }),
        ...(timeoutMs !== undefined && { timeoutMs }),
        ...(priority !== undefined && { priority }),
      });
      print(
        output,
        { job, updated },
        () =>
          `job ${job.id}: ${updated} waiting task${updated === 1 ? '' : 's'} changed; running ones keep what they started with`,
      );
      return;
    }
  }
}

/** `drover groups pause|resume <name>`: every job of a group, and those submitted into it later. */
export async function editGroup(
  config: Config,
  output: Output,
  verb: 'pause' | 'resume',
  args: string[],
): Promise<void> {
  const name = required(args[0], `drover groups ${verb} <group name>`);
  const { group, changed }: { group: GroupRecord; changed: number } = await call(
    config,
    `groups.${verb}`,
    { name },
  );
  print(output, { group, changed }, () =>
    verb === 'pause'
      ? `group ${group.name}: paused (${changed} job${changed === 1 ? '' : 's'}, and those submitted into it until it is resumed); tasks already running finish`
      : `group ${group.name}: resumed (${changed} job${changed === 1 ? '' : 's'}); jobs paused on their own stay paused`,
  );
}
