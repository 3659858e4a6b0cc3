import { DroverError, JobUpdate, parseOrThrow } from '@drover/protocol';
import type { JobRecord } from '@drover/protocol';
import type { Database } from './database.js';
import type { Statements } from './statements.js';

export interface UpdateResult {
  job: JobRecord;
  /** How many waiting tasks took the change. */
  updated: number;
}

/**
 * Changes a job's waiting tasks (queued and blocked): their attempts, timeout and priority, and
 * the job's priority with the last, in one transaction: the job's row first, then its tasks, the
 * lock order the tasks trigger keeps. Tasks workers hold keep what they started with.
 */
export async function updateJob(
  db: Database,
  sql: Statements,
  input: unknown,
): Promise<UpdateResult> {
  const change = parseOrThrow(JobUpdate, input, 'job update');
  const updated = await db.transaction(async (tx) => {
    const [found] = await tx.query(sql.get('lock-job'), [change.id]);
    if (!found) throw new DroverError('DROVER_E_NOT_FOUND', `There is no job ${change.id}.`);
    const tasks = await tx.query(sql.get('update-waiting-tasks'), [
      change.id,
      change.maxAttempts ?? null,
      change.timeoutMs ?? null,
      change.priority ?? null,
    ]);
    if (change.priority !== undefined)
      await tx.query(sql.get('set-job-priority'), [change.id, change.priority]);
    return tasks.length;
  });
  const [row] = await db.query<{ job: JobRecord }>(sql.get('get-job'), [change.id]);
  if (!row) throw new DroverError('DROVER_E_NOT_FOUND', `There is no job ${change.id}.`);
  return { job: row.job, updated };
}
