import { DroverError } from '@drover/protocol';
import { ParamsCheck } from './params-check.js';
import type {
  JobRecord,
  MethodName,
  MethodResult,
  PruneReport,
  PruneRequest,
  WorkerRecord,
  WorkerHold,
  methods,
} from '@drover/protocol';
import type { Engine, TaskToStop } from '@drover/engine';
import type { z } from 'zod';
import { checkSite, refuseSiteEdit, siteTaskCancel } from './sites/site-handlers.js';

/** The methods about jobs, tasks, workers and events; signing in and tokens are apart. */
export type EngineMethod = Exclude<
  MethodName,
  | `auth.${string}`
  | `tokens.${string}`
  | `sites.${string}`
  | `schedules.${string}`
  | `webhooks.${string}`
>;

/** The implementation of every engine method, given its validated params. */
export type Handlers = {
  [M in EngineMethod]: (
    params: z.output<(typeof methods)[M]['params']>,
  ) => Promise<MethodResult<M>>;
};

/** What the server does with tasks a cancel found running: tell their workers to stop them. */
export type StopTasks = (tasks: TaskToStop[], reason: string) => void;

/** How the handlers tell connected workers what an operator changed. */
export interface HandlerHooks {
  stopTasks: StopTasks;
  workerChanged: (worker: WorkerRecord) => void;
  /** Tasks became claimable through this server: its dispatcher need not wait for NOTIFY. */
  tasksQueued: () => void;
  onError: (error: unknown, where: string) => void;
  /** A site job was submitted, cancelled or retried: the site links look for work now. */
  sitesChanged?: () => void;
  /** A job was submitted (not found under its idempotency key): counted in the metrics. */
  submitted?: (job: JobRecord) => void;
  /** `retention.prune`: a retention pass now (see `Retention`). */
  prune: (request: PruneRequest) => Promise<PruneReport>;
}

async function alreadySubmitted(engine: Engine, submission: unknown): Promise<boolean> {
  const { group, idempotencyKey } = (submission ?? {}) as {
    group?: unknown;
    idempotencyKey?: unknown;
  };
  if (typeof group !== 'string' || typeof idempotencyKey !== 'string') return false;
  return (await engine.findJobByIdempotencyKey(group, idempotencyKey)) !== undefined;
}

const DEFAULT_REASON = 'Cancelled by a user.';
const HOUR_MS = 3_600_000;
/** The buckets of `farm.history` unless told: the servers' sampling interval by default. */
const DEFAULT_HISTORY_STEP_MS = 10_000;

function socketOnly(method: string): DroverError {
  return new DroverError(
    'DROVER_E_INVALID_REQUEST',
    `${method} streams notifications, so it is served only over the WebSocket at /ws.`,
  );
}

