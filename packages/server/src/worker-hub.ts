import { DroverError } from '@drover/protocol';
import type { WorkerMethodName, WorkerRecord, workerMethods } from '@drover/protocol';
import type { Engine, ReportOutcome, TaskToStop } from '@drover/engine';
import type { z } from 'zod';
import { WorkerSession } from './worker-session.js';
import { Dispatcher } from './dispatcher.js';
import { ReportWriter } from './report-writer.js';
import { WorkerRegistrar } from './worker-registrar.js';
import { Replica } from './replica.js';
import type { Log } from './logging.js';
import type { AttemptOutcome, ReportKind, WorkMetrics } from './metrics/server-metrics.js';

export interface HubOptions {
  /** @defaultValue 30,000 */
  leaseMs?: number;
  /** @defaultValue a third of the lease */
  heartbeatMs?: number;
  /** The safety poll that covers lost notifications and run-at times coming due. @defaultValue 2,000 */
  pollMs?: number;
  /** How often the lease reaper (and the sweep of dead replicas) runs. @defaultValue 1,000 */
  reapMs?: number;
  /**
   * A worker silent this long (no heartbeat) is unresponsive: offered nothing until it is heard
   * again. @defaultValue two heartbeats, at most the lease
   */
  unresponsiveMs?: number;
  /**
   * A replica whose heartbeat in the database is older than this is dead: its workers are marked
   * offline and their tasks requeued by the survivors. Replicas heartbeat every `heartbeatMs`.
   * @defaultValue two heartbeats
   */
  replicaTimeoutMs?: number;
  /**
   * How long the first report of a quiet spell waits for others to share its write, in ms;
   * reports arriving while a write is under way always share the next one. @defaultValue 0
   */
  reportWindowMs?: number;
  /** At most this many slots are offered in one dispatcher pass. @defaultValue 256 */
  maxSlotsPerPass?: number;
  /**
   * How much one attempt may log, in characters, before later lines are dropped (a line says
   * so). @defaultValue 64 Mi
   */
  maxLogPerAttempt?: number;
  onError?: (error: unknown, where: string) => void;
  /** Where the hub logs workers coming and going, refused reports, replicas swept. */
  log?: Log;
  /** What the hub counts as work goes through it. */
  metrics?: WorkMetrics;
  /**
   * Called each time this server joins the farm's replicas at its URL: once it listens
   * (`announce`), and again when it comes back after its peers took it for dead (what the
   * database recorded of it went with its row).
   */
  onJoined?: () => void;
}

/** Workers whose last seen and host stats one statement writes. */
const LIVENESS_PER_STATEMENT = 256;

type WorkerHandlers = {
  [M in WorkerMethodName]: (
    params: z.output<(typeof workerMethods)[M]['params']>,
  ) => Promise<z.output<(typeof workerMethods)[M]['result']>>;
};

/**
 * The connected workers, and the loops that serve them: the dispatcher (claims tasks for the free
 * slots of all of them at once and pushes them down the sockets), the report writer (their
 * reports in grouped statements), liveness (heartbeats kept in memory, written in batches), and
 * the lease reaper.
 */
export class WorkerHub {
  readonly #engine: Engine;
  readonly #options: Required<Omit<HubOptions, 'onError' | 'onJoined' | 'log' | 'metrics'>> &
    Pick<HubOptions, 'onError' | 'onJoined'>;
  readonly #log: Log | undefined;
  readonly #metrics: WorkMetrics | undefined;
  readonly #sessions = new Map<string, WorkerSession>();
  /** The connected workers by name, with the token each said hello with. */
  readonly #byName = new Map<string, WorkerSession>();
  readonly #dispatcher: Dispatcher;
  readonly #writer: ReportWriter;
  readonly #registrar: WorkerRegistrar;
  /** Workers heard from since liveness was last written. */
  #beats = new Set<WorkerSession>();
  #timers: NodeJS.Timeout[] = [];
  readonly #replica: Replica;
  #unlisten: (() => Promise<void>) | undefined;
  #closed = false;
  #closing: Promise<void> | undefined;
  /** Reports written straight to the engine, not through the writer, still under way. */
  readonly #writes = new Set<Promise<unknown>>();

