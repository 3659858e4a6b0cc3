import { DroverError } from '@drover/protocol';
import type { JobRecord } from '@drover/protocol';
import type { Database } from './database.js';
import type { Statements } from './statements.js';

/** A task a worker holds that must be stopped there. */
export interface TaskToStop {
  taskId: string;
  attemptId: string;
  workerId: string;
}

export interface CancelResult {
  job: JobRecord;
  /** Tasks that no worker held, now cancelled: they never start. */
  cancelled: string[];
  /** Tasks held by workers, now marked: the server stops them, and they end `cancelled`. */
  toStop: TaskToStop[];
}

/**
 * Cancels a whole job, or one task of it. Queued and blocked tasks are cancelled at once; held
 * ones are marked for their workers to stop. Cancelling what has finished changes nothing.
 */
export async function cancel(
  db: Database,
  sql: Statements,
  target: { jobId: string; taskId?: string },
  reason: string,
): Promise<CancelResult> {
  return db.transaction(async (tx) => {
    // Tasks first, job last: the lock order every statement keeps.
    const cancelled = await tx.query<{ task_id: string }>(sql.get('cancel-waiting-tasks'), [
      target.jobId,
      target.taskId ?? null,
      reason,
    ]);
    const toStop = await tx.query<{ task_id: string; attempt_id: string; worker_id: string }>(
      sql.get('request-cancel-held-tasks'),
      [target.jobId, target.taskId ?? null, reason],
    );
    // Only a whole-job cancel marks the job, which also keeps later stages from being released.
    const rows =
      target.taskId === undefined
        ? await tx.query<{ job: JobRecord }>(sql.get('set-job-cancel-reason'), [
            target.jobId,
            reason,
          ])
        : await tx.query<{ job: JobRecord }>(sql.get('get-job'), [target.jobId]);
    const job = rows[0]?.job;
    if (!job) throw new DroverError('DROVER_E_NOT_FOUND', `There is no job ${target.jobId}.`);
    return {
      job,
      cancelled: cancelled.map((r) => r.task_id),
      toStop: toStop.map((r) => ({
        taskId: r.task_id,
        attemptId: r.attempt_id,
        workerId: r.worker_id,
      })),
    };
  });
}
