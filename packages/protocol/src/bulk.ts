import { z } from 'zod';
import { GroupName, JobId, Tag, TaskTypeName, WorkerId, WorkerName } from './ids.js';
import { JobRecord, WorkerRecord } from './records.js';
import { JobStatus, WorkerState } from './statuses.js';
import type { WorkerHold } from './statuses.js';

// One call acts on every worker or job a filter selects (brender's item / action / filters /
// values): the method names the item, and the params the action, the filter and the values.

/** The most jobs one `jobs.apply` call changes; the answer's `more` says whether others wait. */
export const MAX_JOBS_PER_APPLY = 1000;
/** The most ids, names or hosts a filter lists. */
const MAX_LISTED = 1000;

/** Text a filter matches: no NUL characters or unpaired surrogates, which SQL text cannot hold. */
const FilterText = z
  .string()
  .min(1)
  .max(255)
  .regex(/^[^\u0000\uD800-\uDFFF]*$/u, 'has no NUL characters or unpaired surrogates');

/** A list a filter matches against: one of these values. An empty list would select nothing. */
const AnyOf = <T extends z.ZodType>(item: T, max = MAX_LISTED) =>
  z.array(item).min(1, 'give at least one value, or leave the condition out').max(max);

const Reason = z.string().min(1).max(500);

/**
 * Which workers: every condition given must hold. A key that is not a condition is refused, so a
 * misspelt one never widens the selection to every worker.
 */
export const WorkerFilter = z.strictObject({
  ids: AnyOf(WorkerId).optional(),
  names: AnyOf(WorkerName).optional(),
  hosts: AnyOf(FilterText).optional(),
  /** Workers that have every one of these tags. */
  tags: AnyOf(Tag, 64).optional(),
  states: AnyOf(WorkerState, 16).optional(),
  /** In the name or the host, ignoring case. */
  search: FilterText.optional(),
});
export type WorkerFilter = z.infer<typeof WorkerFilter>;

/**
 * What `workers.apply` does. Each changes only the workers it means something for: `disable`
 * any not disabled, `enable` the disabled and draining ones, `drain` the online ones.
 */
export const WorkerAction = z.enum(['disable', 'enable', 'drain']);
export type WorkerAction = z.infer<typeof WorkerAction>;

/**
 * Whether an action changes a worker: disabling one not disabled; enabling one an operator held
 * (drained or disabled) or that drains; draining one that takes tasks, or would once heard again.
 */
export function workerActionApplies(
  action: WorkerAction,
  worker: { state: WorkerState; hold?: WorkerHold | null | undefined },
): boolean {
  switch (action) {
    case 'disable':
      return worker.state !== 'disabled';
    case 'enable':
      return worker.hold != null || worker.state === 'disabled' || worker.state === 'draining';
    case 'drain':
      return worker.hold == null && (worker.state === 'online' || worker.state === 'unresponsive');
  }
}

/** A filter that names no condition selects everything: allowed only with `all: true`. */
function emptyFilterNeedsAll(
  p: { filter: Record<string, unknown>; all?: boolean | undefined },
  ctx: z.RefinementCtx,
  what: string,
): void {
  const conditions = Object.keys(p.filter).filter(
    (key) => key !== 'group' && p.filter[key] !== undefined,
  );
  if (conditions.length === 0 && p.all !== true)
    ctx.addIssue({
      code: 'custom',
      path: ['filter'],
      message: `this filter selects ${what}: give a condition, or all: true to mean it`,
    });
}

export const WorkersApply = z
  .strictObject({
    action: WorkerAction,
    filter: WorkerFilter,
    /** Required when the filter has no condition: the call then acts on every worker. */
    all: z.boolean().optional(),
  })
  .superRefine((p, ctx) => emptyFilterNeedsAll(p, ctx, 'every worker'));
export type WorkersApply = z.input<typeof WorkersApply>;

export const WorkersApplied = z.object({
  /** The workers changed, as they are now, by name. */
  workers: z.array(WorkerRecord),
  /** How many the filter selected, those the action left alone included. */
  matched: z.int(),
});
export type WorkersApplied = z.infer<typeof WorkersApplied>;

/** Which jobs of one group: every condition given must hold. */
export const JobFilter = z.strictObject({
  group: GroupName,
  statuses: AnyOf(JobStatus, 16).optional(),
  ids: AnyOf(JobId).optional(),
  taskTypes: AnyOf(TaskTypeName).optional(),
  /** In the name or the task type, ignoring case, or the start of the id. */
  search: FilterText.optional(),
  createdBefore: z.iso.datetime({ offset: true }).optional(),
  /** Created at or after this time. */
  createdAfter: z.iso.datetime({ offset: true }).optional(),
});
export type JobFilter = z.infer<typeof JobFilter>;

/**
 * What `jobs.apply` does, as the single calls do it. Each selects only the jobs it would change:
 * `cancel` unfinished jobs not already cancelled, `retry` jobs with failed or cancelled tasks and
 * no cancel still stopping, `remove` finished jobs, `setPriority` jobs of another priority.
 */
export const JobAction = z.enum(['cancel', 'retry', 'remove', 'setPriority']);
export type JobAction = z.infer<typeof JobAction>;

export const JobsApply = z
  .strictObject({
    action: JobAction,
    filter: JobFilter,
    values: z
      .strictObject({
        /** For `setPriority`, and only for it. */
        priority: z.int().min(-1000).max(1000).optional(),
        /** For `cancel`, and only for it. */
        reason: Reason.optional(),
      })
      .optional(),
    /** Required when the filter names only the group: the call then acts on all its jobs. */
    all: z.boolean().optional(),
    /** The most jobs this call changes, oldest first. @defaultValue 1000 */
    limit: z.int().min(1).max(MAX_JOBS_PER_APPLY).optional(),
  })
  .superRefine((p, ctx) => {
    emptyFilterNeedsAll(p, ctx, `every job of group ${p.filter.group}`);
    if (p.action === 'setPriority' && p.values?.priority === undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['values', 'priority'],
        message: 'setPriority needs values.priority',
      });
    if (p.action !== 'setPriority' && p.values?.priority !== undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['values', 'priority'],
        message: `${p.action} takes no priority`,
      });
    if (p.action !== 'cancel' && p.values?.reason !== undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['values', 'reason'],
        message: `${p.action} takes no reason`,
      });
  });
export type JobsApply = z.input<typeof JobsApply>;

export const JobsApplied = z.object({
  /** The jobs changed, oldest first: as they are now, or, removed, as they were. */
  jobs: z.array(JobRecord),
  /** Jobs selected that changed meanwhile so that the action no longer applied, and why. */
  skipped: z.array(z.object({ id: JobId, code: z.string(), message: z.string() })),
  /** The filter selects more jobs than this call changed: call again for the next ones. */
  more: z.boolean(),
});
export type JobsApplied = z.infer<typeof JobsApplied>;
