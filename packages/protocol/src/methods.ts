import { z } from 'zod';
import { ArtifactId, ArtifactRecord } from './artifacts.js';
import { Cursor, GroupName, JobId, TaskId, WorkerId } from './ids.js';
import {
  AttemptRecord,
  GroupRecord,
  JobRecord,
  TaskRecord,
  TaskTypeRecord,
  WorkerRecord,
} from './records.js';
import { EventRecord } from './events.js';
import { JobStatus } from './statuses.js';
import { JobExtension, JobSubmission, JobUpdate } from './submission.js';
import { Topic } from './topics.js';
import { Principal, TokenGrant, TokenId, TokenRecord, TokenSecret } from './auth.js';
import { JobsApplied, JobsApply, WorkersApplied, WorkersApply } from './bulk.js';
import { SiteAdd, SiteName, SiteRecord } from './sites.js';
import { ScheduleAdd, ScheduleName, ScheduleRecord, ScheduleUpdate } from './schedules.js';
import { GroupLimits, GroupLimitsChange, TaskTypeLimits, TaskWhy, WorkerBlock } from './limits.js';
import { FarmHistory, FarmOverview, JobTimeline } from './farm.js';
import { Time } from './records.js';
import {
  WebhookAdd,
  WebhookDelivery,
  WebhookId,
  WebhookRecord,
  WebhookUpdate,
} from './webhooks.js';
import { GroupRetention, PruneReport, PruneRequest } from './retention.js';

const Reason = z.string().min(1).max(500);

/** A subscription's name, chosen by its client: unique on its connection. */
export const SubscriptionId = z
  .string()
  .regex(
    /^[A-Za-z0-9._:-]{1,64}$/,
    'a subscription id is 1-64 letters, digits, ".", "_", ":" or "-"',
  );

/**
 * Every JSON-RPC method a client may call, by name (`noun.verb`), with its params and result.
 * The server validates params against these schemas; the client SDK, the CLI and the dashboard's
 * forms derive from them.
 */
