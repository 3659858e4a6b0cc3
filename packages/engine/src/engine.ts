import {
  DroverError,
  GroupLimitsChange,
  GroupName,
  TaskId,
  TaskTypeLimits,
  JobId,
  WorkerId,
  parseOrThrow,
} from '@drover/protocol';
import type { GroupLimits, TaskWhy, WorkerBlock } from '@drover/protocol';
import { z } from 'zod';
import type {
  ArtifactRecord,
  Assignment,
  GroupRecord,
  GroupRetention,
  PruneReport,
  TaskTypeRecord,
  AttemptRecord,
  HostStats,
  JobRecord,
  JobStatus,
  TaskRecord,
  WorkerRecord,
  WorkerHold,
} from '@drover/protocol';
import type { Database } from './database.js';
import type { LockFile } from './lock-file.js';
import type { Statements } from './statements.js';
import type { MigrationReport } from './migrate.js';
import { checkSubmissionSize, submitJob } from './submit.js';
import type { SubmitResult } from './submit.js';
import {
  claimForWorker,
  claimTasks,
  loseWorkerAttempts,
  reapAttempts,
  renewLeases,
} from './leases.js';
import type {
  BatchClaimRequest,
  ClaimRequest,
  Lease,
  ReapedAttempt,
  RenewResult,
} from './leases.js';
import {
  appendLogs,
  completeAttempts,
  failAttempts,
  releaseAttempts,
  reportProgress,
} from './reports.js';
import type {
  FailureReport,
  LogBatch,
  ProgressReport,
  ReleaseReport,
  ReportOutcome,
  ResultReport,
} from './reports.js';
import { cancelJob, cancelTask } from './cancel.js';
import type { CancelResult } from './cancel.js';
import { retryJob } from './retry.js';
import { updateJob } from './update.js';
import type { UpdateResult } from './update.js';
import { getGroup, pauseGroup, pauseJob } from './pause.js';
import { extendJob } from './extend.js';
import type { ExtendResult } from './extend.js';
import type { RetryResult } from './retry.js';
import { headCursor, readEvents } from './events.js';
import type { EventPage, ReadEventsRequest } from './events.js';
import {
  registerWorkers,
  setWorkerHold,
  setWorkerState,
  touchWorkers,
  workerGone,
} from './workers.js';
import type { Registered, WorkerRegistration } from './workers.js';
import { heartbeatServer, registerServer, sweepServers, unregisterServer } from './servers.js';
import type { ServerRegistration, SweepResult } from './servers.js';
import {
  applyRetention,
  previewRetention,
  RetentionHold,
  runRetentionPass,
  setGroupRetention,
} from './retention.js';
import { runMaintenance } from './maintenance.js';
import type { RetentionPass, RetentionPolicy, RetentionRules } from './retention.js';
import {
  authorizeArtifact,
  getArtifact,
  listArtifacts,
  recordArtifact,
  unreferencedBlobs,
} from './artifacts.js';
import type { ArtifactQuery, ArtifactReport, ArtifactScope } from './artifacts.js';
import { Accounts } from './accounts.js';
import { applyToJobs, applyToWorkers, notFinished } from './apply.js';
import type { JobsAppliedWithStops } from './apply.js';
import type { JobsApply, WorkersApply, WorkersApplied } from '@drover/protocol';
import {
  blobHolders,
  forgetBlobLocations,
  recordBlobLocations,
  replicaSecret,
} from './blob-locations.js';
import type { BlobHolder } from './blob-locations.js';
import { Sites } from './sites.js';
import { farmGauges } from './metrics.js';
import type { FarmGauges } from './metrics.js';
import type { DatabaseLoad } from './database.js';
import { Schedules } from './schedules.js';
import { listJobBlocks, setGroupLimits, setTaskTypeLimits, unblockWorkers } from './limits.js';
import { whyTask } from './why.js';
import { farmHistory, farmOverview, jobTimeline, recordSample } from './farm.js';
import type { FarmHistory, FarmOverview, FarmSample, JobTimeline } from '@drover/protocol';
import { Webhooks } from './webhooks.js';

const JobPriority = z.int().min(-1000).max(1000);

/**
 * The task engine: the only code that speaks SQL. Everything a farm does to its jobs, tasks,
 * attempts, workers and events goes through one of these methods.
 *
 * @example
 * const engine = await openEngine({ dataDir: './data' });
 * const { job } = await engine.submit({ group: 'alice', taskType: 'hello', params: {} });
 */
