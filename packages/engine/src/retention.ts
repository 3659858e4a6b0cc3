import type { Database } from './database.js';
import type { Statements } from './statements.js';

export interface RetentionPolicy {
  /** Finished jobs older than this go, with their tasks, attempts and events. */
  finishedJobsMs: number;
  /** Events outside any job (workers, refusals) older than this go. @defaultValue finishedJobsMs */
  eventsMs?: number;
  /** Rows deleted per statement, so no pass holds locks for long. @defaultValue 500 */
  batch?: number;
}

/** Deletes what the retention policy no longer keeps; returns how many jobs went. */
export async function applyRetention(
  db: Database,
  sql: Statements,
  policy: RetentionPolicy,
): Promise<number> {
  const batch = policy.batch ?? 500;
  let jobs = 0;
  for (;;) {
    const rows = await db.query(sql.get('delete-finished-jobs'), [policy.finishedJobsMs, batch]);
    jobs += rows.length;
    if (rows.length < batch) break;
  }
  await db.query(sql.get('delete-old-events'), [
    policy.eventsMs ?? policy.finishedJobsMs,
    batch * 20,
  ]);
  return jobs;
}
