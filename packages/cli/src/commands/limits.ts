import type { Config } from '../config.js';
import { call } from '../rpc-client.js';
import { limitsText, table } from '../format.js';
import { idOf, print, required } from './output.js';
import type { Output } from './output.js';

/** What `drover groups limit` and `drover types limit` take. */
export interface LimitOptions {
  maxRunning?: string | undefined;
  rate?: string | undefined;
  weight?: string | undefined;
}

/** `--max-running 4`, or `none` to lift the limit; undefined when not given. */
function maxRunningOf(value: string | undefined): number | null | undefined {
  if (value === undefined) return undefined;
  if (value.trim().toLowerCase() === 'none') return null;
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n < 0)
    throw new Error(`--max-running takes a whole number, or none; got "${value}"`);
  return n;
}

/** `--rate 60/m`, `2/s`, `90` (a minute), or `none`: task starts a minute. */
export function rateOf(value: string | undefined): number | null | undefined {
  if (value === undefined) return undefined;
  if (value.trim().toLowerCase() === 'none') return null;
  const match = /^\s*(\d+)\s*(?:\/\s*(s|sec|second|m|min|minute|h|hour))?\s*$/i.exec(value);
  const n = Number(match?.[1]);
  const unit = (match?.[2] ?? 'm').toLowerCase()[0];
  const perMinute = unit === 's' ? n * 60 : unit === 'h' ? n / 60 : n;
  if (!match || !Number.isInteger(perMinute) || perMinute < 1)
    throw new Error(
      `--rate takes task starts per second, minute or hour, such as 60/m, 2/s or 600/h (a whole number a minute, at least 1), or none; got "${value}"`,
    );
  return perMinute;
}

function weightOf(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n < 1 || n > 1000)
    throw new Error(`--weight takes a whole number from 1 to 1000; got "${value}"`);
  return n;
}

/** `drover groups limit <group> [--max-running N|none] [--rate 60/m|none] [--weight W]`. */
export async function limitGroup(
  config: Config,
  output: Output,
  args: string[],
  options: LimitOptions,
): Promise<void> {
  const usage =
    'drover groups limit <group> [--max-running N|none] [--rate 60/m|none] [--weight W]';
  const group = required(args[0], usage);
  const maxRunning = maxRunningOf(options.maxRunning);
  const ratePerMinute = rateOf(options.rate);
  const weight = weightOf(options.weight);
  if (maxRunning === undefined && ratePerMinute === undefined && weight === undefined)
    throw new Error(`usage: ${usage}`);
  const { limits } = await call(config, 'groups.setLimits', {
    group,
    ...(maxRunning !== undefined && { maxRunning }),
    ...(ratePerMinute !== undefined && { ratePerMinute }),
    ...(weight !== undefined && { weight }),
  });
  print(output, limits, () => `group ${limits.group}: ${limitsText(limits)}`);
}

/** `drover types [ls]`; `drover types limit <task type> --max-running N|none`. */
export async function types(
  config: Config,
  output: Output,
  verb: string | undefined,
  args: string[],
  options: LimitOptions,
): Promise<void> {
  if (verb === 'limit') {
    const usage = 'drover types limit <task type> --max-running N|none';
    const taskType = required(args[0], usage);
    const maxRunning = maxRunningOf(options.maxRunning);
    if (maxRunning === undefined) throw new Error(`usage: ${usage}`);
    const { limits } = await call(config, 'taskTypes.setLimits', { taskType, maxRunning });
    print(output, limits, () =>
      limits.maxRunning === null
        ? `task type ${limits.taskType}: no limit`
        : `task type ${limits.taskType}: at most ${limits.maxRunning} running at once`,
    );
    return;
  }
  if (verb !== undefined && verb !== 'ls')
    throw new Error(`drover types takes ls or limit, not ${verb}`);
  const { taskTypes } = await call(config, 'taskTypes.list', {});
  print(output, taskTypes, () =>
    taskTypes.length === 0
      ? 'no task types yet: a worker offers them when it joins'
      : table(
          ['TASK TYPE', 'WORKERS', 'MAX RUNNING'],
          taskTypes.map((t) => [t.name, String(t.workers), String(t.maxRunning ?? '-')]),
        ),
  );
}

/** `drover jobs blocklist <job id>` and `drover jobs unblock <job id> [worker id]`. */
export async function jobBlocklist(
  config: Config,
  output: Output,
  verb: 'blocklist' | 'unblock',
  args: string[],
): Promise<void> {
  const id = idOf(
    'job',
    args[0],
    `drover jobs ${verb} <job id>${verb === 'unblock' ? ' [worker id]' : ''}`,
  );
  if (verb === 'unblock') {
    const workerId = args[1];
    const { unblocked } = await call(config, 'jobs.unblock', {
      id,
      ...(workerId !== undefined && { workerId }),
    });
    print(output, { unblocked }, () =>
      unblocked === 0
        ? `job ${id}: no worker was blocked${workerId ? ` (${workerId})` : ''}`
        : `job ${id}: ${unblocked} worker${unblocked === 1 ? '' : 's'} may run its tasks again`,
    );
    return;
  }
  const { workers } = await call(config, 'jobs.blocklist', { id });
  print(output, workers, () =>
    workers.length === 0
      ? `job ${id}: no worker failed its tasks`
      : table(
          ['WORKER', 'ID', 'FAILURES', 'BLOCKED'],
          workers.map((w) => [
            w.workerName ?? '-',
            w.workerId,
            String(w.failures),
            w.blocked ? `since ${w.blockedAt ?? ''}` : 'no',
          ]),
        ),
  );
}

/** `drover tasks why <task id>`: what holds a task back, most specific first. */
export async function taskWhy(config: Config, output: Output, args: string[]): Promise<void> {
  const id = idOf('task', args[0], 'drover tasks why <task id>');
  const why = await call(config, 'tasks.why', { id });
  print(output, why, () =>
    why.reasons.length === 0
      ? `task ${id} (${why.status}): nothing holds it back; the next dispatcher pass may start it`
      : [`task ${id} (${why.status}):`, ...why.reasons.map((r) => `  ${r.message}`)].join('\n'),
  );
}
