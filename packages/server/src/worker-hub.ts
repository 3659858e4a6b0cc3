import { timingSafeEqual } from 'node:crypto';
import { DroverError } from '@drover/protocol';
import type { WorkerMethodName, WorkerRecord, workerMethods } from '@drover/protocol';
import type { Engine, ReportOutcome, TaskToStop } from '@drover/engine';
import type { z } from 'zod';
import { WorkerSession } from './worker-session.js';

export interface HubOptions {
  /** The token workers present in workers.hello. */
  workerToken: string;
  /** @defaultValue 30,000 */
  leaseMs?: number;
  /** @defaultValue a third of the lease */
  heartbeatMs?: number;
  /** The safety poll that covers lost notifications and run-at times coming due. @defaultValue 2,000 */
  pollMs?: number;
  /** How often the lease reaper runs. @defaultValue 1,000 */
  reapMs?: number;
  onError?: (error: unknown, where: string) => void;
}

type WorkerHandlers = {
  [M in WorkerMethodName]: (
    params: z.output<(typeof workerMethods)[M]['params']>,
  ) => Promise<z.output<(typeof workerMethods)[M]['result']>>;
};

/**
 * The connected workers, and the loops that serve them: the dispatcher (claims tasks for free
 * slots and pushes them down the sockets), and the lease reaper.
 */
export class WorkerHub {
  readonly #engine: Engine;
  readonly #options: Required<Omit<HubOptions, 'onError'>> & Pick<HubOptions, 'onError'>;
  readonly #sessions = new Map<string, WorkerSession>();
  #dispatching: Promise<void> | undefined;
  #dispatchAgain = false;
  #timers: NodeJS.Timeout[] = [];
  #unlisten: (() => Promise<void>) | undefined;
  #closed = false;

  constructor(engine: Engine, options: HubOptions) {
    this.#engine = engine;
    const leaseMs = options.leaseMs ?? 30_000;
    this.#options = {
      workerToken: options.workerToken,
      leaseMs,
      heartbeatMs: options.heartbeatMs ?? Math.floor(leaseMs / 3),
      pollMs: options.pollMs ?? 2000,
      reapMs: options.reapMs ?? 1000,
      onError: options.onError,
    };
  }

  async start(): Promise<void> {
    // Push, never poll: a notification that tasks became claimable wakes the dispatcher.
    this.#unlisten = await this.#engine.listen((payload) => {
      if (payload === 'queue' || payload === '*') this.dispatchSoon();
    });
    this.#timers.push(setInterval(() => this.dispatchSoon(), this.#options.pollMs));
    this.#timers.push(setInterval(() => void this.#reap(), this.#options.reapMs));
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const timer of this.#timers) clearInterval(timer);
    await this.#unlisten?.();
    await this.#dispatching;
  }

  /** The worker methods, bound to one connection. */
  handlersFor(session: WorkerSession): WorkerHandlers {
    const engine = this.#engine;
    const refusedOf = (outcomes: ReportOutcome[]) => ({
      refused: outcomes.filter((o) => !o.accepted).map((o) => o.attemptId),
    });
    return {
      'workers.hello': async (hello) => {
        if (!tokensMatch(hello.token, this.#options.workerToken)) {
          throw new DroverError(
            'DROVER_E_UNAUTHORIZED',
            'The worker token is not the one this server was given.',
          );
        }
        const { worker } = await engine.registerWorker(hello);
        // The same name is the same worker: a second connection under it replaces the first.
        const previous = this.#sessions.get(worker.id);
        if (previous && previous !== session) {
          this.#sessions.delete(worker.id);
          previous.ws.terminate();
        }
        session.identify(worker);
        this.#sessions.set(worker.id, session);
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
      'workers.heartbeat': async ({ stats, held }) => {
        const worker = session.requireWorker();
        await engine.touchWorkers([{ workerId: worker.id, ...(stats && { stats }) }]);
        const renewal = await engine.renewLeases(held, this.#options.leaseMs);
        session.release(renewal.stale);
        if (renewal.stale.length > 0) this.dispatchSoon();
        return { stale: renewal.stale };
      },
      'tasks.started': async ({ leases }) => {
        session.requireWorker();
        return refusedOf(await engine.start(leases));
      },
      'tasks.progress': async ({ reports }) => {
        session.requireWorker();
        return refusedOf(await engine.reportProgress(reports));
      },
      'tasks.log': async ({ batches }) => {
        session.requireWorker();
        return refusedOf(await engine.appendLogs(batches));
      },
      'tasks.complete': async ({ reports }) => {
        session.requireWorker();
        const outcomes = await engine.complete(reports);
        session.release(reports.map((r) => r.attemptId));
        this.dispatchSoon();
        return refusedOf(outcomes);
      },
      'tasks.fail': async ({ reports }) => {
        session.requireWorker();
        const outcomes = await engine.fail(reports);
        session.release(reports.map((r) => r.attemptId));
        this.dispatchSoon();
        return refusedOf(outcomes);
      },
    };
  }

  /** A worker's socket closed: its attempts are lost now and its tasks go back to the queue. */
  async disconnected(session: WorkerSession): Promise<void> {
    const worker = session.worker;
    if (!worker || this.#sessions.get(worker.id) !== session) return;
    this.#sessions.delete(worker.id);
    try {
      const current = await this.#engine.getWorker(worker.id);
      if (current.state !== 'disabled') await this.#engine.setWorkerState(worker.id, 'offline');
      await this.#engine.loseWorkerAttempts(worker.id, 'The worker disconnected.', [
        ...session.held.keys(),
      ]);
    } catch (error) {
      this.#options.onError?.(error, 'releasing a disconnected worker');
    }
    this.dispatchSoon();
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

  /** Runs the dispatcher once more as soon as the current pass ends; calls coalesce. */
  dispatchSoon(): void {
    if (this.#closed) return;
    if (this.#dispatching) {
      this.#dispatchAgain = true;
      return;
    }
    this.#dispatching = this.#dispatch()
      .catch((error: unknown) => this.#options.onError?.(error, 'dispatching'))
      .finally(() => {
        this.#dispatching = undefined;
        if (this.#dispatchAgain) {
          this.#dispatchAgain = false;
          this.dispatchSoon();
        }
      });
  }

  async #dispatch(): Promise<void> {
    for (const session of this.#sessions.values()) {
      const worker = session.worker;
      const free = session.freeSlots;
      if (!worker || free === 0) continue;
      const assignments = await this.#engine.claim({
        workerId: worker.id,
        taskTypes: worker.taskTypes,
        tags: worker.tags,
        limit: free,
        leaseMs: this.#options.leaseMs,
      });
      if (assignments.length > 0) session.assign(assignments);
    }
  }

  async #reap(): Promise<void> {
    if (this.#closed) return;
    try {
      const reaped = await this.#engine.reapExpired();
      if (reaped.length === 0) return;
      for (const r of reaped) this.#sessions.get(r.workerId)?.release([r.attemptId]);
      const timedOut = reaped.filter((r) => r.status === 'timed_out');
      this.stopTasks(timedOut, "The attempt ran longer than the task's timeout.");
      this.stopTasks(
        reaped.filter((r) => r.status === 'lost'),
        'The lease ran out before the worker renewed it.',
      );
      this.dispatchSoon();
    } catch (error) {
      this.#options.onError?.(error, 'reaping leases');
    }
  }

  get sessionCount(): number {
    return this.#sessions.size;
  }
}

function tokensMatch(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

export { WorkerSession };
