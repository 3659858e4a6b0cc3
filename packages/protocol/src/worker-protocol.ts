import { z } from 'zod';
import { AttemptId, LeaseToken, Tag, TaskTypeName, WorkerName } from './ids.js';
import { Assignment, HostStats, JsonSchema, LogLine, TaskError, WorkerRecord } from './records.js';
import { WorkerState } from './statuses.js';

/** Proof that a report comes from the current attempt of a task. */
export const LeaseRef = z.object({ attemptId: AttemptId, token: LeaseToken });
export type LeaseRef = z.infer<typeof LeaseRef>;

const Outcomes = z.object({
  /** Reports refused for a stale lease: the worker must stop working on those attempts. */
  refused: z.array(AttemptId),
});

/**
 * The methods a worker calls on its WebSocket, after `workers.hello`. A worker needs only the
 * server's URL and a worker token: never database credentials.
 */
export const workerMethods = {
  'workers.hello': {
    params: z.object({
      name: WorkerName,
      host: z.string().min(1).max(255),
      tags: z.array(Tag).max(64).default([]),
      taskTypes: z.array(TaskTypeName).min(1).max(1000),
      slots: z.int().min(1).max(1024),
      /** The worker token the operator gave this worker. */
      token: z.string().min(1).max(512),
      /**
       * A secret of this worker's own, the same on each of its reconnects (and, kept in a state
       * file, across restarts on its machine). A name that is connected already is taken over
       * only by a hello with the same one: the same worker coming back, not a second worker.
       */
      instance: z.string().min(16).max(128).optional(),
      /**
       * The JSON Schema of each task type's params, by name: submissions are checked against it,
       * and the dashboard builds its forms from it.
       */
      paramsSchemas: z
        .record(TaskTypeName, JsonSchema)
        .refine((s) => JSON.stringify(s).length <= 1024 * 1024, 'params schemas take at most 1 MiB')
        .default({}),
      /** Attempts still running from before a reconnect, to re-attach while their leases hold. */
      held: z.array(LeaseRef).max(1024).default([]),
    }),
    result: z.object({
      worker: WorkerRecord,
      /** How long a lease lasts unless renewed; heartbeats come well within it. */
      leaseMs: z.int(),
      heartbeatMs: z.int(),
      /** Of the held attempts, those no longer current: stop them and drop their reports. */
      stale: z.array(AttemptId),
    }),
  },
  'workers.heartbeat': {
    params: z.object({ stats: HostStats.optional(), held: z.array(LeaseRef).max(1024) }),
    result: z.object({ stale: z.array(AttemptId) }),
  },
  /**
   * This worker is shutting down in an orderly way: it is draining, and the server assigns it
   * nothing more. What it still runs it finishes, or gives back with `tasks.release`.
   */
  'workers.leaving': {
    params: z.object({}),
    result: z.object({ worker: WorkerRecord }),
  },
  'tasks.started': {
    params: z.object({ leases: z.array(LeaseRef).min(1).max(1024) }),
    result: Outcomes,
  },
  'tasks.progress': {
    params: z.object({
      reports: z
        .array(
          LeaseRef.extend({
            progress: z.number().min(0).max(1).nullable().optional(),
            message: z.string().max(2000).nullable().optional(),
          }),
        )
        .min(1)
        .max(1024),
    }),
    result: Outcomes,
  },
  'tasks.log': {
    params: z.object({
      batches: z
        .array(LeaseRef.extend({ lines: z.array(LogLine).min(1).max(10_000) }))
        .min(1)
        .max(1024),
    }),
    result: Outcomes,
  },
  'tasks.complete': {
    params: z.object({
      reports: z
        .array(LeaseRef.extend({ result: z.json() }))
        .min(1)
        .max(1024),
    }),
    result: Outcomes,
  },
  'tasks.fail': {
    params: z.object({
      reports: z
        .array(LeaseRef.extend({ error: TaskError, retry: z.boolean().optional() }))
        .min(1)
        .max(1024),
    }),
    result: Outcomes,
  },
  /**
   * Attempts this worker gives back as it shuts down: assigned after it began to leave (never
   * started), or stopped unfinished at its shutdown's deadline. They do not count against their
   * tasks' attempts, and the tasks are queued again at once.
   */
  'tasks.release': {
    params: z.object({
      reports: z
        .array(LeaseRef.extend({ reason: z.string().min(1).max(2000) }))
        .min(1)
        .max(1024),
    }),
    result: Outcomes,
  },
} as const satisfies Record<string, { params: z.ZodType; result: z.ZodType }>;

export type WorkerMethodName = keyof typeof workerMethods;

/** Notifications the server sends a worker. */
export const serverToWorker = {
  /** Tasks for the worker's free slots, each with its lease. */
  'tasks.assign': z.object({ assignments: z.array(Assignment) }),
  /** Stop these attempts (cancelled, timed out or lost): abort handlers, kill commands. */
  'tasks.stop': z.object({ attemptIds: z.array(AttemptId), reason: z.string() }),
  /** The operator changed the worker's state: `draining` finishes what it has and takes no more. */
  'workers.state': z.object({ state: WorkerState }),
} as const;

export type ServerToWorker = keyof typeof serverToWorker;