export const methods = {
  'jobs.submit': {
    params: JobSubmission.and(
      z.object({
        /**
         * Queue the job even when no worker has ever offered its task type (or a stage's): its
         * tasks wait for one to join. Without it such a submission is refused, naming the
         * nearest known type. @defaultValue false
         */
        allowUnknownType: z.boolean().optional(),
      }),
    ),
    result: z.object({ job: JobRecord, created: z.boolean() }),
  },
  'jobs.get': {
    params: z.object({ id: JobId }),
    result: JobRecord,
  },
  'jobs.list': {
    params: z.object({
      group: z.string().min(1),
      statuses: z.array(JobStatus).optional(),
      /** Only jobs created before this time: the last job's `createdAt`, for the next page. */
      before: z.iso.datetime({ offset: true }).optional(),
      /** With `before`, the last job's id: jobs created at the same moment are not skipped. */
      beforeId: JobId.optional(),
      limit: z.int().min(1).max(1000).optional(),
    }),
    result: z.object({ jobs: z.array(JobRecord) }),
  },
  'jobs.cancel': {
    params: z.object({ id: JobId, reason: Reason.optional() }),
    result: z.object({ job: JobRecord }),
  },
  'jobs.retry': {
    /** Puts the job's failed and cancelled tasks back, each with its submitted attempts again. */
    params: z.object({ id: JobId }),
    result: z.object({ job: JobRecord, retried: z.array(TaskId) }),
  },
  'jobs.setPriority': {
    /** Higher runs first. Applies to the job's tasks still waiting; running ones are not moved. */
    params: z.object({ id: JobId, priority: z.int().min(-1000).max(1000) }),
    result: z.object({ job: JobRecord }),
  },
  // Jobs and groups edited while they run.
  'jobs.pause': {
    /** The job starts no more tasks; those workers hold run to their end. */
    params: z.object({ id: JobId }),
    result: z.object({ job: JobRecord }),
  },
  'jobs.resume': {
    /** The job's waiting tasks may start again at once, even while its group stays paused. */
    params: z.object({ id: JobId }),
    result: z.object({ job: JobRecord }),
  },
  'jobs.extend': {
    /**
     * More items, or more frames, for the job's first stage, as the submission gave them: the new
     * tasks take the next indexes and are queued, and a finished job runs again.
     */
    params: JobExtension,
    result: z.object({ job: JobRecord, added: z.int() }),
  },
  'jobs.update': {
    /**
     * Changes the job's waiting (queued and blocked) tasks: attempts, timeout, priority; the
     * priority is the job's too. Tasks workers hold keep what they started with.
     */
    params: JobUpdate,
    result: z.object({ job: JobRecord, updated: z.int() }),
  },
  'groups.get': {
    params: z.object({ name: GroupName }),
    result: GroupRecord,
  },
  'groups.pause': {
    /**
     * Pauses every job of the group, and those submitted into it until it is resumed; tasks
     * workers hold run to their end. `changed` counts the jobs this paused.
     */
    params: z.object({ name: GroupName }),
    result: z.object({ group: GroupRecord, changed: z.int() }),
  },
  'groups.resume': {
    /** Lifts the group's pause; jobs paused on their own (`jobs.pause`) stay paused. */
    params: z.object({ name: GroupName }),
    result: z.object({ group: GroupRecord, changed: z.int() }),
  },
  'groups.setRetention': {
    /**
     * Admin. How long the group keeps its finished jobs, for every replica: its own age (ms),
     * `off` (forever) or `default` (the farm's). Its jobs go at the next retention pass.
     */
    params: z.object({ name: GroupName, retention: GroupRetention }),
    result: GroupRecord,
  },
  'taskTypes.list': {
    params: z.object({}),
    result: z.object({ taskTypes: z.array(TaskTypeRecord) }),
  },
  // Fair sharing, limits and the per-job worker blocklist.
  'groups.setLimits': {
    /**
     * A group's concurrency limit (tasks leased or running at once, across the farm), its rate
     * (task starts a minute) and its weight (its share of the slots against other groups waiting
     * at once). Only the keys given change; null lifts a limit.
     */
    params: GroupLimitsChange,
    result: z.object({ limits: GroupLimits }),
  },
  'taskTypes.setLimits': {
    /** At most `maxRunning` tasks of the type leased or running at once; null lifts the limit. */
    params: TaskTypeLimits,
    result: z.object({ limits: TaskTypeLimits }),
  },
  'jobs.blocklist': {
    /** The workers that failed the job's tasks, and those blocked for it. */
    params: z.object({ id: JobId }),
    result: z.object({ workers: z.array(WorkerBlock) }),
  },
  'jobs.unblock': {
    /** The worker (or every worker) may be offered the job's tasks again; its failures are forgotten. */
    params: z.object({ id: JobId, workerId: WorkerId.optional() }),
    result: z.object({ unblocked: z.int() }),
  },
  'tasks.why': {
    /** Why a task is not running: the reasons from the farm's state now, most specific first. */
    params: z.object({ id: TaskId }),
    result: TaskWhy,
  },
  'groups.list': {
    params: z.object({}),
    result: z.object({ groups: z.array(GroupRecord) }),
  },
  'tasks.get': {
    params: z.object({ id: TaskId }),
    result: TaskRecord,
  },
  'tasks.list': {
    params: z.object({
      jobId: JobId,
      fromIndex: z.int().min(0).optional(),
      limit: z.int().min(1).max(10_000).optional(),
    }),
    result: z.object({ tasks: z.array(TaskRecord) }),
  },
  'tasks.attempts': {
    params: z.object({ id: TaskId }),
    result: z.object({ attempts: z.array(AttemptRecord) }),
  },
  'tasks.cancel': {
    params: z.object({ id: TaskId, reason: Reason.optional() }),
    result: z.object({ job: JobRecord }),
  },
  'workers.list': {
    params: z.object({}),
    result: z.object({ workers: z.array(WorkerRecord) }),
  },
  'workers.disable': {
    params: z.object({ id: WorkerId }),
    result: WorkerRecord,
  },
  'workers.enable': {
    params: z.object({ id: WorkerId }),
    result: WorkerRecord,
  },
  'workers.drain': {
    params: z.object({ id: WorkerId }),
    result: WorkerRecord,
  },
  'artifacts.list': {
    params: z
      .object({
        /** The artifacts of every task of a job... */
        jobId: JobId.optional(),
        /** ...or of one task, every attempt. Give exactly one of the two. */
        taskId: TaskId.optional(),
        /** Only artifacts stored after this one: the last artifact's id, for the next page. */
        after: ArtifactId.optional(),
        limit: z.int().min(1).max(10_000).optional(),
      })
      .refine((p) => (p.jobId === undefined) !== (p.taskId === undefined), {
        message: 'give either jobId or taskId',
      }),
    result: z.object({ artifacts: z.array(ArtifactRecord) }),
  },
  'artifacts.get': {
    params: z.object({ id: ArtifactId }),
    result: ArtifactRecord,
  },
  'events.read': {
    params: z.object({
      topic: Topic,
      after: Cursor.default(''),
      limit: z.int().min(1).max(10_000).optional(),
    }),
    result: z.object({ events: z.array(EventRecord), cursor: Cursor }),
  },
  'events.head': {
    /** The cursor after the last event of a topic visible now: subscribe from it for what is new. */
    params: z.object({ topic: Topic }),
    result: z.object({ cursor: Cursor }),
  },
  'events.subscribe': {
    /**
     * WebSocket only. Streams a topic's events as `events.batch` notifications: first those after
     * `cursor` (the empty cursor replays every event still kept), then each new one as it happens,
     * progress coalesced. The client names the subscription, unique on its connection.
     */
    params: z.object({ subscription: SubscriptionId, topic: Topic, cursor: Cursor.default('') }),
    result: z.object({ subscription: SubscriptionId }),
  },
  'events.unsubscribe': {
    params: z.object({ subscription: SubscriptionId }),
    result: z.object({ subscription: SubscriptionId }),
  },
  'auth.login': {
    /**
     * WebSocket only: signs the connection in with a token; until then it is answered nothing
     * else. Over HTTP, send `Authorization: Bearer <token>` with each request instead.
     */
    params: z.object({ token: TokenSecret }),
    result: Principal,
  },
  'auth.whoami': {
    params: z.object({}),
    result: Principal,
  },
  'auth.loginLink': {
    /**
     * A one-time sign-in link for the caller's own token: the path of `GET /login?code=...`,
     * valid once, until `expiresAt`. Opening it in a browser signs the dashboard in.
     */
    params: z.object({}),
    result: z.object({ path: z.string(), expiresAt: z.string() }),
  },
  'tokens.create': {
    /** Admin. The token itself is in the answer and nowhere else: only its hash is kept. */
    params: TokenGrant,
    result: z.object({ token: TokenRecord, secret: z.string() }),
  },
  'tokens.list': {
    /** Admin. Every token, revoked ones included, newest first; never the secrets. */
    params: z.object({}),
    result: z.object({ tokens: z.array(TokenRecord) }),
  },
  'tokens.revoke': {
    /** Admin. The token stops working at once, and its connections and sessions end. */
    params: z.object({ id: TokenId }),
    result: TokenRecord,
  },
  // Removing a finished job, and one call for every worker or job a filter selects.
  'jobs.remove': {
    /**
     * Removes a finished job (succeeded, failed or cancelled) with its tasks, attempts, logs,
     * events and artifact records; `job.removed` tells its group's topic and its own. An
     * unfinished job is refused: cancel it first. Answers with the job as it was.
     */
    params: z.object({ id: JobId }),
    result: z.object({ job: JobRecord }),
  },
  'jobs.apply': {
    /**
     * Cancels, retries, removes or re-prioritises every job of a group the filter selects, as the
     * single calls do, up to `limit` jobs (oldest first); `more` says to call again.
     */
    params: JobsApply,
    result: JobsApplied,
  },
  'workers.apply': {
    /** Disables, enables or drains every worker the filter selects, in one statement. */
    params: WorkersApply,
    result: WorkersApplied,
  },
  'retention.prune': {
    /**
     * Admin. Deletes now the finished jobs older than `olderThanMs` (of one group, or every
     * group's) with their tasks, attempts, events, logs and artifact records, and the artifacts'
     * bytes no job references any more; `dryRun` counts and deletes nothing. Answers with what
     * went.
     */
    params: PruneRequest,
    result: PruneReport,
  },
  // Sites: other farms this one forwards jobs to (`site` on a submission).
  'sites.add': {
    /** Admin. The site's token is kept to reach it and never returned by any method. */
    params: SiteAdd,
    result: SiteRecord,
  },
  'sites.list': {
    /** Admin. */
    params: z.object({}),
    result: z.object({ sites: z.array(SiteRecord) }),
  },
  'sites.remove': {
    /** Admin. Refused while the site has unfinished jobs: cancel them, or wait. */
    params: z.object({ name: SiteName }),
    result: SiteRecord,
  },
  // Schedules: a job submitted again at each tick of a cron expression.
  'schedules.add': {
    /**
     * Write access to the job's group. The job is checked as `jobs.submit` checks it, now, so a
     * schedule that could not submit is refused at once; the expression and time zone too.
     */
    params: ScheduleAdd,
    result: ScheduleRecord,
  },
  'schedules.list': {
    /** The schedules of the groups the caller may read, by name. */
    params: z.object({}),
    result: z.object({ schedules: z.array(ScheduleRecord) }),
  },
  'schedules.get': {
    params: z.object({ name: ScheduleName }),
    result: ScheduleRecord,
  },
  'schedules.pause': {
    /** No tick submits until it is resumed. */
    params: z.object({ name: ScheduleName }),
    result: ScheduleRecord,
  },
  'schedules.resume': {
    /** It goes on from the next tick to come; those that passed while paused are not run. */
    params: z.object({ name: ScheduleName }),
    result: ScheduleRecord,
  },
  'schedules.remove': {
    /** Its jobs stay. Answers with the schedule as it was. */
    params: z.object({ name: ScheduleName }),
    result: ScheduleRecord,
  },
  'schedules.runNow': {
    /**
     * Submits the schedule's job now, paused or not, whatever its overlap policy; its ticks go on
     * as before.
     */
    params: z.object({ name: ScheduleName }),
    result: z.object({ schedule: ScheduleRecord, job: JobRecord }),
  },
  'schedules.update': {
    /** Changes what is given; a new expression or time zone moves the next tick. */
    params: ScheduleUpdate,
    result: ScheduleRecord,
  },
  // The farm's overview: its figures now, its history, and a job's attempts across workers.
  'farm.overview': {
    /**
     * The farm now: the queue, what runs, the workers by state, the tasks finished in the last
     * minute and failed in the last hour, and each connected worker with the tasks it runs.
     */
    params: z.object({}),
    result: FarmOverview,
  },
  'farm.history': {
    /**
     * The samples the servers recorded every few seconds (decision 0037), after `since`, in
     * buckets of `step` ms, widened so that at most 1,440 come back.
     */
    params: z.object({
      /** @defaultValue an hour ago */
      since: Time.optional(),
      /** @defaultValue 10,000 */
      step: z.int().min(100).max(86_400_000).optional(),
    }),
    result: FarmHistory,
  },
  'jobs.timeline': {
    /** The job's attempts, the latest `limit` by start, with their workers' names. */
    params: z.object({
      id: JobId,
      /** @defaultValue 2,000 */
      limit: z.int().min(1).max(10_000).optional(),
    }),
    result: JobTimeline,
  },
  // Webhooks: HTTP POSTs to a receiver when a job ends or a worker is lost (decision 0038).
  'webhooks.add': {
    /** Admin. The secret is in the answer and nowhere else afterwards: keep it for the receiver. */
    params: WebhookAdd,
    result: z.object({ webhook: WebhookRecord, secret: z.string() }),
  },
  'webhooks.list': {
    /** Admin. Every webhook with its newest delivery's outcome; never the secrets. */
    params: z.object({}),
    result: z.object({ webhooks: z.array(WebhookRecord) }),
  },
  'webhooks.update': {
    /** Admin. Changes the URL, the events or whether it is enabled; the secret stays. */
    params: WebhookUpdate,
    result: WebhookRecord,
  },
  'webhooks.remove': {
    /** Admin. Its deliveries still pending are never sent. */
    params: z.object({ id: WebhookId }),
    result: WebhookRecord,
  },
  'webhooks.test': {
    /** Admin. Queues a `ping` to the webhook (enabled or not) and answers once it was tried. */
    params: z.object({ id: WebhookId }),
    result: WebhookDelivery,
  },
  'webhooks.deliveries': {
    /** Admin. The webhook's deliveries, newest first (kept 7 days after they end). */
    params: z.object({ id: WebhookId, limit: z.int().min(1).max(1000).optional() }),
    result: z.object({ deliveries: z.array(WebhookDelivery) }),
  },
} as const satisfies Record<string, { params: z.ZodType; result: z.ZodType }>;

/**
 * What the server sends a client on its WebSocket without being asked: JSON-RPC notifications.
 */
export const clientNotifications = {
  /**
   * Events of one subscription, in order. Progress is coalesced: of several updates of the same
   * job, task or worker close together, only the newest is sent. Resume from `cursor`.
   */
  'events.batch': z.object({
    subscription: SubscriptionId,
    events: z.array(EventRecord),
    cursor: Cursor,
  }),
} as const;
export type EventBatch = z.infer<(typeof clientNotifications)['events.batch']>;

export type MethodName = keyof typeof methods;
export type MethodParams<M extends MethodName> = z.input<(typeof methods)[M]['params']>;
export type MethodResult<M extends MethodName> = z.output<(typeof methods)[M]['result']>;

export function isMethodName(name: string): name is MethodName {
  return Object.hasOwn(methods, name);
}
