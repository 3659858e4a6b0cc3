import { parseOrThrow } from '@drover/protocol';
import { z } from 'zod';
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

const Policy = z.object({
  finishedJobsMs: z.number().min(0).max(Number.MAX_SAFE_INTEGER),
  eventsMs: z.number().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
  batch: z.int().min(1).max(100_000).optional(),
});

/** Deletes what the retention policy no longer keeps; returns how many jobs went. */
export async function applyRetention(
  db: Database,
  sql: Statements,
  input: RetentionPolicy,
): Promise<number> {
  const policy = parseOrThrow(Policy, input, 'retention policy');
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
