import { z } from 'zod';
import { AttemptId, GroupName, JobId, TaskId, WorkerId } from './ids.js';
import { Time } from './records.js';
import { AttemptStatus, TaskStatus, WorkerState } from './statuses.js';

/**
 * One point of the farm's history: a server recorded it at `at`, the end of an interval of
 * `intervalMs` (decision 0037). Of a bucket of several samples (`farm.history`'s `step`), the
 * finished tasks and `intervalMs` are summed and the gauges are the highest seen.
 */
export const FarmSample = z.object({
  at: Time,
  /** The time the sample's counts of finished tasks cover: tasks/s = finished / (intervalMs / 1000). */
  intervalMs: z.int(),
  /** Tasks queued: ready, or waiting for their run-at. */
  queued: z.int(),
  /** Active attempts: tasks leased or running. */
  running: z.int(),
  /** Workers connected, in any state but offline. */
  workersOnline: z.int(),
  /** Workers holding at least one task. */
  workersBusy: z.int(),
  /** Tasks that finished in the interval, succeeded or failed. */
  succeeded: z.int(),
  failed: z.int(),
});
export type FarmSample = z.infer<typeof FarmSample>;

export const FarmHistory = z.object({
  /** The samples after this time, oldest first. */
  since: Time,
  /** The width of a bucket, in ms: the step asked for, or wider so that at most 1,440 come back. */
  step: z.int(),
  samples: z.array(FarmSample),
});
export type FarmHistory = z.infer<typeof FarmHistory>;

/** A task a worker runs now, as the overview shows it. */
export const CurrentTask = z.object({
  taskId: TaskId,
  index: z.int(),
  jobId: JobId,
  jobName: z.string(),
  group: GroupName,
  taskType: z.string(),
  status: TaskStatus,
  /** Which attempt of the task this is, from 1. */
  attempt: z.int(),
  progress: z.number().min(0).max(1),
  message: z.string().nullable(),
  startedAt: Time,
});
export type CurrentTask = z.infer<typeof CurrentTask>;

/** A connected worker and what it runs now. */
export const OverviewWorker = z.object({
  id: WorkerId,
  name: z.string(),
  host: z.string(),
  state: WorkerState,
  slots: z.int(),
  lastSeenAt: Time,
  /**
   * The tasks it runs, oldest first; those of groups the caller may not read are left out (they
   * still count in `hiddenTasks`).
   */
  tasks: z.array(CurrentTask),
  hiddenTasks: z.int().default(0),
});
export type OverviewWorker = z.infer<typeof OverviewWorker>;

/** The farm now: the live figures of the overview. */
export const FarmOverview = z.object({
  at: Time,
  /** Tasks queued (ready, or waiting for their run-at) and blocked on an earlier stage. */
  queued: z.int(),
  blocked: z.int(),
  /** Active attempts: tasks leased or running. */
  running: z.int(),
  /** Workers holding at least one task. */
  workersBusy: z.int(),
  /** Every worker the farm knows, counted by state (a state no worker is in is absent). */
  workerStates: z.partialRecord(WorkerState, z.int()),
  /** Tasks that finished in the last 60 s. */
  lastMinute: z.object({ succeeded: z.int(), failed: z.int() }),
  /** Tasks that finished failed in the last hour. */
  failedLastHour: z.int(),
  /** The connected workers by name, up to 1,000, each with the tasks it runs now. */
  workers: z.array(OverviewWorker),
  /** More workers are connected than `workers` lists. */
  workersTruncated: z.boolean(),
});
export type FarmOverview = z.infer<typeof FarmOverview>;

/** One attempt of a job's task, for its timeline: which worker ran it, from when to when. */
export const TimelineAttempt = z.object({
  id: AttemptId,
  taskId: TaskId,
  /** The task's index in its job. */
  index: z.int(),
  /** 1 for the task's first attempt. */
  number: z.int(),
  workerId: WorkerId,
  /** The worker's name (its id, should the worker be gone). */
  workerName: z.string(),
  status: AttemptStatus,
  startedAt: Time,
  /** Null while it runs. */
  finishedAt: Time.nullable(),
});
export type TimelineAttempt = z.infer<typeof TimelineAttempt>;

export const JobTimeline = z.object({
  /** The job's attempts, the latest `limit` by start, latest first. */
  attempts: z.array(TimelineAttempt),
  /** The job has older attempts than these. */
  truncated: z.boolean(),
});
export type JobTimeline = z.infer<typeof JobTimeline>;
