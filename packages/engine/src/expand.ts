import type { ParsedJobSubmission } from '@drover/protocol';
import {
  DroverError,
  MAX_JOB_PARAMS_BYTES,
  MAX_TASK_PARAMS_BYTES,
  stageTaskCount,
} from '@drover/protocol';

/** Defaults for what a submission leaves out. */
export const SUBMISSION_DEFAULTS = {
  priority: 0,
  maxAttempts: 3,
  timeoutMs: 3_600_000,
  backoff: { initialMs: 1000, maxMs: 300_000 },
} as const;

/** One stage as submit-job.sql expands it. */
export interface StageRow {
  stage: number;
  first_index: number;
  task_type: string;
  params: Record<string, unknown>;
  items: Record<string, unknown>[] | null;
  frame_start: number | null;
  frame_end: number | null;
  frame_step: number | null;
  tags: string[];
  max_attempts: number;
  timeout_ms: number;
  task_count: number;
}

/** The stages of a submission with their first task index and task count. */
export function expandStages(job: ParsedJobSubmission): StageRow[] {
  let next = 0;
  return [job, ...(job.then ?? [])].map((stage, index) => {
    const count = stageTaskCount(stage);
    const row: StageRow = {
      stage: index,
      first_index: next,
      task_type: stage.taskType,
      params: stage.params,
      items: stage.items ?? null,
      frame_start: stage.frames?.start ?? null,
      frame_end: stage.frames?.end ?? null,
      frame_step: stage.frames?.step ?? null,
      // Later stages inherit the job's tags, attempts and timeout unless they set their own.
      tags: stage.tags ?? job.tags ?? [],
      max_attempts: stage.maxAttempts ?? job.maxAttempts ?? SUBMISSION_DEFAULTS.maxAttempts,
      timeout_ms: stage.timeoutMs ?? job.timeoutMs ?? SUBMISSION_DEFAULTS.timeoutMs,
      task_count: count,
    };
    next += count;
    return row;
  });
}

/**
 * How a job's first stage expands, as stored with the job for `jobs.extend`: 'items' or
 * 'frames' (with its first and last frame), or null for a single task.
 */
export function expansionOf(
  stage: Pick<ParsedJobSubmission, 'items' | 'frames'>,
): [expansion: 'items' | 'frames' | null, first: number | null, last: number | null] {
  if (stage.items) return ['items', null, null];
  if (!stage.frames) return [null, null, null];
  const { start, end, step } = stage.frames;
  return ['frames', start, start + Math.floor((end - start) / step) * step];
}

/** What a frame adds to a task's params: `,"frame":-2147483648`. */
const FRAME_BYTES = 24;

/**
 * Refuses a submission whose tasks' params, as stored, would be too large: one task's over
 * MAX_TASK_PARAMS_BYTES, or all of them together over MAX_JOB_PARAMS_BYTES (a stage's params are
 * stored with every task of the stage).
 */
export function checkParamsSize(stages: readonly StageRow[]): void {
  let total = 0;
  for (const stage of stages) {
    const own = jsonBytes(stage.params) + (stage.frame_start === null ? 0 : FRAME_BYTES);
    const items = stage.items === null ? 0 : jsonBytes(stage.items);
    total += own * stage.task_count + items;
    // Only when the stage's params and all its items together exceed the bound can one task.
    let largest = own;
    if (own + items > MAX_TASK_PARAMS_BYTES && stage.items !== null)
      for (const item of stage.items) largest = Math.max(largest, own + jsonBytes(item));
    if (largest > MAX_TASK_PARAMS_BYTES) {
      throw tooLarge(
        `a task of stage ${stage.stage} would have ${mib(largest)} of params; a task takes at most ${mib(MAX_TASK_PARAMS_BYTES)}.`,
      );
    }
  }
  if (total > MAX_JOB_PARAMS_BYTES) {
    throw tooLarge(
      `its tasks would store ${mib(total)} of params (a stage's params are stored with each of its tasks); a job stores at most ${mib(MAX_JOB_PARAMS_BYTES)}.`,
    );
  }
}

function tooLarge(reason: string): DroverError {
  const message = `Invalid job submission: ${reason} Put large shared data in a file or an artifact the tasks read, and pass its name.`;
  return new DroverError('DROVER_E_INVALID_PARAMS', message, {
    details: [{ path: 'params', message: reason }],
  });
}

function jsonBytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value));
}

function mib(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}
