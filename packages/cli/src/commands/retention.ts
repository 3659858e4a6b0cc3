import { formatDuration, parseDuration } from '@drover/protocol';
import type { GroupRecord, GroupRetention, PruneReport } from '@drover/protocol';
import { bytesText } from '../format.js';
import type { Config } from '../config.js';
import { call } from '../rpc-client.js';
import { print, required } from './output.js';
import type { Output } from './output.js';

const PRUNE_USAGE = 'drover prune --older-than 7d [--group G] [--dry-run]';
const RETENTION_USAGE = 'drover groups retention <group> 7d|off|default';

/**
 * `drover prune --older-than 7d [--group G] [--dry-run]`: deletes now the finished jobs that ended
 * longer ago (with their tasks, events, logs and files), whatever their group's retention, and
 * prints what went; `--dry-run` prints what would go and deletes nothing.
 */
export async function prune(
  config: Config,
  output: Output,
  flags: { olderThan: string | undefined; group: string | undefined; dryRun: boolean },
): Promise<void> {
  const olderThanMs = parseDuration(required(flags.olderThan, PRUNE_USAGE), '--older-than');
  const report = await call(config, 'retention.prune', {
    olderThanMs,
    ...(flags.group !== undefined && { group: flags.group }),
    dryRun: flags.dryRun,
  });
  print(output, report, () => pruneText(report, flags.olderThan ?? '', flags.group));
}

function pruneText(report: PruneReport, olderThan: string, group: string | undefined): string {
  const n = (count: number, noun: string) => `${count} ${noun}${count === 1 ? '' : 's'}`;
  const what = `finished ${group === undefined ? '' : `in group ${group} `}more than ${olderThan} ago`;
  const counts = `${n(report.tasks, 'task')}, ${n(report.events, 'event')} (their logs among them), ${n(report.artifacts, 'file')}; ${n(report.blobs, 'blob')} no job uses any more, ${bytesText(report.bytes)}`;
  return report.dryRun
    ? `would remove ${n(report.jobs, 'job')} ${what}: ${counts} (a dry run: nothing was deleted)`
    : `removed ${n(report.jobs, 'job')} ${what}: ${counts}, deleted from disk`;
}

/** `drover groups retention <group> 7d|off|default`: how long a group keeps its finished jobs. */
export async function groupRetention(
  config: Config,
  output: Output,
  args: string[],
): Promise<void> {
  const name = required(args[0], RETENTION_USAGE);
  const text = required(args[1], RETENTION_USAGE);
  const retention: GroupRetention =
    text === 'off' || text === 'default' ? text : parseDuration(text, "a group's retention");
  if (retention === 0)
    throw new Error(
      `a group's retention is at least 1s; to keep its jobs forever: ${RETENTION_USAGE.replace('7d|off|default', 'off')}`,
    );
  const group: GroupRecord = await call(config, 'groups.setRetention', { name, retention });
  print(output, group, () =>
    group.retention === 'default'
      ? `group ${group.name}: keeps its finished jobs as long as the farm does (drover server --retention)`
      : group.retention === 'off'
        ? `group ${group.name}: keeps its finished jobs forever`
        : `group ${group.name}: keeps its finished jobs ${formatDuration(group.retention)} after they end`,
  );
}
