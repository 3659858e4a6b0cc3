import type { ParsedJobSubmission } from '@drover/protocol';
import { stageTaskCount } from '@drover/protocol';

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
