import {
  DroverError,
  JobExtension,
  MAX_TASKS_PER_JOB,
  parseOrThrow,
  stageTaskCount,
} from '@drover/protocol';
import type { JobRecord, JsonObject } from '@drover/protocol';
import type { Database } from './database.js';
import { checkParamsSize } from './expand.js';
import type { StageRow } from './expand.js';
import type { Statements } from './statements.js';
import { uncleanPath } from './clean-text.js';

export interface ExtendResult {
  job: JobRecord;
  /** How many tasks the job gained. */
  added: number;
}

interface LockedJob {
  task_count: number;
  expansion: 'items' | 'frames' | null;
  frame_first: number | null;
  frame_last: number | null;
  params: JsonObject;
  cancelled: boolean;
  later_stage_begun: boolean;
  task_type: string;
  tags: string[];
  max_attempts: number;
  timeout_ms: number;
  backoff_initial_ms: number;
  backoff_max_ms: number;
}

function refuse(message: string, path: string): DroverError {
  return new DroverError('DROVER_E_INVALID_PARAMS', `Invalid job extension: ${message}`, {
    details: [{ path, message }],
  });
}

/**
 * Adds items or frames to a job's first stage, in the shape it was submitted with, in one
 * transaction: the new tasks get the next indexes and are queued at the job's priority, the job's
 * counts and progress take them in, and a finished job runs again (paused, if its group is).
 * Refused, changing nothing: another shape than the job's, frames among those it has, a job of
 * one task, a cancelled job, one whose later stage has begun, or more tasks than a job may have.
 */
export async function extendJob(
  db: Database,
  sql: Statements,
  input: unknown,
): Promise<ExtendResult> {
  const extension = parseOrThrow(JobExtension, input, 'job extension');
  const unclean = uncleanPath(extension);
  if (unclean !== undefined)
    throw refuse('text must not contain NUL characters or unpaired UTF-16 surrogates', unclean);
  const jobId = extension.id;
  const count = stageTaskCount(extension);
  const result = await db.transaction(async (tx) => {
    // The group's pause first, before the job's lock: the order pausing a group keeps.
    const [group] = await tx.query<{ paused: boolean }>(sql.get('group-pause-of-job'), [jobId]);
    const [job] = await tx.query<LockedJob>(sql.get('lock-job-for-extend'), [jobId]);
    if (!group || !job) throw new DroverError('DROVER_E_NOT_FOUND', `There is no job ${jobId}.`);
    const frames = judge(jobId, job, extension, count);
    const stage: Omit<StageRow, 'stage'> = {
      first_index: job.task_count,
      task_type: job.task_type,
      params: job.params,
      items: extension.items ?? null,
      frame_start: extension.frames?.start ?? null,
      frame_end: extension.frames?.end ?? null,
      frame_step: extension.frames?.step ?? null,
      tags: job.tags,
      max_attempts: extension.maxAttempts ?? job.max_attempts,
      timeout_ms: extension.timeoutMs ?? job.timeout_ms,
      task_count: count,
    };
    checkParamsSize([{ ...stage, stage: 0 }]);
    await tx.query(sql.get('take-group-pause'), [jobId, group.paused]);
    const [row] = await tx.query<{ job: JobRecord }>(sql.get('extend-job'), [
      jobId,
      JSON.stringify(stage),
      count,
      job.backoff_initial_ms,
      job.backoff_max_ms,
      frames.first,
      frames.last,
    ]);
    if (!row) throw new Error(`extending job ${jobId} updated no job`);
    if (!row.job.paused) await tx.query(sql.get('wake-dispatchers'));
    return row.job;
  });
  return { job: result, added: count };
}

/** Refuses an extension that does not fit the job; returns the job's frames once extended. */
function judge(
  jobId: string,
  job: LockedJob,
  extension: ReturnType<typeof JobExtension.parse>,
  count: number,
): { first: number | null; last: number | null } {
  if (job.cancelled) {
    throw new DroverError(
      'DROVER_E_CONFLICT',
      `Job ${jobId} was cancelled; retry it (jobs.retry) before giving it more tasks, or submit a new job.`,
    );
  }
  if (job.later_stage_begun) {
    throw new DroverError(
      'DROVER_E_CONFLICT',
      `Job ${jobId} has a later stage that has begun, which would not wait for new tasks; submit a new job for them.`,
    );
  }
  if (job.task_count + count > MAX_TASKS_PER_JOB) {
    throw refuse(
      `job ${jobId} has ${job.task_count} tasks, and ${count} more would make more than ${MAX_TASKS_PER_JOB}`,
      extension.items ? 'items' : 'frames',
    );
  }
  if (job.expansion === null) {
    throw refuse(
      `job ${jobId} is a single task; only a job submitted with items or frames takes more of them`,
      extension.items ? 'items' : 'frames',
    );
  }
  if (extension.items) {
    if (job.expansion !== 'items')
      throw refuse(`job ${jobId} was submitted with frames: give frames, not items`, 'items');
    return { first: job.frame_first, last: job.frame_last };
  }
  const range = extension.frames;
  if (!range || job.expansion !== 'frames')
    throw refuse(`job ${jobId} was submitted with items: give items, not frames`, 'frames');
  const last = range.start + Math.floor((range.end - range.start) / range.step) * range.step;
  const first = job.frame_first ?? range.start;
  const end = job.frame_last ?? last;
  if (range.start <= end && last >= first) {
    throw refuse(
      `job ${jobId} has frames ${first} to ${end}; more frames come after ${end} or before ${first}`,
      'frames.start',
    );
  }
  return { first: Math.min(first, range.start), last: Math.max(end, last) };
}