export function engineHandlers(engine: Engine, hooks: HandlerHooks): Handlers {
  const params = new ParamsCheck(engine, hooks.onError);
  const hold = async (id: string, order: WorkerHold | null) => {
    const worker = await engine.holdWorker(id, order);
    hooks.workerChanged(worker);
    return worker;
  };
  return {
    'jobs.submit': async ({ allowUnknownType, ...submission }) => {
      // The stored size first: checking params against a schema costs per task.
      engine.checkSubmissionSize(submission);
      // A site job's task types are the site's: the site checks its params when it gets it.
      if (submission.site !== undefined) {
        await checkSite(engine, submission.site);
        const result = await engine.submit(submission);
        if (result.created) {
          hooks.submitted?.(result.job);
          hooks.sitesChanged?.();
        }
        return result;
      }
      try {
        await params.check(submission, { allowUnknownType: allowUnknownType ?? false });
      } catch (error) {
        // A resubmission under a key already used goes to the engine, which answers with the
        // first job (or a conflict), whatever the task type's schema says today.
        if (!(await alreadySubmitted(engine, submission))) throw error;
      }
      const result = await engine.submit(submission);
      if (result.created) {
        hooks.submitted?.(result.job);
        hooks.tasksQueued();
      }
      return result;
    },
    'jobs.get': ({ id }) => engine.getJob(id),
    'jobs.list': async (query) => ({
      jobs: await engine.listJobs({
        group: query.group,
        ...(query.statuses && { statuses: query.statuses }),
        ...(query.before && { before: query.before }),
        ...(query.beforeId && { beforeId: query.beforeId }),
        ...(query.limit && { limit: query.limit }),
      }),
    }),
    'jobs.cancel': async ({ id, reason }) => {
      // A site job's cancel goes to its site, unless the job never left; it comes back mirrored.
      if ((await engine.sites.siteOf(id)) !== undefined) {
        const action = await engine.sites.requestCancel(id, reason ?? DEFAULT_REASON);
        hooks.sitesChanged?.();
        if (action === 'forward') return { job: await engine.getJob(id) };
      }
      const result = await engine.cancelJob(id, reason ?? DEFAULT_REASON);
      hooks.stopTasks(result.toStop, reason ?? DEFAULT_REASON);
      return { job: result.job };
    },
    'jobs.retry': async ({ id }) => {
      // Likewise a site job's retry: the site puts back the tasks that ended failed or cancelled.
      if ((await engine.sites.siteOf(id)) !== undefined) {
        const action = await engine.sites.requestRetry(id);
        hooks.sitesChanged?.();
        if (action === 'forward')
          return { job: await engine.getJob(id), retried: await engine.sites.retriable(id) };
      }
      const result = await engine.retryJob(id);
      hooks.tasksQueued();
      return result;
    },
    'jobs.setPriority': async ({ id, priority }) => ({
      job: await engine.setJobPriority(id, priority),
    }),
    // Jobs and groups edited while they run.
    'jobs.pause': async ({ id }) => {
      await refuseSiteEdit(engine, id, 'paused');
      return { job: await engine.pauseJob(id) };
    },
    'jobs.resume': async ({ id }) => {
      await refuseSiteEdit(engine, id, 'resumed');
      const job = await engine.resumeJob(id);
      hooks.tasksQueued();
      return { job };
    },
    'jobs.extend': async (extension) => {
      await refuseSiteEdit(engine, extension.id, 'extended');
      // The new tasks' params, checked as a submission's against the task type's schema.
      const job = await engine.getJob(extension.id);
      await params.check(
        { taskType: job.taskType, params: job.params, ...extension },
        { allowUnknownType: true },
      );
      const result = await engine.extendJob(extension);
      hooks.tasksQueued();
      return result;
    },
    'jobs.update': async (change) => {
      await refuseSiteEdit(engine, change.id, 'updated');
      return engine.updateJob(change);
    },
    'groups.get': ({ name }) => engine.getGroup(name),
    'groups.pause': ({ name }) => engine.pauseGroup(name),
    'groups.resume': async ({ name }) => {
      const result = await engine.resumeGroup(name);
      hooks.tasksQueued();
      return result;
    },
    'groups.setRetention': ({ name, retention }) => engine.setGroupRetention(name, retention),
    'retention.prune': (request) => hooks.prune(request),
    'taskTypes.list': async () => ({ taskTypes: await engine.listTaskTypes() }),
    // A limit raised or lifted may let tasks start: this server's dispatcher looks at once.
    'groups.setLimits': async (change) => {
      const limits = await engine.setGroupLimits(change);
      hooks.tasksQueued();
      return { limits };
    },
    'taskTypes.setLimits': async (change) => {
      const limits = await engine.setTaskTypeLimits(change);
      hooks.tasksQueued();
      return { limits };
    },
    'jobs.blocklist': async ({ id }) => ({ workers: await engine.jobBlocklist(id) }),
    'jobs.unblock': async ({ id, workerId }) => {
      const unblocked = await engine.unblockWorkers(id, workerId);
      hooks.tasksQueued();
      return { unblocked };
    },
    'tasks.why': ({ id }) => engine.whyTask(id),
    'groups.list': async () => ({ groups: await engine.listGroups() }),
    'tasks.get': ({ id }) => engine.getTask(id),
    'tasks.list': async ({ jobId, fromIndex, limit }) => ({
      tasks: await engine.listTasks(jobId, {
        ...(fromIndex !== undefined && { fromIndex }),
        ...(limit !== undefined && { limit }),
      }),
    }),
    'tasks.attempts': async ({ id }) => ({ attempts: await engine.listAttempts(id) }),
    'tasks.cancel': async ({ id, reason }) => {
      const site = await engine.sites.siteOf((await engine.getTask(id)).jobId);
      if (site !== undefined) throw siteTaskCancel(site);
      const result = await engine.cancelTask(id, reason ?? DEFAULT_REASON);
      hooks.stopTasks(result.toStop, reason ?? DEFAULT_REASON);
      return { job: result.job };
    },
    'workers.list': async () => ({ workers: await engine.listWorkers() }),
    // The farm's overview (decision 0037).
    'farm.overview': () => engine.farmOverview(),
    'farm.history': ({ since, step }) =>
      engine.farmHistory({
        since: since !== undefined ? new Date(since) : new Date(Date.now() - HOUR_MS),
        stepMs: step ?? DEFAULT_HISTORY_STEP_MS,
      }),
    'jobs.timeline': ({ id, limit }) => engine.jobTimeline(id, limit),
    'workers.disable': ({ id }) => hold(id, 'disabled'),
    'workers.enable': ({ id }) => hold(id, null),
    'workers.drain': ({ id }) => hold(id, 'draining'),
    'artifacts.list': async ({ jobId, taskId, after, limit }) => ({
      artifacts: await engine.listArtifacts({
        ...(jobId !== undefined ? { jobId } : { taskId: taskId ?? '' }),
        after,
        limit,
      }),
    }),
    'artifacts.get': ({ id }) => engine.getArtifact(id),
    'events.read': ({ topic, after, limit }) =>
      engine.readEvents({ topic, after, ...(limit !== undefined && { limit }) }),
    'events.head': async ({ topic }) => ({ cursor: await engine.headCursor(topic) }),
    // A subscription streams over a WebSocket; the socket's own handlers replace these.
    'events.subscribe': () => Promise.reject(socketOnly('events.subscribe')),
    'events.unsubscribe': () => Promise.reject(socketOnly('events.unsubscribe')),
    // Removing finished jobs; one call for every job or worker a filter selects. Each change
    // reaches workers and the dispatcher as the single calls' do.
    'jobs.remove': async ({ id }) => ({ job: await engine.removeJob(id) }),
    'jobs.apply': async (request) => {
      const { toStop, queued, ...result } = await engine.applyToJobs(request);
      hooks.stopTasks(toStop, request.values?.reason ?? DEFAULT_REASON);
      if (queued) hooks.tasksQueued();
      return result;
    },
    'workers.apply': async (request) => {
      const result = await engine.applyToWorkers(request);
      for (const worker of result.workers) hooks.workerChanged(worker);
      return result;
    },
  };
}