  constructor(engine: Engine, options: HubOptions) {
    this.#engine = engine;
    this.#log = options.log;
    this.#metrics = options.metrics;
    const leaseMs = options.leaseMs ?? 30_000;
    this.#options = {
      onJoined: options.onJoined,
      leaseMs,
      heartbeatMs: options.heartbeatMs ?? Math.floor(leaseMs / 3),
      pollMs: options.pollMs ?? 2000,
      reapMs: options.reapMs ?? 1000,
      unresponsiveMs: 0,
      replicaTimeoutMs: 0,
      reportWindowMs: options.reportWindowMs ?? 0,
      maxSlotsPerPass: options.maxSlotsPerPass ?? 256,
      maxLogPerAttempt: options.maxLogPerAttempt ?? 64 * 1024 * 1024,
      onError: options.onError,
    };
    const heartbeatMs = this.#options.heartbeatMs;
    this.#options.unresponsiveMs = options.unresponsiveMs ?? Math.min(2 * heartbeatMs, leaseMs);
    this.#options.replicaTimeoutMs = options.replicaTimeoutMs ?? 2 * heartbeatMs;
    this.#dispatcher = new Dispatcher(engine, () => this.#sessions.values(), {
      leaseMs,
      maxSlotsPerPass: this.#options.maxSlotsPerPass,
      giveBack: async (leases) => {
        const reason = 'The worker left before the task reached it.';
        await engine.release(leases.map((l) => ({ ...l, reason })));
        this.#metrics?.ended(
          leases.map((l) => l.attemptId),
          'released',
        );
        this.queueChanged();
      },
      onClaimed: (assignments) => this.#metrics?.claimed(assignments),
      ...(options.onError && { onError: options.onError }),
    });
    this.#replica = new Replica(engine, {
      timeoutMs: this.#options.replicaTimeoutMs,
      onJoined: options.onJoined,
      // Its workers were released by a survivor: they say hello again, to be counted here.
      onTakenForDead: () => {
        for (const session of this.#sessions.values()) session.ws.terminate();
      },
      onRequeued: () => this.queueChanged(),
      onError: options.onError,
      log: options.log,
    });
    this.#registrar = new WorkerRegistrar(engine, this.serverId);
    this.#writer = new ReportWriter(engine, {
      leaseMs,
      windowMs: this.#options.reportWindowMs,
    });
  }

  /** This server among the farm's replicas, as registered in the database. */
  get serverId(): string {
    return this.#replica.id;
  }

  async start(): Promise<void> {
    await this.#replica.register();
    // Push, never poll: a notification that tasks became claimable wakes the dispatcher.
    this.#unlisten = await this.#engine.listen((payload) => {
      if (payload === 'queue' || payload === '*') this.queueChanged();
    });
    this.#timers.push(setInterval(() => this.queueChanged(), this.#options.pollMs));
    this.#timers.push(setInterval(() => void this.#reap(), this.#options.reapMs));
    this.#timers.push(setInterval(() => void this.#writeLiveness(), this.#options.heartbeatMs));
    this.#timers.push(
      setInterval(() => {
        if (!this.#closed) void this.#replica.heartbeat();
      }, this.#options.heartbeatMs),
    );
  }

  /** Where the other replicas reach this server: known once it listens. */
  announce(url: string): Promise<void> {
    return this.#replica.announce(url);
  }

  /** Stops taking reports, writes the ones taken, marks the workers offline here; once. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#closed = true;
    for (const timer of this.#timers) clearInterval(timer);
    await this.#unlisten?.();
    await this.#dispatcher.close();
    // Every report taken is written (and so answered) before the connections close.
    await this.#writer.drain();
    await Promise.allSettled([...this.#writes]);
    this.#writer.close();
    await this.#writeLiveness();
    // The workers are offline here from now on. Their attempts are left to their leases: a worker
    // that moves to another replica re-attaches them there; one that does not is reaped.
    const sessions = [...this.#sessions.values()];
    this.#sessions.clear();
    for (const session of sessions) {
      session.live = false;
      const worker = session.worker;
      if (!worker) continue;
      try {
        await this.#engine.workerGone(worker.id, session.generation);
      } catch (error) {
        this.#options.onError?.(error, 'marking a worker offline');
      }
    }
    await this.#replica.leave();
  }

  /**
   * The worker methods, bound to one connection. `workers.hello` registers the worker: the
   * caller has checked its token (see the socket server).
   */
  handlersFor(session: WorkerSession): WorkerHandlers {
    const engine = this.#engine;
    // Refusals are counted and logged; accepted ends of attempts are counted by outcome.
    const refusedOf = (report: ReportKind, outcomes: ReportOutcome[], ended?: AttemptOutcome) => {
      const refused = outcomes.filter((o) => !o.accepted).map((o) => o.attemptId);
      if (ended)
        this.#metrics?.ended(
          outcomes.filter((o) => o.accepted).map((o) => o.attemptId),
          ended,
        );
      if (refused.length > 0) {
        this.#metrics?.refused(report, 'stale_lease', refused.length);
        this.#log?.warn(
          { workerId: session.worker?.id, worker: session.worker?.name, report, attempts: refused },
          "refused reports on attempts that are no longer the worker's",
        );
      }
      return { refused };
    };
    // A stopping server takes no more reports: the ones it took are written and answered before
    // its connections close. One it took later could be written with its answer lost with the
    // connection, and the worker, which keeps what is not answered, would send it again.
    const taking = (report: ReportKind, count: number) => {
      session.requireWorker();
      if (this.#closed) {
        this.#metrics?.refused(report, 'server_stopping', count);
        throw stopping();
      }
    };
    return {
      'workers.hello': async (hello) => {
        // A connected name is taken over only by the same worker coming back (its connection
        // lost, the old one not yet noticed as gone): it proves it with its instance secret,
        // under the same token (or an admin's). Anything else is a second worker under one name,
        // which would knock the first off and be knocked off in turn.
        // A holder silent for a whole lease is a connection that died without closing. The name
        // is held from here, so that two hellos at once cannot both pass.
        const holder = this.#byName.get(hello.name);
        const heard = holder && Date.now() - holder.heardAt < this.#options.leaseMs;
        if (holder && holder !== session && holder.live && heard) {
          const sameWorker = hello.instance !== undefined && hello.instance === holder.instance;
          const sameToken = holder.tokenId === session.tokenId || session.admin;
          if (!sameWorker || !sameToken) {
            throw new DroverError(
              'DROVER_E_CONFLICT',
              `A worker named ${hello.name} is connected already${sameToken ? '' : ' with another token'}: give this one another name (--name), or stop the other first.`,
              { details: { name: hello.name } },
            );
          }
        }
        session.instance = hello.instance;
        session.heardAt = Date.now();
        this.#byName.set(hello.name, session);
        const { worker, session: generation } = await this.#registrar.register(hello);
        session.generation = generation;
        // The same name is the same worker: a second connection under it replaces the first.
        const previous = this.#sessions.get(worker.id);
        if (previous && previous !== session) {
          this.#sessions.delete(worker.id);
          previous.live = false;
          previous.ws.terminate();
        }
        session.identify(worker);
        this.#sessions.set(worker.id, session);
        this.#log?.info(
          {
            workerId: worker.id,
            worker: worker.name,
            host: worker.host,
            slots: worker.slots,
            taskTypes: worker.taskTypes,
            held: hello.held.length,
          },
          'worker connected',
        );
        // Re-attach what the worker still runs from before, while the leases hold.
        const renewal = await engine.renewLeases(hello.held, this.#options.leaseMs);
        const current = new Set(renewal.renewed.map((r) => r.attemptId));
        for (const lease of hello.held)
          if (current.has(lease.attemptId)) session.held.set(lease.attemptId, lease);
        this.dispatchSoon();
        return {
          worker,
          leaseMs: this.#options.leaseMs,
          heartbeatMs: this.#options.heartbeatMs,
          stale: renewal.stale,
        };
      },
      // A heartbeat is liveness: answered from memory, so its round trip never waits on the
      // database. Last seen and host stats are written in batches; the leases the worker holds
      // are renewed in the writer's grouped statements, and any found gone (reaped or cancelled
      // through another server) are stopped with tasks.stop.
      'workers.heartbeat': ({ stats, held }) => {
        const worker = session.requireWorker();
        session.heardAt = Date.now();
        if (worker.state === 'unresponsive') this.#responsive(session, worker);
        if (stats) session.unwrittenStats = stats;
        this.#beats.add(session);
        const stale = held.filter((l) => !session.held.has(l.attemptId)).map((l) => l.attemptId);
        const current = held.filter((l) => session.held.has(l.attemptId));
        if (current.length > 0) {
          this.#writer.renew(current).then(
            (gone) => {
              if (gone.length === 0) return;
              session.release(gone);
              session.notify('tasks.stop', {
                attemptIds: gone,
                reason: 'The lease is no longer current.',
              });
              this.dispatchSoon();
            },
            (error: unknown) => this.#options.onError?.(error, 'renewing leases'),
          );
        }
        return Promise.resolve({ stale });
      },
      // An orderly shutdown: the worker is draining from now on, so no pass assigns it anything.
      // Its state is written for people to see; its record here changes at once, before the
      // write, so that a pass running meanwhile already leaves it out.
      'workers.leaving': async () => {
        const worker = session.requireWorker();
        session.leaving = true;
        session.identify({
          ...worker,
          state: worker.state === 'disabled' ? 'disabled' : 'draining',
        });
        const updated =
          (await engine.setWorkerState(worker.id, 'draining', session.generation)) ??
          (await engine.getWorker(worker.id));
        if (this.#sessions.get(worker.id) === session) session.identify(updated);
        return { worker: updated };
      },
      'tasks.release': async ({ reports }) => {
        taking('release', reports.length);
        session.release(reports.map((r) => r.attemptId));
        const outcomes = await this.#track(engine.release(reports));
        this.queueChanged();
        return refusedOf('release', outcomes, 'released');
      },
      'tasks.started': async ({ leases }) => {
        taking('progress', leases.length);
        return refusedOf('progress', await this.#writer.progress(leases));
      },
      'tasks.progress': async ({ reports }) => {
        taking('progress', reports.length);
        return refusedOf('progress', await this.#writer.progress(reports));
      },
      'tasks.log': async ({ batches }) => {
        taking('log', batches.length);
        const max = this.#options.maxLogPerAttempt;
        const capped = batches
          .map((b) => ({ ...b, lines: session.capLog(b.attemptId, b.lines, max) }))
          .filter((b) => b.lines.length > 0);
        return refusedOf('log', await this.#writer.log(capped));
      },
      'tasks.complete': async ({ reports }) => {
        taking('result', reports.length);
        // The slots are free once the worker says so: the next claim need not wait for this
        // write (a report refused later was about an attempt the worker no longer holds).
        session.release(reports.map((r) => r.attemptId));
        this.dispatchSoon();
        return refusedOf('result', await this.#writer.complete(reports), 'succeeded');
      },
      'tasks.fail': async ({ reports }) => {
        taking('failure', reports.length);
        session.release(reports.map((r) => r.attemptId));
        this.dispatchSoon();
        return refusedOf('failure', await this.#writer.fail(reports), 'failed');
      },
    };
  }

  /**
   * A worker's socket closed: it is offline, its attempts are lost now and its tasks go back to
   * the queue. Unless a newer connection of the worker (here or through another replica) holds it
   * already: that one re-attached what the worker still runs, and leases cover the rest.
   */
  async disconnected(session: WorkerSession): Promise<void> {
    const worker = session.worker;
    session.live = false;
    if (!worker || this.#sessions.get(worker.id) !== session) return;
    this.#sessions.delete(worker.id);
    if (this.#byName.get(worker.name) === session) this.#byName.delete(worker.name);
    this.#log?.info(
      { workerId: worker.id, worker: worker.name, running: session.held.size },
      'worker disconnected',
    );
    try {
      const gone = await this.#engine.workerGone(worker.id, session.generation);
      if (gone && session.held.size > 0) {
        const lost = [...session.held.keys()];
        await this.#engine.loseWorkerAttempts(worker.id, 'The worker disconnected.', lost);
        this.#metrics?.ended(lost, 'lost');
        this.queueChanged();
      }
    } catch (error) {
      this.#options.onError?.(error, 'releasing a disconnected worker');
    }
  }

  /** A report written straight to the engine: `close` waits for it as for the writer's. */
  async #track<T>(write: Promise<T>): Promise<T> {
    this.#writes.add(write);
    try {
      return await write;
    } finally {
      this.#writes.delete(write);
    }
  }

  /** Tells the workers holding these attempts to stop them. */
  stopTasks(tasks: TaskToStop[], reason: string): void {
    const byWorker = new Map<string, string[]>();
    for (const t of tasks)
      byWorker.set(t.workerId, [...(byWorker.get(t.workerId) ?? []), t.attemptId]);
    for (const [workerId, attemptIds] of byWorker) {
      this.#sessions.get(workerId)?.notify('tasks.stop', { attemptIds, reason });
    }
  }

  /** An operator changed a worker: tell it, and refill slots if it may take tasks again. */
  workerChanged(worker: WorkerRecord): void {
    const session = this.#sessions.get(worker.id);
    if (!session) return;
    session.identify(worker);
    session.notify('workers.state', { state: worker.state });
    this.dispatchSoon();
  }

  /** Slots were freed or added: the dispatcher runs once more as soon as its pass ends. */
  dispatchSoon(): void {
    if (!this.#closed) this.#dispatcher.soon();
  }

  /** Tasks may have become claimable (submitted, retried, given back, coming due): a pass. */
  queueChanged(): void {
    if (!this.#closed) this.#dispatcher.wake();
  }

  /** Last seen and host stats of the workers heard from since the last write, in one statement. */
  async #writeLiveness(): Promise<void> {
    if (this.#beats.size === 0) return;
    const beats = [...this.#beats].flatMap((session) => {
      const worker = session.worker;
      if (!worker) return [];
      const stats = session.unwrittenStats;
      session.unwrittenStats = undefined;
      return [{ workerId: worker.id, ...(stats && { stats }) }];
    });
    this.#beats = new Set();
    // In pieces, so that an embedded database (on this event loop) is never held for long.
    for (let i = 0; i < beats.length; i += LIVENESS_PER_STATEMENT) {
      try {
        await this.#engine.touchWorkers(beats.slice(i, i + LIVENESS_PER_STATEMENT));
      } catch (error) {
        this.#options.onError?.(error, "writing workers' liveness");
      }
    }
  }

  async #reap(): Promise<void> {
    if (this.#closed) return;
    // Silent workers first: their slots, freed below as their leases lapse, must not be refilled.
    this.#markSilent();
    try {
      const reaped = await this.#engine.reapExpired();
      if (reaped.length > 0) {
        for (const r of reaped) this.#sessions.get(r.workerId)?.release([r.attemptId]);
        const timedOut = reaped.filter((r) => r.status === 'timed_out');
        const lost = reaped.filter((r) => r.status === 'lost');
        this.#metrics?.ended(
          timedOut.map((r) => r.attemptId),
          'timed_out',
        );
        this.#metrics?.ended(
          lost.map((r) => r.attemptId),
          'lost',
        );
        this.#log?.warn(
          { timedOut: timedOut.length, lost: lost.length },
          'attempts reaped: past their timeout, or their lease ran out',
        );
        this.stopTasks(timedOut, "The attempt ran longer than the task's timeout.");
        this.stopTasks(lost, 'The lease ran out before the worker renewed it.');
        this.dispatchSoon();
      }
    } catch (error) {
      this.#options.onError?.(error, 'reaping leases');
    }
    await this.#replica.sweep();
  }

  /**
   * Workers connected here but silent for `unresponsiveMs` are unresponsive: no pass offers them
   * anything (their record here changes at once, before the write) until they are heard again.
   */
  #markSilent(): void {
    const silentSince = Date.now() - this.#options.unresponsiveMs;
    for (const session of this.#sessions.values()) {
      const worker = session.worker;
      if (!worker || session.heardAt > silentSince) continue;
      if (worker.state !== 'online' && worker.state !== 'draining') continue;
      session.identify({ ...worker, state: 'unresponsive' });
      this.#engine.setWorkerState(worker.id, 'unresponsive', session.generation).then(
        (updated) => {
          if (
            updated &&
            this.#sessions.get(worker.id) === session &&
            session.worker?.state === 'unresponsive'
          )
            session.identify(updated);
        },
        (error: unknown) => this.#options.onError?.(error, 'marking a worker unresponsive'),
      );
    }
  }

  /** An unresponsive worker was heard again: it takes tasks again (or drains, if it is leaving). */
  #responsive(session: WorkerSession, worker: WorkerRecord): void {
    const state = session.leaving ? 'draining' : 'online';
    session.identify({ ...worker, state });
    this.#engine.setWorkerState(worker.id, state, session.generation).then(
      (updated) => {
        if (updated && this.#sessions.get(worker.id) === session) session.identify(updated);
        this.dispatchSoon();
      },
      (error: unknown) => this.#options.onError?.(error, 'marking a worker responsive'),
    );
  }

  get sessionCount(): number {
    return this.#sessions.size;
  }
}

/** The answer to a report that reaches a server once it has begun to stop. */
function stopping(): DroverError {
  return new DroverError(
    'DROVER_E_CONNECTION_LOST',
    'This server is stopping and took nothing of this report: send it again once reconnected.',
  );
}

export { WorkerSession };
