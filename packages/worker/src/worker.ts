import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { serverToWorker } from '@drover/protocol';
import type { Assignment, LeaseRef, TaskError, WorkerRecord, WorkerState } from '@drover/protocol';
import { Connection } from './connection.js';
import type { JobArtifact, TaskContext, TaskDefinition } from './define-task.js';
import { ThreadPool } from './thread-pool.js';
import { HostSampler } from './host-stats.js';
import { trustFor } from './tls-trust.js';
import type { Trust } from './tls-trust.js';
import { Reporter } from './reporter.js';
import { claimIdentity, defaultStateDir } from './identity.js';
import { uploadArtifact } from './artifact-upload.js';
import { asJson, describeParams, toTaskError } from './wire.js';
import { setTimeout as sleep } from 'node:timers/promises';

export interface WorkerOptions {
  /**
   * The server's base URL, such as `http://farm.example:7400`; or several, the replicas of one
   * farm, tried in this order: when its server goes away the worker moves on to the next (with
   * back-off and jitter), re-attaches its running tasks there while their leases hold, and
   * delivers the reports it kept meanwhile.
   */
  serverUrl: string | readonly string[];
  /** The worker token the operator gave this machine. */
  token: string;
  /**
   * The same name is the same worker across restarts. @defaultValue the host's name plus a
   * suffix kept in `stateDir`, different for each worker running at once on the host
   */
  name?: string;
  /**
   * Where the worker keeps its identity: its default name, and the secret that lets it take its
   * name back when it reconnects or restarts before the server noticed it gone (a second worker
   * under a connected name is refused). With a `name` and no `stateDir`, the secret is new for
   * each process. @defaultValue `defaultStateDir()` without a `name`
   */
  stateDir?: string;
  /** @defaultValue the host name */
  host?: string;
  tags?: string[];
  /** How many tasks run at once. @defaultValue 1 */
  slots?: number;
  tasks: readonly TaskDefinition[];
  /** Worker threads for task types marked `thread`. @defaultValue the number of CPUs */
  threads?: number;
  /** Told of what the worker does, one line at a time, for its own log. */
  onLog?: (line: string) => void;
  /**
   * A certificate authority to trust besides the system's (PEM), for a server whose TLS
   * certificate a private authority issued, or a self-signed one.
   */
  ca?: string | Buffer;
}

/** Why a task was stopped when its worker shut down: it is given back, not failed. */
class Leaving extends Error {
  override readonly name = 'Leaving';
  constructor() {
    super('the worker is shutting down');
  }
}

const LEAVING_REASON = 'The worker shut down before the task finished; it runs again elsewhere.';
const UNSTARTED_REASON = 'The worker was shutting down when the task reached it.';

interface Running {
  lease: LeaseRef;
  controller: AbortController;
  done: Promise<void>;
}

/**
 * A worker process's runtime: says hello, keeps its leases with heartbeats, runs what the server
 * assigns, reports progress, logs and outcomes, obeys stop and drain, and reconnects when the
 * server goes away, re-attaching the tasks still running.
 */
export class Worker {
  readonly #options: WorkerOptions;
  readonly #servers: readonly string[];
  readonly #tasks: ReadonlyMap<string, TaskDefinition>;
  readonly #connection: Connection;
  readonly #reporter: Reporter;
  readonly #running = new Map<string, Running>();
  readonly #sampler = new HostSampler();
  readonly #trust: Trust;
  #heartbeat: NodeJS.Timeout | undefined;
  #threads: ThreadPool | undefined;
  #fatal: Error | undefined;
  #fatalWaiters: ((error: Error) => void)[] = [];
  #record: WorkerRecord | undefined;
  /** The name said in hello and its secret; from the state directory once started, if kept there. */
  #identity: { name: string; instance: string; release?: () => void };
  /** Why the server could not be reached, last said: repeated failures are told once. */
  #unreachable: string | undefined;
  /** Set by `stop`: nothing new is started, and what arrives is given back. */
  #leaving = false;

