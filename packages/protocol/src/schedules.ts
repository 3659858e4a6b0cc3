import { z } from 'zod';
import { GroupName, JobId } from './ids.js';
import { JobSubmission } from './submission.js';

/**
 * A schedule's name: unique on the farm. Letters, digits, `.`, `_` and `-`, as a site's name.
 */
export const ScheduleName = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/,
    'a schedule name is 1 to 64 letters, digits, ".", "_" or "-", starting with a letter or digit',
  );
export type ScheduleName = z.infer<typeof ScheduleName>;

/**
 * What a tick does while the job of the schedule's previous run has not ended: `skip` submits
 * nothing (and records why), `queue` submits anyway, `cancel` cancels the previous job first.
 */
export const ScheduleOverlap = z.enum(['skip', 'queue', 'cancel']);
export type ScheduleOverlap = z.infer<typeof ScheduleOverlap>;

/**
 * What a schedule does with the ticks it missed while no server ran (more than a minute late):
 * `none` drops them and waits for the next tick to come; `last` runs once for them, then goes on.
 */
export const ScheduleCatchUp = z.enum(['none', 'last']);
export type ScheduleCatchUp = z.infer<typeof ScheduleCatchUp>;

/**
 * A cron expression: five fields (minute hour day-of-month month day-of-week), or six with
 * seconds first. Checked by the server, which names what is wrong.
 */
export const CronExpression = z.string().min(1).max(200);

/** An IANA time zone name, such as `Europe/Paris`; checked by the server. @defaultValue UTC */
export const TimeZone = z.string().min(1).max(100);

/**
 * The job a schedule submits at each tick: what `jobs.submit` takes, without an idempotency key
 * or a start time (each tick's job gets `schedule:<schedule id>:<tick time>` as its key).
 */
export const ScheduledJob = JobSubmission;

/** What happened at a schedule's last tick. */
export const ScheduleOutcome = z.enum(['submitted', 'skipped', 'missed', 'failed']);
export type ScheduleOutcome = z.infer<typeof ScheduleOutcome>;

/** A schedule as the `schedules.*` methods return it. */
export const ScheduleRecord = z.object({
  id: z.string(),
  name: ScheduleName,
  /** The group its jobs are submitted to: the job's. */
  group: GroupName,
  cron: z.string(),
  timezone: z.string(),
  overlap: ScheduleOverlap,
  catchUp: ScheduleCatchUp,
  /** The job each tick submits. */
  job: z.record(z.string(), z.json()),
  paused: z.boolean(),
  /** The next tick; null while paused. */
  nextRunAt: z.string().nullable(),
  /** The next few ticks after `nextRunAt`, for people to check the expression; none while paused. */
  upcoming: z.array(z.string()),
  /** The last tick handled (submitted, skipped or missed), and when. */
  lastTickAt: z.string().nullable(),
  lastRunAt: z.string().nullable(),
  /** The job the last submission made (a tick's or `runNow`'s). */
  lastJobId: JobId.nullable(),
  lastOutcome: ScheduleOutcome.nullable(),
  /** Why the last tick submitted nothing, or what it did besides submitting. */
  lastReason: z.string().nullable(),
  createdAt: z.string(),
  createdBy: z.string().nullable(),
  updatedAt: z.string(),
});
export type ScheduleRecord = z.infer<typeof ScheduleRecord>;

const settings = {
  cron: CronExpression,
  /** @defaultValue UTC */
  timezone: TimeZone.optional(),
  /** @defaultValue skip */
  overlap: ScheduleOverlap.optional(),
  /** @defaultValue none */
  catchUp: ScheduleCatchUp.optional(),
};

/** What `schedules.add` takes. The job is checked as `jobs.submit` checks it, at once. */
export const ScheduleAdd = z.object({
  name: ScheduleName,
  ...settings,
  job: ScheduledJob,
  /** Add it paused: nothing runs until it is resumed. @defaultValue false */
  paused: z.boolean().optional(),
  /** As on `jobs.submit`: the job's task type need not be offered by a worker yet. */
  allowUnknownType: z.boolean().optional(),
});
export type ScheduleAdd = z.infer<typeof ScheduleAdd>;

/** What `schedules.update` takes: what is given changes, the rest stays. */
export const ScheduleUpdate = z.object({
  name: ScheduleName,
  cron: CronExpression.optional(),
  timezone: TimeZone.optional(),
  overlap: ScheduleOverlap.optional(),
  catchUp: ScheduleCatchUp.optional(),
  job: ScheduledJob.optional(),
  allowUnknownType: z.boolean().optional(),
});
export type ScheduleUpdate = z.infer<typeof ScheduleUpdate>;

/** The idempotency key of the job a schedule submits for one tick (an ISO 8601 time). */
export function scheduleIdempotencyKey(scheduleId: string, tick: string): string {
  return `schedule:${scheduleId}:${tick}`;
}

/** The schedule and tick a job was submitted for, read from its idempotency key; else undefined. */
export function scheduledBy(
  idempotencyKey: string | null | undefined,
): { scheduleId: string; tick: string } | undefined {
  const match = /^schedule:([0-9a-f-]{36}):(.+)$/.exec(idempotencyKey ?? '');
  return match?.[1] && match[2] ? { scheduleId: match[1], tick: match[2] } : undefined;
}
