import { JobId, parseOrThrow } from '@drover/protocol';
import type {
  FarmHistory,
  FarmOverview,
  FarmSample,
  JobTimeline,
  OverviewWorker,
  TimelineAttempt,
} from '@drover/protocol';
import type { Database } from './database.js';
import type { Statements } from './statements.js';

/** How many points `farm.history` answers with at most: a day of minutes. */
export const MAX_HISTORY_POINTS = 1440;
/** How many connected workers the overview lists at most. */
export const MAX_OVERVIEW_WORKERS = 1000;

/**
 * Records the farm's sample for the interval of `intervalMs` that ended last, unless a server
 * of the farm did already (then nothing is computed), and deletes the samples older than
 * `keepMs`. Resolves to the sample when this call recorded it.
 */
export async function recordSample(
  db: Database,
  sql: Statements,
  intervalMs: number,
  keepMs: number,
): Promise<FarmSample | undefined> {
  const [row] = await db.query<{ sample: FarmSample }>(sql.get('record-metrics-sample'), [
    Math.trunc(intervalMs),
    Math.trunc(keepMs),
  ]);
  return row?.sample;
}

/** The samples after `since`, in buckets of at least `stepMs`, at most 1,440 of them. */
export async function farmHistory(
  db: Database,
  sql: Statements,
  query: { since: Date; stepMs: number },
): Promise<FarmHistory> {
  const span = Math.max(0, Date.now() - query.since.getTime());
  const step = Math.max(Math.trunc(query.stepMs), Math.ceil(span / MAX_HISTORY_POINTS));
  const rows = await db.query<{ sample: FarmSample }>(sql.get('farm-history'), [
    query.since.toISOString(),
    step,
  ]);
  return { since: query.since.toISOString(), step, samples: rows.map((r) => r.sample) };
}

/** The farm now, with its connected workers and the tasks each runs. */
export async function farmOverview(db: Database, sql: Statements): Promise<FarmOverview> {
  // One snapshot for both reads: the figures count the very attempts the workers list shows.
  const [figures, workers] = await db.transaction(async (tx) => {
    await tx.exec('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY');
    const figures = await tx.query<{
      overview: Omit<FarmOverview, 'workers' | 'workersTruncated'>;
    }>(sql.get('farm-overview'));
    const workers = await tx.query<{ worker: Omit<OverviewWorker, 'hiddenTasks'> }>(
      sql.get('overview-workers'),
      [MAX_OVERVIEW_WORKERS + 1],
    );
    return [figures, workers] as const;
  });
  const overview = figures[0]?.overview;
  if (!overview) throw new Error('farm-overview answered no row');
  return {
    ...overview,
    workers: workers.slice(0, MAX_OVERVIEW_WORKERS).map((r) => ({
      ...r.worker,
      // The oldest attempt first; its task's number breaks a tie.
      tasks: r.worker.tasks.sort(
        (a, b) =>
          Date.parse(a.startedAt) - Date.parse(b.startedAt) || Number(a.taskId) - Number(b.taskId),
      ),
      hiddenTasks: 0,
    })),
    workersTruncated: workers.length > MAX_OVERVIEW_WORKERS,
  };
}

/** A job's attempts, the latest `limit` by start, with their workers' names. */
export async function jobTimeline(
  db: Database,
  sql: Statements,
  jobId: string,
  limit: number,
): Promise<JobTimeline> {
  parseOrThrow(JobId, jobId, 'job id');
  const rows = await db.query<{ attempt: TimelineAttempt }>(sql.get('job-timeline'), [
    jobId,
    limit + 1,
  ]);
  return {
    attempts: rows.slice(0, limit).map((r) => r.attempt),
    truncated: rows.length > limit,
  };
}