export class Engine {
  readonly #db: Database;
  readonly #sql: Statements;
  readonly #lock: LockFile | undefined;
  #maintenance: NodeJS.Timeout | undefined;
  #maintaining: Promise<void> | undefined;
  /** What opening applied, when it migrated. */
  readonly migration: MigrationReport | undefined;
  /** The embedded data directory (absolute); undefined on a PostgreSQL server. */
  readonly dataDir: string | undefined;
  /** Tokens, browser sessions and sign-in links. */
  readonly accounts: Accounts;
  /** The farms this one forwards jobs to, and the state of each job forwarded. */
  readonly sites: Sites;
  /** Jobs submitted again at each tick of a cron expression. */
  readonly schedules: Schedules;
  /** Webhooks and their outbox of deliveries. */
  readonly webhooks: Webhooks;
  /** Which replica runs the farm's scheduled retention pass, and the passes' record. */
  readonly retentionHold: RetentionHold;

  constructor(
    db: Database,
    sql: Statements,
    lock: LockFile | undefined,
    migration: MigrationReport | undefined,
    maintenanceIntervalMs = 0,
    dataDir?: string,
  ) {
    this.#db = db;
    this.#sql = sql;
    this.#lock = lock;
    this.migration = migration;
    this.dataDir = dataDir;
    this.accounts = new Accounts(db);
    this.sites = new Sites(db, sql);
    this.schedules = new Schedules(db, sql);
    this.webhooks = new Webhooks(db, sql);
    this.retentionHold = new RetentionHold(db, sql);
    if (maintenanceIntervalMs > 0) {
      this.#maintenance = setInterval(() => {
        // A failed pass is tried again at the next interval; callers see their own statements
        // fail if the database is really gone.
        this.maintain().catch(() => undefined);
      }, maintenanceIntervalMs).unref();
    }
  }

  /** `embedded` (PGlite) or `external` (a PostgreSQL server). */
  get kind(): Database['kind'] {
    return this.#db.kind;
  }

  /** The database, for schema checks and migrations; everything else goes through methods. */
  get database(): Database {
    return this.#db;
  }

  /** The farm's identity: the same for every server on this database (schema), unique to it. */
  async farmId(): Promise<string> {
    const [row] = await this.#db.query<{ id: string }>('SELECT id::text AS id FROM farm');
    if (!row) throw new Error('the farm table has no row: the schema was not migrated');
    return row.id;
  }

  /** The channel on which the engine's notifications arrive (see `listen`). */
  get channel(): string {
    return `${this.#db.schema}_events`;
  }

  // Jobs and tasks.

  /** Validates and stores a job with all its tasks; acknowledged only after the commit. */
  submit(input: unknown): Promise<SubmitResult> {
    return submitJob(this.#db, this.#sql, input);
  }

  /** Refuses a malformed submission, or one whose tasks would store too many params. */
  checkSubmissionSize(input: unknown): void {
    checkSubmissionSize(input);
  }

  /** The job submitted in a group under an idempotency key, if there is one. */
  async findJobByIdempotencyKey(group: string, key: string): Promise<JobRecord | undefined> {
    const [row] = await this.#db.query<{ job: JobRecord }>(this.#sql.get('find-job-by-key'), [
      group,
      key,
    ]);
    return row?.job;
  }

  async getJob(jobId: string): Promise<JobRecord> {
    parseOrThrow(JobId, jobId, 'job id');
    const [row] = await this.#db.query<{ job: JobRecord }>(this.#sql.get('get-job'), [jobId]);
    if (!row) throw new DroverError('DROVER_E_NOT_FOUND', `There is no job ${jobId}.`);
    return row.job;
  }

  /** A group's jobs, newest first. */
  async listJobs(query: {
    group: string;
    statuses?: JobStatus[];
    /** Only jobs created before this time: pass the last job's `createdAt` for the next page. */
    before?: string;
    /** With `before`, the last job's id: jobs created at that same moment with a smaller id follow. */
    beforeId?: string;
    /** @defaultValue 100 */
    limit?: number;
  }): Promise<JobRecord[]> {
    if (query.beforeId !== undefined) parseOrThrow(JobId, query.beforeId, 'beforeId');
    const rows = await this.#db.query<{ job: JobRecord }>(this.#sql.get('list-jobs'), [
      query.group,
      query.statuses ?? null,
      query.before ?? null,
      clamp(query.limit ?? 100, 1, 1000),
      query.beforeId ?? null,
    ]);
    return rows.map((r) => r.job);
  }

  async getTask(taskId: string): Promise<TaskRecord> {
    parseOrThrow(TaskId, taskId, 'task id');
    const [row] = await this.#db.query<{ task: TaskRecord }>(this.#sql.get('get-task'), [taskId]);
    if (!row) throw new DroverError('DROVER_E_NOT_FOUND', `There is no task ${taskId}.`);
    return row.task;
  }

  /** A job's tasks in index order. */
  async listTasks(
    jobId: string,
    page: { fromIndex?: number; limit?: number } = {},
  ): Promise<TaskRecord[]> {
    parseOrThrow(JobId, jobId, 'job id');
    const rows = await this.#db.query<{ task: TaskRecord }>(this.#sql.get('list-tasks'), [
      jobId,
      clamp(page.fromIndex ?? 0, 0, 2 ** 31 - 1),
      clamp(page.limit ?? 1000, 1, 10_000),
    ]);
    return rows.map((r) => r.task);
  }

  async listAttempts(taskId: string): Promise<AttemptRecord[]> {
    parseOrThrow(TaskId, taskId, 'task id');
    const rows = await this.#db.query<{ attempt: AttemptRecord }>(this.#sql.get('list-attempts'), [
      taskId,
    ]);
    return rows.map((r) => r.attempt);
  }

  /** Cancels a job: queued tasks never start; held ones are returned for the server to stop. */
  async cancelJob(jobId: string, reason: string): Promise<CancelResult> {
    parseOrThrow(JobId, jobId, 'job id');
    await this.getJob(jobId);
    return cancelJob(this.#db, this.#sql, jobId, reason);
  }

  /** Puts a job's failed and cancelled tasks back in the queue, with their attempts renewed. */
  async retryJob(jobId: string): Promise<RetryResult> {
    parseOrThrow(JobId, jobId, 'job id');
    return retryJob(this.#db, this.#sql, jobId);
  }

  /** Changes a job's priority, and its waiting tasks' with it. */
  async setJobPriority(jobId: string, priority: number): Promise<JobRecord> {
    parseOrThrow(JobId, jobId, 'job id');
    parseOrThrow(JobPriority, priority, 'priority');
    return (await updateJob(this.#db, this.#sql, { id: jobId, priority })).job;
  }

  // Jobs and groups edited while they run.

  /**
   * Changes a job's waiting (queued and blocked) tasks: `maxAttempts`, `timeoutMs`, `priority`
   * (the job's too). Tasks workers hold keep what they started with.
   */
  updateJob(input: unknown): Promise<UpdateResult> {
    return updateJob(this.#db, this.#sql, input);
  }

  /** Pauses a job: it starts no more tasks; those workers hold run to their end. */
  async pauseJob(jobId: string): Promise<JobRecord> {
    parseOrThrow(JobId, jobId, 'job id');
    return pauseJob(this.#db, this.#sql, jobId, true);
  }

  /** Resumes a job, even one whose group stays paused: its waiting tasks may start at once. */
  async resumeJob(jobId: string): Promise<JobRecord> {
    parseOrThrow(JobId, jobId, 'job id');
    return pauseJob(this.#db, this.#sql, jobId, false);
  }

  /** Gives a job's first stage more items or frames (`JobExtension`); a finished job runs again. */
  extendJob(input: unknown): Promise<ExtendResult> {
    return extendJob(this.#db, this.#sql, input);
  }

  /** Pauses a group: its jobs, and those submitted into it until it is resumed. */
  async pauseGroup(group: string): Promise<{ group: GroupRecord; changed: number }> {
    parseOrThrow(GroupName, group, 'group');
    return pauseGroup(this.#db, this.#sql, group, true);
  }

  /** Lifts a group's pause; its jobs paused on their own stay paused. */
  async resumeGroup(group: string): Promise<{ group: GroupRecord; changed: number }> {
    parseOrThrow(GroupName, group, 'group');
    return pauseGroup(this.#db, this.#sql, group, false);
  }

  /** One group: its jobs counted by status, its tasks over them all, whether it is paused. */
  async getGroup(group: string): Promise<GroupRecord> {
    parseOrThrow(GroupName, group, 'group');
    return getGroup(this.#db, this.#sql, group);
  }

  /** Every task type a worker offers or has described, with its params schema. */
  async listTaskTypes(): Promise<TaskTypeRecord[]> {
    const rows = await this.#db.query<{ task_type: TaskTypeRecord }>(
      this.#sql.get('list-task-types'),
    );
    return rows.map((r) => r.task_type);
  }

  /** Every group that has jobs or is paused, with its jobs counted by status. */
  async listGroups(): Promise<GroupRecord[]> {
    const rows = await this.#db.query<{ group: GroupRecord }>(this.#sql.get('list-groups'), [null]);
    return rows.map((r) => r.group);
  }

  /** A group's concurrency limit, rate and weight (decision 0035); only the keys given change. */
  async setGroupLimits(change: unknown, by: string | null = null): Promise<GroupLimits> {
    return setGroupLimits(
      this.#db,
      this.#sql,
      parseOrThrow(GroupLimitsChange, change, 'params'),
      by,
    );
  }

  /** A task type's concurrency limit (decision 0035); null lifts it. */
  async setTaskTypeLimits(limits: unknown, by: string | null = null): Promise<TaskTypeLimits> {
    return setTaskTypeLimits(
      this.#db,
      this.#sql,
      parseOrThrow(TaskTypeLimits, limits, 'params'),
      by,
    );
  }

  /** The workers that failed a job's tasks, and those blocked for it (decision 0036). */
  async jobBlocklist(jobId: string): Promise<WorkerBlock[]> {
    parseOrThrow(JobId, jobId, 'id');
    return listJobBlocks(this.#db, this.#sql, jobId);
  }

  /** A worker (every worker, without one) may be offered the job's tasks again. */
  async unblockWorkers(jobId: string, workerId?: string): Promise<number> {
    parseOrThrow(JobId, jobId, 'id');
    if (workerId !== undefined) parseOrThrow(WorkerId, workerId, 'workerId');
    return unblockWorkers(this.#db, this.#sql, jobId, workerId);
  }

  /** Why a task is not running, from the farm's state now (decision 0036). */
  async whyTask(taskId: string): Promise<TaskWhy> {
    parseOrThrow(TaskId, taskId, 'id');
    return whyTask(this.#db, this.#sql, taskId);
  }

  /** Cancels one task (and the later stages that wait on it). */
  async cancelTask(taskId: string, reason: string): Promise<CancelResult> {
    const task = await this.getTask(taskId);
    return cancelTask(
      this.#db,
      this.#sql,
      { jobId: task.jobId, taskId, status: task.status },
      reason,
    );
  }

  // Removing finished jobs; actions on every job or worker a filter selects.

  /**
   * Removes a finished job with its stages, tasks, attempts, logs, events and artifact records
   * (their bytes go at the store's next sweep, once nothing else refers to them), and appends
   * `job.removed` to its group's topic and its own. An unfinished job is refused with
   * `DROVER_E_CONFLICT` and left as it is. Resolves to the job as it was.
   */
  async removeJob(jobId: string): Promise<JobRecord> {
    parseOrThrow(JobId, jobId, 'job id');
    const [removed] = await this.#db.query<{ job: JobRecord }>(this.#sql.get('remove-jobs'), [
      [jobId],
    ]);
    if (removed) return removed.job;
    const job = await this.getJob(jobId);
    throw notFinished(jobId, job.status);
  }

  /** Cancels, retries, removes or re-prioritises the jobs of a group a filter selects. */
  applyToJobs(request: JobsApply): Promise<JobsAppliedWithStops> {
    return applyToJobs(this.#db, this.#sql, request);
  }

  /** Disables, enables or drains every worker a filter selects, in one statement. */
  applyToWorkers(request: WorkersApply): Promise<WorkersApplied> {
    return applyToWorkers(this.#db, this.#sql, request);
  }

  // Workers and their attempts.

  async registerWorker(
    input: WorkerRegistration,
    serverId: string | null = null,
  ): Promise<Registered> {
    const [registered] = await registerWorkers(this.#db, this.#sql, [input], serverId);
    if (!registered) throw new Error('registerWorkers returned nothing');
    return registered;
  }

  /**
   * Registers many workers in one statement (hellos arriving together), each name at most once,
   * as connected to server `serverId`; each input's record comes back in its place. Check each
   * input first with `checkWorkerRegistration`, so one bad hello does not fail the others.
   */
  registerWorkers(
    inputs: readonly WorkerRegistration[],
    serverId: string | null = null,
  ): Promise<Registered[]> {
    return registerWorkers(this.#db, this.#sql, inputs, serverId);
  }

  async getWorker(workerId: string): Promise<WorkerRecord> {
    const [row] = await this.#db.query<{ worker: WorkerRecord }>(this.#sql.get('get-worker'), [
      workerId,
    ]);
    if (!row) throw new DroverError('DROVER_E_NOT_FOUND', `There is no worker ${workerId}.`);
    return row.worker;
  }

  async listWorkers(): Promise<WorkerRecord[]> {
    const rows = await this.#db.query<{ worker: WorkerRecord }>(this.#sql.get('list-workers'));
    return rows.map((r) => r.worker);
  }

  /**
   * An operator's order for a worker, kept across its reconnects and server restarts: drain it,
   * disable it, or (null) enable it again. Its state follows at once.
   */
  async holdWorker(workerId: string, hold: WorkerHold | null): Promise<WorkerRecord> {
    const [worker] = await setWorkerHold(this.#db, this.#sql, [workerId], hold);
    if (!worker) throw new DroverError('DROVER_E_NOT_FOUND', `There is no worker ${workerId}.`);
    return worker;
  }

  /**
   * What one connection (its `session`, from the registration) makes of its worker's state:
   * draining as it leaves, unresponsive while its heartbeats stop, online again. An operator's
   * hold wins. Undefined when a newer session holds the worker.
   */
  setWorkerState(
    workerId: string,
    state: 'online' | 'draining' | 'unresponsive',
    session: string,
  ): Promise<WorkerRecord | undefined> {
    return setWorkerState(this.#db, this.#sql, workerId, state, session);
  }

  /**
   * One connection of a worker closed: the worker is offline, unless a newer session holds it
   * (then undefined). Its attempts are for `loseWorkerAttempts`.
   */
  workerGone(workerId: string, session: string): Promise<WorkerRecord | undefined> {
    return workerGone(this.#db, this.#sql, workerId, session);
  }

  // Servers: the replicas of the farm, each heartbeating in the database.

  /** A server joins the farm, or comes back after its peers had taken it for dead. */
  registerServer(server: ServerRegistration): Promise<void> {
    return registerServer(this.#db, this.#sql, server);
  }

  /** False when the server's peers had taken it for dead and released its workers. */
  heartbeatServer(serverId: string): Promise<boolean> {
    return heartbeatServer(this.#db, this.#sql, serverId);
  }

  unregisterServer(serverId: string): Promise<void> {
    return unregisterServer(this.#db, this.#sql, serverId);
  }

  /**
   * Releases what the servers silent for more than `timeoutMs` held: their workers offline, their
   * workers' tasks back in the queue at their place.
   */
  sweepServers(selfId: string, timeoutMs: number): Promise<SweepResult> {
    return sweepServers(this.#db, this.#sql, selfId, timeoutMs);
  }

  /** Heartbeats: marks workers seen now, with their host stats. */
  touchWorkers(beats: readonly { workerId: string; stats?: HostStats }[]): Promise<void> {
    return touchWorkers(this.#db, this.#sql, beats);
  }

  /** Claims up to `limit` tasks for one online worker. */
  claim(request: ClaimRequest): Promise<Assignment[]> {
    return claimForWorker(this.#db, this.#sql, request);
  }

  /**
   * Claims, in one statement, tasks for the free slots of many workers, grouped by what they can
   * run (see `ClaimGroup`); a dispatcher hands each assignment to the worker `task.workerId`.
   */
  claimBatch(request: BatchClaimRequest): Promise<Assignment[]> {
    return claimTasks(this.#db, this.#sql, request);
  }

  renewLeases(leases: readonly Lease[], leaseMs?: number): Promise<RenewResult> {
    return renewLeases(this.#db, this.#sql, leases, leaseMs);
  }

  reportProgress(reports: readonly ProgressReport[]): Promise<ReportOutcome[]> {
    return reportProgress(this.#db, this.#sql, reports);
  }

  appendLogs(batches: readonly LogBatch[]): Promise<ReportOutcome[]> {
    return appendLogs(this.#db, this.#sql, batches);
  }

  complete(reports: readonly ResultReport[]): Promise<ReportOutcome[]> {
    return completeAttempts(this.#db, this.#sql, reports);
  }

  fail(reports: readonly FailureReport[]): Promise<ReportOutcome[]> {
    return failAttempts(this.#db, this.#sql, reports);
  }

  /**
   * Attempts a worker gives back as it shuts down in an orderly way (not started, or stopped
   * unfinished at its deadline): they do not count against the tasks' attempts.
   */
  release(reports: readonly ReleaseReport[]): Promise<ReportOutcome[]> {
    return releaseAttempts(this.#db, this.#sql, reports);
  }

  /** The lease reaper's pass. */
  reapExpired(limit?: number): Promise<ReapedAttempt[]> {
    return reapAttempts(this.#db, this.#sql, limit);
  }

  /**
   * A worker's connection closed: its attempts are lost now and their tasks retried. A server
   * names the attempts that connection held, so that those the worker holds through another
   * server are left alone.
   */
  loseWorkerAttempts(
    workerId: string,
    reason = 'The worker disconnected.',
    attemptIds?: readonly string[],
  ): Promise<{ attemptId: string; taskId: string }[]> {
    return loseWorkerAttempts(this.#db, this.#sql, workerId, reason, attemptIds);
  }

  // Artifacts: files tasks produced. The bytes live in the server's store, by sha256.

  /**
   * Checks an upload's credential (an attempt's lease) before its bytes are read. Refuses with
   * `DROVER_E_STALE_LEASE`, and records the refusal, unless the attempt is active.
   */
  authorizeArtifact(lease: Lease): Promise<ArtifactScope> {
    return authorizeArtifact(this.#db, this.#sql, lease);
  }

  /**
   * Records a file whose bytes are stored, for the attempt holding the lease (`DROVER_E_STALE_LEASE`
   * otherwise), and appends `artifact.added` to the job's topic. The same file sent again under
   * the same name returns the first record (`created: false`); other content under that name is
   * refused with `DROVER_E_ARTIFACT_EXISTS`.
   */
  recordArtifact(report: ArtifactReport): Promise<{ artifact: ArtifactRecord; created: boolean }> {
    return recordArtifact(this.#db, this.#sql, report);
  }

  getArtifact(id: string): Promise<ArtifactRecord> {
    return getArtifact(this.#db, this.#sql, id);
  }

  /** A job's or a task's artifacts, every attempt's, in upload order. */
  listArtifacts(query: ArtifactQuery): Promise<ArtifactRecord[]> {
    return listArtifacts(this.#db, this.#sql, query);
  }

  /**
   * Of these sha256s, those no artifact references any more. Artifacts go with their job (as
   * retention deletes it); the store's sweep asks this before deleting a blob.
   */
  unreferencedBlobs(sha256s: readonly string[]): Promise<string[]> {
    return unreferencedBlobs(this.#db, this.#sql, sha256s);
  }

  // Blob locations: which replica's store holds which artifact bytes, for the others to fetch.

  /** Replica `serverId` stores these blobs (a no-op while its peers take it for dead). */
  recordBlobLocations(serverId: string, sha256s: readonly string[]): Promise<void> {
    return recordBlobLocations(this.#db, this.#sql, serverId, sha256s);
  }

  /** A blob no artifact references was deleted: its locations recorded before then go. */
  forgetBlobLocations(sha256: string, storedBefore: Date): Promise<void> {
    return forgetBlobLocations(this.#db, this.#sql, sha256, storedBefore);
  }

  /** The replicas besides `exceptServerId` that hold a blob, the most recently heard first. */
  blobHolders(sha256: string, exceptServerId: string): Promise<BlobHolder[]> {
    return blobHolders(this.#db, this.#sql, sha256, exceptServerId);
  }

  /** The secret replicas show one another to fetch blobs: servers alone read the database. */
  replicaSecret(): Promise<string> {
    return replicaSecret(this.#db, this.#sql);
  }

  // The farm's overview (decision 0037).

  /**
   * Records the farm's sample of the `intervalMs` interval that ended last, unless a server of
   * the farm did already, and deletes samples older than `keepMs`; resolves to it if recorded here.
   */
  recordSample(intervalMs: number, keepMs: number): Promise<FarmSample | undefined> {
    return recordSample(this.#db, this.#sql, intervalMs, keepMs);
  }

  /** The samples after `since`, in buckets of at least `stepMs` ms (at most 1,440 buckets). */
  farmHistory(query: { since: Date; stepMs: number }): Promise<FarmHistory> {
    return farmHistory(this.#db, this.#sql, query);
  }

  /** The farm now: queue, running, workers by state, recent outcomes, each worker's tasks. */
  farmOverview(): Promise<FarmOverview> {
    return farmOverview(this.#db, this.#sql);
  }

  /** A job's attempts across workers, the latest `limit` (2,000 unless told) by start. */
  async jobTimeline(jobId: string, limit = 2000): Promise<JobTimeline> {
    await this.getJob(jobId);
    return jobTimeline(this.#db, this.#sql, jobId, clamp(limit, 1, 10_000));
  }

  // Events.

  readEvents(request: ReadEventsRequest): Promise<EventPage> {
    return readEvents(this.#db, this.#sql, request);
  }

  headCursor(topic: string): Promise<string> {
    return headCursor(this.#db, this.#sql, topic);
  }

  /**
   * Calls `onNotify` when events are appended (with the topics, one per line, or `*`) and with
   * `queue` when tasks become claimable. Resolves to a function that stops listening.
   */
  listen(onNotify: (payload: string) => void): Promise<() => Promise<void>> {
    return this.#db.listen(this.channel, onNotify);
  }

  /** The farm's tasks by status, its queue and its workers by state, for a metrics scrape. */
  farmGauges(): Promise<FarmGauges> {
    return farmGauges(this.#db, this.#sql);
  }

  /** How busy this process's connection to the database is now (no query). */
  databaseLoad(): DatabaseLoad {
    return this.#db.load();
  }

  /** Vacuums and analyzes the busy tables, so claims stay fast and plans fit the data. */
  maintain(): Promise<void> {
    this.#maintaining ??= runMaintenance(this.#db, this.#sql).finally(() => {
      this.#maintaining = undefined;
    });
    return this.#maintaining;
  }

  /**
   * After deleting much (a retention pass): vacuums as `maintain` does, so the next rows reuse the
   * space, then on PGlite checkpoints, so the write-ahead log of the deletions is recycled rather
   * than left to grow the data directory. On PostgreSQL autovacuum and checkpoints do this alone.
   */
  async reclaimSpace(): Promise<void> {
    if (this.#db.kind !== 'embedded') return;
    await this.maintain();
    await this.#db.exec('CHECKPOINT');
  }

  /**
   * Deletes finished jobs past the cut-off with their stages, tasks, attempts, events and
   * artifact records; returns how many jobs went. The artifacts' bytes are left to the server's
   * store sweep, which deletes a blob once `unreferencedBlobs` says nothing refers to it.
   */
  applyRetention(policy: RetentionPolicy): Promise<number> {
    return applyRetention(this.#db, this.#sql, policy);
  }

  /**
   * One retention pass (see `RetentionRules`): finished jobs past their group's retention, or the
   * farm's, go in batches with everything of theirs, and `job.removed` tells their topics. The
   * blobs it left unreferenced are in `freed`, for the artifact stores to delete.
   */
  runRetentionPass(
    rules: RetentionRules,
    beforeBatch?: () => Promise<void>,
  ): Promise<RetentionPass> {
    return runRetentionPass(this.#db, this.#sql, rules, beforeBatch);
  }

  /** What `runRetentionPass` would delete with these rules, deleting nothing. */
  previewRetention(rules: RetentionRules): Promise<PruneReport> {
    return previewRetention(this.#db, this.#sql, rules);
  }

  /** A group's own retention in ms, `off` (kept forever) or `default` (the farm's). */
  async setGroupRetention(group: string, retention: GroupRetention): Promise<GroupRecord> {
    await setGroupRetention(this.#db, this.#sql, group, retention);
    const [row] = await this.#db.query<{ group: GroupRecord }>(this.#sql.get('list-groups'), [
      group,
    ]);
    return row?.group ?? emptyGroup(group);
  }

  async close(): Promise<void> {
    clearInterval(this.#maintenance);
    await this.#maintaining?.catch(() => undefined);
    try {
      await this.#db.close();
    } finally {
      this.#lock?.release();
    }
  }
}

/** A group with no jobs, not paused, with the farm's retention: as a group it is not listed. */
function emptyGroup(name: string): GroupRecord {
  const counts = { queued: 0, running: 0, succeeded: 0, failed: 0, cancelled: 0 };
  return {
    name,
    jobs: 0,
    counts,
    paused: false,
    taskCount: 0,
    taskCounts: { ...counts, blocked: 0, leased: 0 },
    progress: 0,
    lastSubmittedAt: null,
    retention: 'default',
  };
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(Math.max(Math.trunc(value), min), max);
}
