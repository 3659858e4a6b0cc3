import { DroverError } from '@drover/protocol';
import type { JobRecord } from '@drover/protocol';
import type { Queryable } from './database.js';
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

interface Row {
  task_id: string;
  status: string;
  attempt_id: string | null;
  worker_id: string | null;
}

/**
 * Cancels a whole job: its cancel reason first, in a transaction of its own, so that from then on
 * no claim takes its tasks and the tasks trigger cancels any that comes back to the queue; then its
 * queued tasks are cancelled and its held ones marked, in one statement. Blocked tasks follow
 * through the tasks trigger. A finished job is left as it is.
 */
export async function cancelJob(
  db: Queryable,
  sql: Statements,
  jobId: string,
  reason: string,
): Promise<CancelResult> {
  await db.query(sql.get('set-job-cancel-reason'), [jobId, reason]);
  const rows = await db.query<Row>(sql.get('cancel-tasks'), [jobId, null, reason]);
  return result(db, sql, jobId, rows);
}

/**
 * Cancels one task; the later stages of its job that wait on it follow. A blocked task is
 * cancelled under its job's lock, the order the tasks trigger keeps.
 */
export async function cancelTask(
  db: Queryable,
  sql: Statements,
  target: { jobId: string; taskId: string; status: string },
  reason: string,
): Promise<CancelResult> {
  if (target.status === 'blocked') {
    const cancelled = await db.query<{ task_id: string }>(sql.get('cancel-blocked-task'), [
      target.jobId,
      target.taskId,
      reason,
    ]);
    if (cancelled.length > 0)
      return result(
        db,
        sql,
        target.jobId,
        cancelled.map((r) => ({ ...r, status: 'cancelled', attempt_id: null, worker_id: null })),
      );
    // Released meanwhile: cancel it as the queued or held task it has become.
  }
  const rows = await db.query<Row>(sql.get('cancel-tasks'), [target.jobId, target.taskId, reason]);
  return result(db, sql, target.jobId, rows);
}

async function result(
  db: Queryable,
  sql: Statements,
  jobId: string,
  rows: Row[],
): Promise<CancelResult> {
  const [found] = await db.query<{ job: JobRecord }>(sql.get('get-job'), [jobId]);
  if (!found) throw new DroverError('DROVER_E_NOT_FOUND', `There is no job ${jobId}.`);
  return {
    job: found.job,
    cancelled: rows.filter((r) => r.status === 'cancelled').map((r) => r.task_id),
    toStop: rows.flatMap((r) =>
      r.status !== 'cancelled' && r.attempt_id && r.worker_id
        ? [{ taskId: r.task_id, attemptId: r.attempt_id, workerId: r.worker_id }]
        : [],
    ),
  };
}
