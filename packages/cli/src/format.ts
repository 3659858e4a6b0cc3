import { formatDuration } from '@drover/protocol';
import type {
  GroupRecord,
  GroupRetention,
  JobRecord,
  TaskRecord,
  WorkerRecord,
} from '@drover/protocol';

/** A plain text table, columns padded to their widest cell. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

/** Rounded down, so only what is whole shows 100%. */
export function percent(fraction: number): string {
  return `${Math.floor(Math.min(1, Math.max(0, fraction)) * 100 + 1e-9)}%`;
}

export function age(iso: string | null, now = Date.now()): string {
  if (!iso) return '';
  const seconds = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)}h`;
  return `${Math.floor(seconds / 86_400)}d`;
}

export function jobsTable(jobs: JobRecord[]): string {
  return table(
    ['ID', 'NAME', 'STATUS', 'PROGRESS', 'TASKS', 'DONE', 'FAILED', 'AGE'],
    jobs.map((j) => [
      j.id,
      j.name,
      j.paused ? `${j.status}, paused` : j.status,
      percent(j.progress),
      String(j.taskCount),
      String(j.counts.succeeded),
      String(j.counts.failed),
      age(j.createdAt),
    ]),
  );
}

export function groupsTable(groups: GroupRecord[]): string {
  return table(
    [
      'GROUP',
      'JOBS',
      'QUEUED',
      'RUNNING',
      'SUCCEEDED',
      'FAILED',
      'CANCELLED',
      'TASKS DONE',
      'LAST SUBMITTED',
      'LIMITS',
      'KEEPS FINISHED',
    ],
    groups.map((g) => [
      g.paused ? `${g.name} (paused)` : g.name,
      String(g.jobs),
      String(g.counts.queued),
      String(g.counts.running),
      String(g.counts.succeeded),
      String(g.counts.failed),
      String(g.counts.cancelled),
      `${g.taskCounts.succeeded}/${g.taskCount} ${percent(g.progress)}`,
      g.lastSubmittedAt === null ? 'never' : `${age(g.lastSubmittedAt)} ago`,
      limitsText(g.limits),
      retentionText(g.retention),
    ]),
  );
}

/** A job's tasks; `workerNames` turns worker ids into the names people gave them. */
export function tasksTable(tasks: TaskRecord[], workerNames: ReadonlyMap<string, string>): string {
  return table(
    ['ID', 'INDEX', 'STAGE', 'STATUS', 'ATTEMPT', 'WORKER', 'PROGRESS', 'TOOK', 'MESSAGE'],
    tasks.map((t) => [
      t.id,
      String(t.index),
      String(t.stage),
      t.status,
      `${t.attempt}/${t.maxAttempts}`,
      t.workerId ? (workerNames.get(t.workerId) ?? t.workerId) : '',
      percent(t.progress),
      duration(t.startedAt, t.finishedAt),
      clip(
        (t.status === 'failed' || t.status === 'cancelled' ? t.error?.message : t.message) ?? '',
        80,
      ),
    ]),
  );
}

/** `text` on one line of at most `width` characters. */
export function clip(text: string, width: number): string {
  const line = text.replace(/\s+/g, ' ');
  return line.length <= width ? line : `${line.slice(0, width - 1)}…`;
}

/** How long from `start` to `end` (or to now, while it runs), for people. */
export function duration(start: string | null, end: string | null, now = Date.now()): string {
  if (!start) return '';
  const ms = Math.max(0, (end ? Date.parse(end) : now) - Date.parse(start));
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 10_000) return `${(ms / 1000).toFixed(1)}s`;
  return age(start, Date.parse(start) + ms);
}

export function workersTable(workers: WorkerRecord[]): string {
  return table(
    ['ID', 'NAME', 'HOST', 'STATE', 'BUSY', 'TAGS', 'CPU', 'MEMORY', 'LAST SEEN'],
    workers.map((w) => [
      w.id,
      w.name,
      w.host,
      // Draining with nothing left to finish: it has drained, and takes nothing until enabled.
      // An operator's hold on a worker that is not connected shows beside its state.
      (w.state === 'draining' && w.running === 0 ? 'drained' : w.state) +
        (w.hold && w.hold !== w.state ? ` (${w.hold === 'draining' ? 'drained' : w.hold})` : ''),
      `${w.running}/${w.slots}`,
      w.tags.join(','),
      w.stats.cpu === undefined ? '' : percent(w.stats.cpu),
      w.stats.memoryUsed === undefined || !w.stats.memoryTotal
        ? ''
        : percent(w.stats.memoryUsed / w.stats.memoryTotal),
      `${age(w.lastSeenAt)} ago`,
    ]),
  );
}

/** A progress bar for a terminal, `width` characters wide. */
export function bar(fraction: number, width = 30): string {
  const filled = Math.round(Math.min(1, Math.max(0, fraction)) * width);
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}]`;
}

/** A group's limits in a few words, as `drover groups` lists them. */
export function limitsText(limits: GroupRecord['limits']): string {
  if (!limits) return '-';
  const parts = [
    ...(limits.maxRunning !== null ? [`max ${limits.maxRunning}`] : []),
    ...(limits.ratePerMinute !== null ? [`${limits.ratePerMinute}/m`] : []),
    ...(limits.weight !== 1 ? [`weight ${limits.weight}`] : []),
  ];
  return parts.length ? parts.join(', ') : '-';
}

/** A group's retention as people read it: `7d`, `forever`, `farm's`. */
export function retentionText(retention: GroupRetention): string {
  if (retention === 'default') return "farm's";
  if (retention === 'off') return 'forever';
  return formatDuration(retention);
}

/** A count of bytes: `1.2 MB`. */
export function bytesText(bytes: number): string {
  const units = ['bytes', 'kB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return unit === 0 ? `${bytes} bytes` : `${value.toFixed(1)} ${units[unit]}`;
}
