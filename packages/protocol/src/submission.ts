import { z } from 'zod';
import { GroupName, Tag, TaskTypeName } from './ids.js';
import { SiteName } from './sites.js';

/** The most tasks one job may expand into, over all its stages. */
export const MAX_TASKS_PER_JOB = 1_000_000;
/** The most bytes (as JSON) one task's params may take: its stage's params with its item. */
export const MAX_TASK_PARAMS_BYTES = 1024 * 1024;
/**
 * The most bytes (as JSON) the params of all of a job's tasks may take together: a stage's params
 * are stored with each of its tasks, so a small submission could otherwise store gigabytes.
 */
export const MAX_JOB_PARAMS_BYTES = 64 * 1024 * 1024;
/** The longest a task may be given to run, in milliseconds (7 days). */
export const MAX_TIMEOUT_MS = 7 * 24 * 3600 * 1000;

/** A JSON object: task params, results. */
export const JsonObject = z.record(z.string(), z.json());
export type JsonObject = z.infer<typeof JsonObject>;
/** Any JSON value: a task's result. */
export const JsonValue = z.json();
export type JsonValue = z.infer<typeof JsonValue>;

/**
 * A frame range: one task per frame `start`, `start + step`, ... up to and including `end`.
 * Each task's params get `frame` set to its frame number.
 */
/** Frame numbers are stored as 32-bit integers. */
const Frame = z
  .int()
  .min(-(2 ** 31))
  .max(2 ** 31 - 1);

export const FrameRange = z
  .object({
    start: Frame,
    end: Frame,
    step: z
      .int()
      .min(1)
      .max(2 ** 31 - 1)
      .default(1),
  })
  .refine((f) => f.end >= f.start, { message: 'end must not be before start', path: ['end'] });
export type FrameRange = z.infer<typeof FrameRange>;

const stageShape = {
  /** The task type that runs this stage's tasks. */
  taskType: TaskTypeName,
  /** Params every task of the stage gets; items and frames add to them. */
  params: JsonObject.default({}),
  /** How many times a task is tried before it fails for good. @defaultValue 3 */
  maxAttempts: z.int().min(1).max(100).optional(),
  /** How long one attempt may run, in milliseconds. @defaultValue 3,600,000 (1 hour) */
  timeoutMs: z.int().min(100).max(MAX_TIMEOUT_MS).optional(),
  /** Tags a worker must all have to run these tasks. @defaultValue [] */
  tags: z.array(Tag).max(32).optional(),
  /** One task per item; each task's params are the stage params with the item's keys on top. */
  items: z.array(JsonObject).min(1).max(MAX_TASKS_PER_JOB).optional(),
  /** One task per frame of the range. */
  frames: FrameRange.optional(),
};

const onlyOneExpansion = (s: { items?: unknown; frames?: unknown }): boolean =>
  s.items === undefined || s.frames === undefined;
const expansionMessage = {
  message: 'give either items or frames, not both',
  path: ['frames'],
};

/** A stage after the first: its tasks wait until every task of the stage before has succeeded. */
export const StageSubmission = z.object(stageShape).refine(onlyOneExpansion, expansionMessage);
export type StageSubmission = z.infer<typeof StageSubmission>;

/** How long a failed task waits before its next attempt: `initialMs * 2^(attempt-1)`, capped, ±20%. */
export const Backoff = z
  .object({
    /** @defaultValue 1000 */
    initialMs: z.int().min(0).max(MAX_TIMEOUT_MS).default(1000),
    /** @defaultValue 300,000 (5 minutes) */
    maxMs: z.int().min(0).max(MAX_TIMEOUT_MS).default(300_000),
  })
  .refine((b) => b.maxMs >= b.initialMs, {
    message: 'maxMs must be at least initialMs',
    path: ['maxMs'],
  });
export type Backoff = z.infer<typeof Backoff>;

/**
 * What a user submits: a task type and params in a group. It expands into one task, one task per
 * item, or one task per frame, and may be followed by stages (`then`) that each wait for all tasks
 * of the stage before.
 *
 * @example
 * { group: 'alice', name: 'shot 12', taskType: 'render.frame', params: { scene: 's12' },
 *   frames: { start: 1, end: 240 }, then: [{ taskType: 'render.contact-sheet' }] }
 */
