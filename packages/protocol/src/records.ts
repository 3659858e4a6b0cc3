import { z } from 'zod';
import { AttemptId, GroupName, JobId, LeaseToken, TaskId, WorkerId } from './ids.js';
import { AttemptStatus, JobStatus, TaskStatus, WorkerHold, WorkerState } from './statuses.js';
import { JsonObject } from './submission.js';
import { GroupRetention } from './retention.js';

/** A moment, as ISO 8601 with its offset. */
export const Time = z.iso.datetime({ offset: true });

/** What went wrong in a task or an attempt. */
export const TaskError = z.object({
  message: z.string(),
  /** A stable code when Drover itself ended the attempt (`DROVER_E_TASK_TIMEOUT`, ...). */
  code: z.string().optional(),
  stack: z.string().optional(),
});
export type TaskError = z.infer<typeof TaskError>;

/** How many of a job's tasks are in each status. */
export const TaskCounts = z.object({
  queued: z.int(),
  blocked: z.int(),
  leased: z.int(),
  running: z.int(),
  succeeded: z.int(),
  failed: z.int(),
  cancelled: z.int(),
});
export type TaskCounts = z.infer<typeof TaskCounts>;

export const JobRecord = z.object({
  id: JobId,
  group: GroupName,
  name: z.string(),
  taskType: z.string(),
  params: JsonObject,
  status: JobStatus,
  priority: z.int(),
  /**
   * 0..1, the share of work done: succeeded tasks count whole, running ones by their own
   * progress, failed and cancelled ones not at all.
   */
  progress: z.number().min(0).max(1),
  taskCount: z.int(),
  counts: TaskCounts,
  /**
   * The job starts no task: it, or its group, was paused (`jobs.pause`, `groups.pause`). Tasks
   * workers hold run to their end; `jobs.resume` starts the rest again.
   */
  paused: z.boolean().default(false),
  idempotencyKey: z.string().nullable(),
  cancelReason: z.string().nullable(),
  /** The site the job runs at (its tasks mirror the site's); null: this farm's workers. */
  site: z.string().nullable().optional(),
  createdAt: Time,
  updatedAt: Time,
  startedAt: Time.nullable(),
  finishedAt: Time.nullable(),
});
export type JobRecord = z.infer<typeof JobRecord>;

/** A group: the jobs submitted under one name, counted by status, and its work over them all. */
export const GroupRecord = z.object({
  name: GroupName,
  jobs: z.int(),
  counts: z.object({
    queued: z.int(),
    running: z.int(),
    succeeded: z.int(),
    failed: z.int(),
    cancelled: z.int(),
  }),
  /** Paused by `groups.pause`: its jobs, and those submitted into it, start no task. */
  paused: z.boolean(),
  /** Its limits and weight (`groups.setLimits`); null limits are none. */
  limits: z
    .object({
      maxRunning: z.int().nullable(),
      ratePerMinute: z.int().nullable(),
      weight: z.int(),
    })
    .optional(),
  /** The tasks of all its jobs. */
  taskCount: z.int(),
  /** The tasks of all its jobs, by status. */
  taskCounts: TaskCounts,
  /** 0..1, the share of the work of all its jobs done, counted as a job's `progress` is. */
  progress: z.number().min(0).max(1),
  /** Null for a group paused before any job was submitted into it. */
  lastSubmittedAt: Time.nullable(),
  /**
   * How long the group keeps its finished jobs: `default` the farm's, `off` forever, or its own
   * (`groups.setRetention`), in milliseconds.
   */
  retention: GroupRetention.default('default'),
});
export type GroupRecord = z.infer<typeof GroupRecord>;

/** A JSON Schema (draft 2020-12), as `z.toJSONSchema` writes it. */
export const JsonSchema = z.record(z.string(), z.json());
export type JsonSchema = z.infer<typeof JsonSchema>;

/** A task type as the farm knows it from its workers. */
export const TaskTypeRecord = z.object({
  name: z.string(),
  /** The JSON Schema of its params, if a worker described them. */
  paramsSchema: JsonSchema.nullable(),
  /** How many online workers offer it now. */
  workers: z.int(),
  /** At most this many of its tasks leased or running at once (`taskTypes.setLimits`). */
  maxRunning: z.int().nullable().optional(),
});
export type TaskTypeRecord = z.infer<typeof TaskTypeRecord>;

