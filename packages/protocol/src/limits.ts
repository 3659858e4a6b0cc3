import { z } from 'zod';
import { GroupName, JobId, TaskId, TaskTypeName, WorkerId } from './ids.js';
import { Time } from './records.js';
import { TaskStatus } from './statuses.js';

/** At most this many tasks leased or running at once; null: no limit. */
const MaxRunning = z.int().min(0).max(1_000_000).nullable();

/** A group's limits and its share of the slots against other groups waiting at once. */
export const GroupLimits = z.object({
  group: GroupName,
  /** At most this many of its tasks leased or running at once, across the farm; null: no limit. */
  maxRunning: MaxRunning,
  /** At most this many of its tasks started a minute; null: no limit. */
  ratePerMinute: z.int().min(1).max(6_000_000).nullable(),
  /** Its share of the slots against other groups waiting at once. @defaultValue 1 */
  weight: z.int().min(1).max(1000),
});
export type GroupLimits = z.infer<typeof GroupLimits>;

/** `groups.setLimits`: only the keys given change; null lifts a limit. */
export const GroupLimitsChange = z
  .object({
    group: GroupName,
    maxRunning: MaxRunning.optional(),
    ratePerMinute: GroupLimits.shape.ratePerMinute.optional(),
    weight: GroupLimits.shape.weight.optional(),
  })
  .refine(
    (c) => c.maxRunning !== undefined || c.ratePerMinute !== undefined || c.weight !== undefined,
    { message: 'give maxRunning, ratePerMinute or weight', path: ['maxRunning'] },
  );
export type GroupLimitsChange = z.input<typeof GroupLimitsChange>;

/** A task type's limit. */
export const TaskTypeLimits = z.object({ taskType: TaskTypeName, maxRunning: MaxRunning });
export type TaskTypeLimits = z.infer<typeof TaskTypeLimits>;

/** A worker that failed a job's tasks: how often, and whether it is blocked for the job. */
export const WorkerBlock = z.object({
  workerId: WorkerId,
  /** The worker's name, while the farm knows the worker. */
  workerName: z.string().nullable(),
  failures: z.int(),
  /** Offered none of the job's tasks until `jobs.unblock`. */
  blocked: z.boolean(),
  blockedAt: Time.nullable(),
  lastFailedAt: Time,
});
export type WorkerBlock = z.infer<typeof WorkerBlock>;

/** The data of a `job.worker_blocked` event, on the job's topic. */
export const WorkerBlocked = z.object({ jobId: JobId, workerId: WorkerId, failures: z.int() });
export type WorkerBlocked = z.infer<typeof WorkerBlocked>;

/** What holds a task back, most specific first (`tasks.why`). */
export const WaitReasonCode = z.enum([
  'not_queued',
  'waiting_for_stage',
  'cancelling',
  'site_job',
  'job_paused',
  'group_paused',
  'backing_off',
  'no_worker',
  'missing_tags',
  'blocklisted',
  'group_limit',
  'type_limit',
  'group_rate',
  'workers_busy',
  'queue_position',
]);
export type WaitReasonCode = z.infer<typeof WaitReasonCode>;

export const WaitReason = z.object({
  code: WaitReasonCode,
  /** The reason in a sentence, for people. */
  message: z.string(),
  /** When it will have passed, if the farm knows: a back-off's end, the rate's next start. */
  until: Time.optional(),
});
export type WaitReason = z.infer<typeof WaitReason>;

export const TaskWhy = z.object({
  taskId: TaskId,
  status: TaskStatus,
  /** Empty when nothing holds it back: the next dispatcher pass may start it. */
  reasons: z.array(WaitReason),
});
export type TaskWhy = z.infer<typeof TaskWhy>;
