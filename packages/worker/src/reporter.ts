import type { LeaseRef, LogLine, TaskError } from '@drover/protocol';
import { Disconnected } from './connection.js';
import type { Connection } from './connection.js';

type Final =
  { kind: 'complete'; result: unknown } | { kind: 'fail'; error: TaskError; retry: boolean };

/**
 * Reports on running attempts, batched: every flush sends at most one call per kind. Progress is
 * coalesced to the latest value per attempt; log lines are kept in order. What cannot be sent
 * while the server is away stays queued and goes after the reconnect; the server accepts it if
 * the lease still holds and refuses it otherwise.
 */
export class Reporter {
  readonly #connection: Connection;
  readonly #onRefused: (attemptIds: string[]) => void;
  #started = new Map<string, LeaseRef>();
  #progress = new Map<string, LeaseRef & { progress: number | null; message: string | null }>();
  #logs = new Map<string, LeaseRef & { lines: LogLine[] }>();
  #finals = new Map<string, LeaseRef & Final>();
  #flushing: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;

  constructor(connection: Connection, onRefused: (attemptIds: string[]) => void, intervalMs = 100) {
    this.#connection = connection;
    this.#onRefused = onRefused;
    this.#timer = setInterval(() => void this.flush(), intervalMs);
    this.#timer.unref();
  }

  started(lease: LeaseRef): void {
    this.#started.set(lease.attemptId, lease);
  }

  progress(lease: LeaseRef, progress: number | null, message: string | null): void {
    const previous = this.#progress.get(lease.attemptId);
    this.#progress.set(lease.attemptId, {
      ...lease,
      progress: progress ?? previous?.progress ?? null,
      message: message ?? previous?.message ?? null,
    });
  }

  log(lease: LeaseRef, line: LogLine): void {
    const batch = this.#logs.get(lease.attemptId) ?? { ...lease, lines: [] };
    batch.lines.push(line);
    this.#logs.set(lease.attemptId, batch);
  }

  finish(lease: LeaseRef, final: Final): void {
    this.#finals.set(lease.attemptId, { ...lease, ...final });
    void this.flush();
  }

  /** Attempts with a final report not yet delivered. */
  get pendingFinals(): number {
    return this.#finals.size;
  }

  close(): void {
    clearInterval(this.#timer);
  }

  /** Sends what is queued; one flush at a time, in order: started, progress, logs, outcomes. */
  flush(): Promise<void> {
    this.#flushing ??= this.#send().finally(() => {
      this.#flushing = undefined;
    });
    return this.#flushing;
  }

  async #send(): Promise<void> {
    if (!this.#connection.ready) return;
    try {
      await this.#sendBatch(this.#started, (leases) => ['tasks.started', { leases }]);
      await this.#sendBatch(this.#progress, (reports) => ['tasks.progress', { reports }]);
      await this.#sendBatch(this.#logs, (batches) => ['tasks.log', { batches }]);
      const finals = [...this.#finals.values()];
      const complete = finals.filter((f) => f.kind === 'complete');
      const fail = finals.filter((f) => f.kind === 'fail');
      if (complete.length > 0) {
        await this.#call('tasks.complete', {
          reports: complete.map((f) => ({
            attemptId: f.attemptId,
            token: f.token,
            result: f.result ?? null,
          })),
        });
        for (const f of complete) this.#finals.delete(f.attemptId);
      }
      if (fail.length > 0) {
        await this.#call('tasks.fail', {
          reports: fail.map((f) => ({
            attemptId: f.attemptId,
            token: f.token,
            error: f.error,
            retry: f.retry,
          })),
        });
        for (const f of fail) this.#finals.delete(f.attemptId);
      }
    } catch (error) {
      // Disconnected: everything not yet acknowledged stays queued for the next connection.
      if (!(error instanceof Disconnected)) throw error;
    }
  }

  async #sendBatch<T extends LeaseRef>(
    queue: Map<string, T>,
    call: (items: T[]) => [string, unknown],
  ): Promise<void> {
    if (queue.size === 0) return;
    const items = [...queue.values()];
    const [method, params] = call(items);
    await this.#call(method, params);
    // Only what was sent is removed: reports queued during the call wait for the next flush.
    for (const item of items) if (queue.get(item.attemptId) === item) queue.delete(item.attemptId);
  }

  async #call(method: string, params: unknown): Promise<void> {
    const { refused } = await this.#connection.call<{ refused: string[] }>(method, params);
    if (refused.length > 0) this.#onRefused(refused);
  }
}