export const TaskRecord = z.object({
  id: TaskId,
  jobId: JobId,
  /** The task's position in its job, from 0, in submission order across all stages. */
  index: z.int(),
  /** 0 for the first stage; a stage waits for all tasks of the one before. */
  stage: z.int(),
  taskType: z.string(),
  params: JsonObject,
  status: TaskStatus,
  priority: z.int(),
  runAt: Time,
  /** How many attempts have started. */
  attempt: z.int(),
  maxAttempts: z.int(),
  timeoutMs: z.int(),
  tags: z.array(z.string()),
  progress: z.number().min(0).max(1),
  message: z.string().nullable(),
  result: z.json().nullable(),
  error: TaskError.nullable(),
  /** Set when a cancel reached the task while a worker held it: the worker must stop it. */
  cancelRequested: z.boolean(),
  workerId: WorkerId.nullable(),
  createdAt: Time,
  startedAt: Time.nullable(),
  finishedAt: Time.nullable(),
});
export type TaskRecord = z.infer<typeof TaskRecord>;

export const AttemptRecord = z.object({
  id: AttemptId,
  taskId: TaskId,
  /** 1 for the first attempt of the task. */
  number: z.int(),
  workerId: WorkerId,
  status: AttemptStatus,
  leaseExpiresAt: Time,
  deadlineAt: Time,
  startedAt: Time,
  finishedAt: Time.nullable(),
  error: TaskError.nullable(),
});
export type AttemptRecord = z.infer<typeof AttemptRecord>;

/** A worker's host at its last heartbeat. */
export const HostStats = z.object({
  /** CPU busy, 0..1 over the last interval. */
  cpu: z.number().min(0).max(1).optional(),
  /** Bytes of memory in use and in total. */
  memoryUsed: z.number().min(0).optional(),
  memoryTotal: z.number().min(0).optional(),
  /** The 1, 5 and 15 minute load averages. */
  load: z.array(z.number()).max(3).optional(),
});
export type HostStats = z.infer<typeof HostStats>;

export const WorkerRecord = z.object({
  id: WorkerId,
  name: z.string(),
  host: z.string(),
  tags: z.array(z.string()),
  taskTypes: z.array(z.string()),
  slots: z.int(),
  /** Slots in use: the worker's active attempts. */
  running: z.int(),
  state: WorkerState,
  /**
   * An operator's standing order (`draining`, `disabled`), kept across reconnects and restarts
   * until the worker is enabled; absent from servers that predate it.
   */
  hold: WorkerHold.nullable().optional(),
  stats: HostStats,
  lastSeenAt: Time,
  createdAt: Time,
});
export type WorkerRecord = z.infer<typeof WorkerRecord>;

/** What a `tasks.updated` event says of each task it lists: the task without its params. */
export const TaskSummary = TaskRecord.pick({
  id: true,
  index: true,
  stage: true,
  status: true,
  attempt: true,
  progress: true,
  message: true,
  result: true,
  error: true,
  cancelRequested: true,
  workerId: true,
  runAt: true,
  startedAt: true,
  finishedAt: true,
});
export type TaskSummary = z.infer<typeof TaskSummary>;

/** The data of a `tasks.updated` event: the tasks of one job that one change touched, by id. */
export const TasksUpdated = z.object({ jobId: JobId, tasks: z.array(TaskSummary) });
export type TasksUpdated = z.infer<typeof TasksUpdated>;

/** A task handed to a worker: the task and the lease that lets the worker report on it. */
export const Assignment = z.object({
  task: TaskRecord,
  attemptId: AttemptId,
  token: LeaseToken,
  leaseExpiresAt: Time,
  deadlineAt: Time,
});
export type Assignment = z.infer<typeof Assignment>;

/** One batch of log lines of one attempt, as carried by a `task.log` event. */
export const LogLine = z.object({
  at: Time,
  stream: z.enum(['stdout', 'stderr', 'log']),
  line: z.string().max(64 * 1024),
});
export type LogLine = z.infer<typeof LogLine>;
