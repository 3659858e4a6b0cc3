import {
  DroverError,
  JobsApply,
  MAX_JOBS_PER_APPLY,
  WorkersApply,
  isDroverError,
  parseOrThrow,
  workerActionApplies,
} from '@drover/protocol';
import type {
  JobRecord,
  JobsApplied,
  WorkerAction,
  WorkerHold,
  WorkerState,
  WorkersApplied,
} from '@drover/protocol';
import type { Database } from './database.js';
import type { Statements } from './statements.js';
import { cancelJob } from './cancel.js';
import type { TaskToStop } from './cancel.js';
import { retryJob } from './retry.js';
import { setJobPriority } from './priority.js';
import { setWorkerHold } from './workers.js';

/** What each worker action orders: the hold it sets (see `Engine.holdWorker`). */
const WORKER_HOLDS: Record<WorkerAction, WorkerHold | null> = {
  disable: 'disabled',
  enable: null,
  drain: 'draining',
};

/**
 * Disables, enables or drains every worker a filter selects, in one transaction: all of them or,
 * if it fails, none. Workers the action means nothing for (enabling an online one) are left as
 * they are and counted in `matched` only.
 */
export async function applyToWorkers(
  db: Database,
  sql: Statements,
  input: WorkersApply,
): Promise<WorkersApplied> {
  const { action, filter } = parseOrThrow(WorkersApply, input, 'workers.apply');
  return await db.transaction(async (tx) => {
    const selected = await tx.query<{ id: string; state: WorkerState; hold: WorkerHold | null }>(
      sql.get('select-workers'),
      [
        filter.ids ?? null,
        filter.names ?? null,
        filter.hosts ?? null,
        filter.tags ?? null,
        filter.states ?? null,
        filter.search ?? null,
      ],
    );
    const ids = selected.filter((w) => workerActionApplies(action, w)).map((w) => w.id);
    const workers = ids.length > 0 ? await setWorkerHold(tx, sql, ids, WORKER_HOLDS[action]) : [];
    return { workers, matched: selected.length };
  });
}

export interface JobsAppliedWithStops extends JobsApplied {
  /** Tasks a cancel found held by workers: the server tells their workers to stop them. */
  toStop: TaskToStop[];
  /** Whether tasks were put back in the queue (a retry). */
  queued: boolean;
}

/**
 * Applies an action to the jobs of a group a filter selects, up to `limit`, oldest first: the
 * selection is made once, then each job is changed as the single call changes it (and so with
 * the same events). Removing is one statement for every selected job. A job that changed
 * meanwhile so that the action no longer applies is skipped and said so. If the call fails
 * midway (the database went away), the jobs changed before stay changed: each job is changed
 * whole or not at all, and calling again goes on with the rest, since changed jobs leave the
 * selection.
 */
export async function applyToJobs(
  db: Database,
  sql: Statements,
  input: JobsApply,
): Promise<JobsAppliedWithStops> {
  const {
    action,
    filter,
    values,
    limit = MAX_JOBS_PER_APPLY,
  } = parseOrThrow(JobsApply, input, 'jobs.apply');
  const rows = await db.query<{ id: string }>(sql.get('select-jobs'), [
    filter.group,
    filter.statuses ?? null,
    filter.ids ?? null,
    filter.search ?? null,
    filter.taskTypes ?? null,
    filter.createdBefore ?? null,
    filter.createdAfter ?? null,
    action,
    limit + 1,
    values?.priority ?? null,
  ]);
  const ids = rows.slice(0, limit).map((r) => r.id);
  const result: JobsAppliedWithStops = {
    jobs: [],
    skipped: [],
    more: rows.length > limit,
    toStop: [],
    queued: false,
  };
  if (action === 'remove') {
    const removed = await db.query<{ job: JobRecord }>(sql.get('remove-jobs'), [ids]);
    result.jobs = removed.map((r) => r.job);
    const gone = new Set(result.jobs.map((j) => j.id));
    for (const id of ids) if (!gone.has(id)) result.skipped.push(skip(id, notFinished(id)));
    return result;
  }
  for (const id of ids) {
    try {
      switch (action) {
        case 'cancel': {
          const cancelled = await cancelJob(db, sql, id, values?.reason ?? 'Cancelled by a user.');
          result.jobs.push(cancelled.job);
          result.toStop.push(...cancelled.toStop);
          break;
        }
        case 'retry': {
          const retried = await retryJob(db, sql, id);
          result.jobs.push(retried.job);
          result.queued ||= retried.retried.length > 0;
          break;
        }
        case 'setPriority':
          result.jobs.push(await setJobPriority(db, sql, id, values?.priority ?? 0));
          break;
      }
    } catch (error) {
      // Removed or being cancelled since it was selected: the others go on.
      if (
        !isDroverError(error) ||
        !['DROVER_E_NOT_FOUND', 'DROVER_E_CONFLICT'].includes(error.code)
      )
        throw error;
      result.skipped.push(skip(id, error));
    }
  }
  return result;
}

function skip(id: string, error: DroverError): JobsApplied['skipped'][number] {
  return { id, code: error.code, message: error.message };
}

export function notFinished(id: string, status?: string): DroverError {
  return new DroverError(
    'DROVER_E_CONFLICT',
    `Job ${id} is ${status ?? 'not finished'}: only a finished job can be removed. Cancel it first (drover jobs cancel ${id}), then remove it once it has stopped.`,
  );
}
