import { DroverError } from '@drover/protocol';
import type { JobRecord } from '@drover/protocol';
import type { Database } from './database.js';
import type { Statements } from './statements.js';

export interface RetryResult {
  job: JobRecord;
  /** The tasks put back, queued or (behind an earlier stage) blocked. */
  retried: string[];
}

/**
 * Retries a job's failed and cancelled tasks, each with as many attempts as it was submitted
 * with. A finished job comes back paused if its group is. A cancelled job is un-cancelled; a job whose cancel is still stopping tasks is refused,
 * since those tasks would end cancelled after the retry. Succeeded tasks keep their results.
 */
export async function retryJob(db: Database, sql: Statements, jobId: string): Promise<RetryResult> {
  const retried = await db.transaction(async (tx) => {
    // The group's pause first, before the job's lock: the order pausing a group keeps.
    const [group] = await tx.query<{ paused: boolean }>(sql.get('group-pause-of-job'), [jobId]);
    const [job] = await tx.query<{ cancelling: boolean }>(sql.get('lock-job-for-retry'), [jobId]);
    if (!group || !job) throw new DroverError('DROVER_E_NOT_FOUND', `There is no job ${jobId}.`);
    if (job.cancelling) {
      throw new DroverError(
        'DROVER_E_CONFLICT',
        `Job ${jobId} is being cancelled; retry it once its running tasks have stopped.`,
      );
    }
    // A finished job comes back paused if its group is.
    await tx.query(sql.get('take-group-pause'), [jobId, group.paused]);
    return tx.query<{ id: string }>(sql.get('retry-tasks'), [jobId]);
  });
  const [found] = await db.query<{ job: JobRecord }>(sql.get('get-job'), [jobId]);
  if (!found) throw new DroverError('DROVER_E_NOT_FOUND', `There is no job ${jobId}.`);
  return {
    job: found.job,
    retried: retried.map((r) => r.id).sort((a, b) => Number(a) - Number(b)),
  };
}