  constructor(options: WorkerOptions) {
    this.#options = options;
    this.#servers = typeof options.serverUrl === 'string' ? [options.serverUrl] : options.serverUrl;
    if (this.#servers.length === 0) throw new TypeError('A worker needs at least one server URL.');
    this.#identity = {
      name: options.name ?? hostname(),
      instance: randomBytes(24).toString('base64url'),
    };
    this.#tasks = new Map(options.tasks.map((t) => [t.name, t]));
    this.#trust = trustFor(options.ca);
    this.#connection = new Connection({
      urls: this.#servers,
      ca: this.#trust.ca,
      onOpen: () => this.#hello(),
      onNotification: (method, params) => this.#notified(method, params),
      onClose: ({ wasReady, url, error, closing }) => {
        clearInterval(this.#heartbeat);
        if (this.#fatal || closing) return;
        if (wasReady) {
          this.#unreachable = undefined;
          this.#log(
            this.#servers.length > 1
              ? `disconnected from ${url}; reconnecting, to the next server first`
              : 'disconnected from the server; reconnecting',
          );
          return;
        }
        // Said once per cause, not at every attempt: an unknown host, a refused connection...
        const why = `${url} (${error?.message ?? 'the connection closed before the greeting'})`;
        if (why !== this.#unreachable) {
          this.#unreachable = why;
          this.#log(`cannot reach ${why}; trying again`);
        }
      },
      onFatal: (error) => {
        this.#fatal = error;
        for (const wake of this.#fatalWaiters.splice(0)) wake(error);
      },
    });
    this.#reporter = new Reporter(
      this.#connection,
      (refused) => this.#stop(refused, 'the server refused a report: the lease is gone'),
      (error) =>
        this.#log(`a report could not be delivered and was dropped: ${(error as Error).message}`),
    );
  }

  /** Connects and resolves once the server has registered this worker. */
  async start(): Promise<WorkerRecord> {
    const o = this.#options;
    if (o.name === undefined || o.stateDir !== undefined) {
      this.#identity = claimIdentity({
        stateDir: o.stateDir ?? defaultStateDir(),
        server: this.#servers,
        ...(o.name !== undefined && { name: o.name }),
        ...(o.host !== undefined && { host: o.host }),
      });
    }
    this.#connection.open();
    // A refused token ends the start: retrying cannot help.
    const refused = new Promise<never>((_, reject) => this.#fatalWaiters.push(reject));
    await Promise.race([this.#connection.whenReady(), refused]).catch((error: unknown) => {
      this.#identity.release?.();
      throw error;
    });
    if (!this.#record) throw new Error('connected without a registration');
    return this.#record;
  }

  /** The server this worker is connected to, or the one it tries next while it has none. */
  get serverUrl(): string {
    return this.#connection.url;
  }

  /** What this worker runs now, by attempt id. */
  get running(): number {
    return this.#running.size;
  }

  /**
   * Stops in an orderly way: tells the server to assign nothing more (what it assigns meanwhile
   * is given back unstarted), waits up to `deadlineMs` for running tasks to finish and their
   * reports to be sent, then stops the rest and gives them back, disconnects. A task given back
   * is not charged an attempt: it runs again elsewhere as if this worker had never taken it.
   */
  async stop(deadlineMs = 10_000): Promise<void> {
    const deadline = Date.now() + deadlineMs;
    this.#leaving = true;
    await this.#announceLeaving();
    this.#log(
      this.#running.size === 0
        ? 'stopping: nothing running'
        : `stopping: waiting up to ${Math.round(deadlineMs / 1000)} s for ${this.#running.size} running task(s)`,
    );
    await Promise.race([
      Promise.all([...this.#running.values()].map((r) => r.done)),
      sleep(Math.max(0, deadline - Date.now())),
    ]);
    for (const [id, running] of this.#running) {
      if (running.controller.signal.aborted) continue;
      this.#log(`stopping attempt ${id}: the worker is shutting down; it is given back`);
      running.controller.abort(new Leaving());
    }
    // The handlers that were stopped report (a release) as they return; wait a little for them.
    const grace = Math.max(Date.now() + 1000, deadline);
    await Promise.race([
      Promise.all([...this.#running.values()].map((r) => r.done)),
      sleep(Math.max(0, grace - Date.now())),
    ]);
    while (this.#reporter.pendingFinals > 0 && Date.now() < grace) {
      await this.#reporter.flush();
      await sleep(20);
    }
    clearInterval(this.#heartbeat);
    this.#reporter.close();
    this.#connection.close();
    await this.#threads?.close();
    this.#identity.release?.();
  }

  /** Tells the server this worker is leaving; it may be away (then it assigns nothing anyway). */
  async #announceLeaving(): Promise<void> {
    if (!this.#connection.ready) return;
    try {
      await this.#connection.call('workers.leaving', {});
    } catch (error) {
      this.#log(`could not tell the server this worker is leaving: ${(error as Error).message}`);
    }
  }

  async #hello(): Promise<void> {
    const o = this.#options;
    const host = o.host ?? hostname();
    // What still runs from before a disconnect, on whichever server this is: any replica
    // renews the leases that hold, and says which are gone.
    const held = [...this.#running.values()].map((r) => r.lease);
    const result = await this.#connection.call(
      'workers.hello',
      {
        name: this.#identity.name,
        host,
        instance: this.#identity.instance,
        tags: o.tags ?? [],
        taskTypes: [...this.#tasks.keys()],
        paramsSchemas: describeParams(this.#tasks),
        slots: o.slots ?? 1,
        token: o.token,
        held,
      },
      { greeting: true },
    );
    this.#record = result.worker;
    this.#stop(result.stale, 'the lease was lost while the server was away');
    clearInterval(this.#heartbeat);
    this.#heartbeat = setInterval(() => void this.#beat(), result.heartbeatMs);
    this.#heartbeat.unref();
    const where = this.#servers.length > 1 ? ` at ${this.#connection.url}` : '';
    const kept = held.length - result.stale.length;
    this.#log(
      `registered as ${result.worker.name} (${result.worker.id}), ${result.worker.state}${where}` +
        (held.length > 0 ? `; re-attached ${kept} of ${held.length} running task(s)` : ''),
    );
    // Back after a disconnect in the middle of a shutdown: still leaving.
    if (this.#leaving) void this.#announceLeaving();
    // Reports queued while the server was away go first; then a first heartbeat, so the farm
    // sees this host's load at once rather than a heartbeat later.
    setImmediate(() => {
      void this.#reporter.flush().then(() => this.#beat());
    });
  }

  async #beat(): Promise<void> {
    try {
      const { stale } = await this.#connection.call('workers.heartbeat', {
        stats: this.#sampler.sample(),
        held: [...this.#running.values()].map((r) => r.lease),
      });
      this.#stop(stale, 'the lease is no longer current');
    } catch {
      // The connection's close handler reconnects; the next heartbeat tries again.
    }
  }

  #notified(method: string, params: unknown): void {
    if (method === 'tasks.assign') {
      const { assignments } = serverToWorker['tasks.assign'].parse(params);
      for (const a of assignments) this.#run(a);
    } else if (method === 'tasks.stop') {
      const { attemptIds, reason } = serverToWorker['tasks.stop'].parse(params);
      this.#stop(attemptIds, reason);
    } else if (method === 'workers.state') {
      const { state } = serverToWorker['workers.state'].parse(params);
      this.#stateChanged(state);
    }
  }

  #stateChanged(state: WorkerState): void {
    if (this.#record) this.#record = { ...this.#record, state };
    this.#log(`the server set this worker ${state}`);
    this.#tellIfDrained();
  }

  /** A worker an operator drained says so once it has nothing left to run. */
  #tellIfDrained(): void {
    if (this.#record?.state === 'draining' && !this.#leaving && this.#running.size === 0)
      this.#log('drained: nothing left to run, and no new tasks are taken');
  }

  #stop(attemptIds: readonly string[], reason: string): void {
    for (const id of attemptIds) {
      const running = this.#running.get(id);
      if (running && !running.controller.signal.aborted) {
        this.#log(`stopping attempt ${id}: ${reason}`);
        running.controller.abort(new Error(reason));
      }
    }
  }

  #run(a: Assignment): void {
    const lease: LeaseRef = { attemptId: a.attemptId, token: a.token };
    if (this.#leaving) {
      // Sent before the server heard this worker is leaving: given back, never started.
      this.#reporter.finish(lease, { kind: 'release', reason: UNSTARTED_REASON });
      this.#log(`gave back task ${a.task.id}: this worker is shutting down`);
      return;
    }
    const controller = new AbortController();
    const done = this.#execute(a, lease, controller.signal).finally(() => {
      this.#running.delete(a.attemptId);
      this.#tellIfDrained();
    });
    this.#running.set(a.attemptId, { lease, controller, done });
  }

  async #execute(a: Assignment, lease: LeaseRef, signal: AbortSignal): Promise<void> {
    const definition = this.#tasks.get(a.task.taskType);
    if (!definition) {
      this.#reporter.finish(lease, {
        kind: 'fail',
        error: { message: `This worker has no task type ${a.task.taskType}.` },
        retry: true,
      });
      return;
    }
    this.#reporter.started(lease);
    this.#log(`running ${a.task.taskType} task ${a.task.id} (attempt ${a.task.attempt})`);
    const parsed = definition.params.safeParse(a.task.params);
    if (!parsed.success) {
      const message = parsed.error.issues
        .map((i) => `${i.path.join('.') || 'params'}: ${i.message}`)
        .join('; ');
      this.#reporter.finish(lease, {
        kind: 'fail',
        error: { message: `Invalid params: ${message}` },
        retry: false,
      });
      return;
    }
    try {
      const ctx: TaskContext = {
        progress: (fraction, message) => this.#reporter.progress(lease, fraction, message ?? null),
        log: (line) =>
          this.#reporter.log(lease, { at: new Date().toISOString(), stream: 'log', line }),
        artifact: (name, data, contentType) =>
          uploadArtifact({
            // The server connected to first; the others if it cannot be reached.
            serverUrl: this.#connection.urlsFromCurrent,
            lease,
            name,
            data,
            contentType,
            signal,
            fetch: this.#trust.fetch,
          }),
        jobArtifacts: () => this.#jobArtifacts(a, signal),
        signal,
        attempt: a.task.attempt,
        taskId: a.task.id,
        jobId: a.task.jobId,
      };
      const result: unknown = definition.thread
        ? await (this.#threads ??= new ThreadPool(this.#options.threads)).run(
            definition,
            ctx,
            parsed.data,
          )
        : await definition.run(ctx, parsed.data);
      const checked = definition.result ? definition.result.parse(result) : result;
      if (signal.aborted) throw signal.reason;
      this.#reporter.finish(lease, { kind: 'complete', result: asJson(checked) });
      this.#log(`task ${a.task.id} succeeded`);
    } catch (error) {
      if (signal.aborted && signal.reason instanceof Leaving) {
        this.#reporter.finish(lease, { kind: 'release', reason: LEAVING_REASON });
        this.#log(`task ${a.task.id} given back unfinished: this worker is shutting down`);
        return;
      }
      const taskError: TaskError = signal.aborted
        ? { message: `Stopped: ${(signal.reason as Error).message}`, code: 'DROVER_E_CANCELLED' }
        : toTaskError(error);
      this.#reporter.finish(lease, { kind: 'fail', error: taskError, retry: true });
      this.#log(`task ${a.task.id} failed: ${taskError.message}`);
    }
  }

  async #jobArtifacts(a: Assignment, signal: AbortSignal): Promise<JobArtifact[]> {
    const { artifacts } = await this.#connection.call('artifacts.list', { jobId: a.task.jobId });
    return artifacts.map((record) => ({
      ...record,
      read: async () => {
        const url = new URL(`/artifacts/${record.id}`, this.#connection.url);
        // The attempt's lease lets it read the files of its own job, and nothing else.
        const response = await this.#trust.fetch(url, {
          signal,
          headers: { authorization: `Bearer ${a.attemptId}.${a.token}` },
        });
        if (!response.ok)
          throw new Error(`Fetching artifact ${record.name} failed: HTTP ${response.status}.`);
        return Buffer.from(await response.arrayBuffer());
      },
    }));
  }

  #log(line: string): void {
    this.#options.onLog?.(line);
  }
}