export const JobSubmission = z
  .object({
    ...stageShape,
    group: GroupName,
    /** A name for people; defaults to the task type. */
    name: z.string().min(1).max(200).optional(),
    /** Higher runs sooner. @defaultValue 0 */
    priority: z.int().min(-1000).max(1000).optional(),
    /** Not before this time (ISO 8601). @defaultValue now */
    runAt: z.iso.datetime({ offset: true }).optional(),
    /**
     * Submitting again with the same key in the same group returns the first job instead of a new
     * one; a different submission under a used key is refused.
     */
    idempotencyKey: z.string().min(1).max(200).optional(),
    backoff: Backoff.optional(),
    then: z.array(StageSubmission).max(16).optional(),
    /**
     * Run the job at this site (see `sites.add`) instead of on this farm's workers: it is
     * recorded here, forwarded, and mirrored back as it runs there. @defaultValue this farm
     */
    site: SiteName.optional(),
    /**
     * After this many failures of the job's tasks on one worker (their own error or timeout, not
     * a lost connection), that worker is offered no more of them (`jobs.blocklist`,
     * `jobs.unblock`); 0 never blocks a worker. @defaultValue 3
     */
    blocklistAfter: z.int().min(0).max(1000).optional(),
  })
  .refine(onlyOneExpansion, expansionMessage)
  .superRefine((job, ctx) => {
    const total = [job, ...(job.then ?? [])].reduce((n, stage) => n + stageTaskCount(stage), 0);
    if (total > MAX_TASKS_PER_JOB) {
      ctx.addIssue({
        code: 'custom',
        message: `this job expands into ${total} tasks; the most is ${MAX_TASKS_PER_JOB}`,
        path: ['frames'],
      });
    }
  });
export type JobSubmission = z.input<typeof JobSubmission>;
export type ParsedJobSubmission = z.output<typeof JobSubmission>;

/** How many tasks one stage expands into. */
export function stageTaskCount(stage: {
  items?: unknown[] | undefined;
  frames?: FrameRange | undefined;
}): number {
  if (stage.items) return stage.items.length;
  if (stage.frames)
    return Math.floor((stage.frames.end - stage.frames.start) / stage.frames.step) + 1;
  return 1;
}

/**
 * More tasks for a running or finished job (`jobs.extend`): more items, or more frames, for its
 * first stage, in the shape the job was submitted with. Each new task's params are the job's
 * params with the item's keys (or its frame) on top.
 *
 * @example
 * { id: job.id, frames: { start: 241, end: 480 } }
 */
export const JobExtension = z
  .object({
    id: z.uuid(),
    /** More items, for a job submitted with items. */
    items: z.array(JsonObject).min(1).max(MAX_TASKS_PER_JOB).optional(),
    /** More frames, for a job submitted with frames: all after its last frame, or before its first. */
    frames: FrameRange.optional(),
    /** For the new tasks; by default those of the job's last task of its first stage. */
    maxAttempts: stageShape.maxAttempts,
    timeoutMs: stageShape.timeoutMs,
  })
  .refine((e) => (e.items === undefined) !== (e.frames === undefined), {
    message: 'give either items or frames',
    path: ['items'],
  });
export type JobExtension = z.input<typeof JobExtension>;
export type ParsedJobExtension = z.output<typeof JobExtension>;

/**
 * Changes to a job's waiting tasks (`jobs.update`): those queued or blocked. At least one field.
 */
export const JobUpdate = z
  .object({
    id: z.uuid(),
    /**
     * How many attempts each waiting task may have in all, counting those it has had; a task that
     * has had as many still gets the one it is waiting for. A later `jobs.retry` gives this many
     * again.
     */
    maxAttempts: stageShape.maxAttempts,
    /** How long each of their attempts may run, in milliseconds, from their next start. */
    timeoutMs: stageShape.timeoutMs,
    /** The job's priority, and its waiting tasks'. */
    priority: z.int().min(-1000).max(1000).optional(),
  })
  .refine(
    (u) => u.maxAttempts !== undefined || u.timeoutMs !== undefined || u.priority !== undefined,
    { message: 'give maxAttempts, timeoutMs or priority', path: ['maxAttempts'] },
  );
export type JobUpdate = z.input<typeof JobUpdate>;
