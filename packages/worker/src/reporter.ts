import type { JsonValue, LeaseRef, LogLine, TaskError } from '@drover/protocol';
import { isDroverError } from '@drover/protocol';
import type { Connection, WorkerCallParams } from './connection.js';

/** The worker methods that carry reports; each answers which attempts' leases were gone. */
type ReportMethod =
  | 'tasks.started'
  | 'tasks.progress'
  | 'tasks.log'
  | 'tasks.complete'
  | 'tasks.fail'
  | 'tasks.release';

type Final =
  | { kind: 'complete'; result: JsonValue }
  | { kind: 'fail'; error: TaskError; retry: boolean }
  /** Given back unfinished in an orderly shutdown: not charged against the task's attempts. */
  | { kind: 'release'; reason: string };

/**
 * Reports on running attempts, batched: every flush sends at most one call per kind. Progress is
 * coalesced to the latest value per attempt; log lines are kept in order. What cannot be sent
 * while the server is away stays queued and goes after the reconnect; the server accepts it if
 * the lease still holds and refuses it otherwise.
 */
export class Reporter {
  readonly #connection: Connection;
  readonly #onRefused: (attemptIds: string[]) => void;
  readonly #onUndeliverable: (error: unknown) => void;
  #started = new Map<string, LeaseRef>();
  #progress = new Map<string, LeaseRef & { progress: number | null; message: string | null }>();
  #logs = new Map<string, LeaseRef & { lines: LogLine[] }>();
  #finals = new Map<string, LeaseRef & Final>();
  #flushing: Promise<void> | undefined;
  /** A flush was asked for while one was under way: another follows it. */
  #again = false;
  #soon = false;
  #timer: NodeJS.Timeout | undefined;

  constructor(
    connection: Connection,
    onRefused: (attemptIds: string[]) => void,
    onUndeliverable: (error: unknown) => void = () => undefined,
    intervalMs = 100,
  ) {
    this.#connection = connection;
    this.#onRefused = onRefused;
    this.#onUndeliverable = onUndeliverable;
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
    // The outcome says the attempt ran: a start not yet sent would be a write for nothing.
    this.#started.delete(lease.attemptId);
    this.#finals.set(lease.attemptId, { ...lease, ...final });
    // Outcomes go at once, yet together with every other that ends in the same turn of the
    // event loop: fifty tasks ending together make one call, not one call and a wait.
    if (this.#soon) return;
    this.#soon = true;
    setImmediate(() => {
      this.#soon = false;
      void this.flush();
    });
  }

  /** Attempts with a final report not yet delivered. */
  get pendingFinals(): number {
    return this.#finals.size;
  }

  close(): void {
    clearInterval(this.#timer);
  }

  /**
   * Sends what is queued; one flush at a time, in order: started, progress, logs, outcomes. A
   * flush asked for while one is under way runs right after it.
   */
  flush(): Promise<void> {
    if (this.#flushing) {
      this.#again = true;
      return this.#flushing;
    }
    this.#flushing = this.#send().finally(() => {
      this.#flushing = undefined;
      if (this.#again) {
        this.#again = false;
        if (this.#connection.ready) void this.flush();
      }
    });
    return this.#flushing;
  }

  async #send(): Promise<void> {
    if (!this.#connection.ready) return;
    // What is queued now is what this flush sends; anything reported meanwhile waits for the
    // next one. Otherwise an outcome queued during this flush could overtake progress or log
    // lines of the same attempt queued before it, and they would arrive after its end.
    const started = [...this.#started.values()];
    const progress = [...this.#progress.values()];
    // Log lines stay queued until the server has them, like every other report: this flush sends
    // the lines queued now, and takes each piece off the front of its attempt's queue once
    // answered. Whatever ends the flush early leaves the rest queued, in order, ahead of lines
    // logged meanwhile.
    const logs = [...this.#logs.values()].map((batch) => ({ ...batch, lines: [...batch.lines] }));
    const finals = [...this.#finals.values()];
    const completes = finals.filter((f) => f.kind === 'complete');
    const failures = finals.filter((f) => f.kind === 'fail');
    const releases = finals.filter((f) => f.kind === 'release');
    const steps: [() => Promise<void>, () => void][] = [
      [
        () =>
          this.#sendBatch(this.#started, started, (leases) =>
            this.#call('tasks.started', { leases }),
          ),
        () => this.#drop(this.#started, started),
      ],
      [
        () =>
          this.#sendBatch(this.#progress, progress, (reports) =>
            this.#call('tasks.progress', { reports }),
          ),
        () => this.#drop(this.#progress, progress),
      ],
      [() => this.#sendLogs(logs), () => undefined],
      [
        () =>
          this.#sendBatch(this.#finals, completes, (reports) =>
            this.#call('tasks.complete', {
              reports: reports.map((f) => ({
                attemptId: f.attemptId,
                token: f.token,
                result: f.kind === 'complete' ? f.result : null,
              })),
            }),
          ),
        () => this.#drop(this.#finals, completes),
      ],
      [
        () =>
          this.#sendBatch(this.#finals, failures, (reports) =>
            this.#call('tasks.fail', {
              reports: reports.flatMap((f) =>
                f.kind === 'fail'
                  ? [{ attemptId: f.attemptId, token: f.token, error: f.error, retry: f.retry }]
                  : [],
              ),
            }),
          ),
        () => this.#drop(this.#finals, failures),
      ],
      [
        () =>
          this.#sendBatch(this.#finals, releases, (reports) =>
            this.#call('tasks.release', {
              reports: reports.flatMap((f) =>
                f.kind === 'release'
                  ? [{ attemptId: f.attemptId, token: f.token, reason: f.reason }]
                  : [],
              ),
            }),
          ),
        () => this.#drop(this.#finals, releases),
      ],
    ];
    for (const [send, drop] of steps) {
      try {
        await send();
      } catch (error) {
        // The connection lost (DROVER_E_CONNECTION_LOST), or the server could not take it now:
        // what was not acknowledged stays queued for the next flush, in order.
        if (isDroverError(error) && error.retryable) return;
        // A report the server will never take is dropped, so it cannot block the ones behind
        // it; the other kinds still go (a refused log line must not cost the task its result).
        this.#onUndeliverable(error);
        drop();
      }
    }
  }

  /**
   * Sends log lines in pieces the server takes (at most 1,000 lines and about 1 MiB a call), in
   * order. Each piece leaves the queue once the server answers it; one it refuses for good is
   * dropped, and the others still go.
   */
  async #sendLogs(batches: (LeaseRef & { lines: LogLine[] })[]): Promise<void> {
    const pieces: (LeaseRef & { lines: LogLine[] })[] = [];
    for (const batch of batches) {
      let lines: LogLine[] = [];
      let bytes = 0;
      for (const line of batch.lines) {
        if (lines.length > 0 && (lines.length >= 1000 || bytes + line.line.length > 1 << 20)) {
          pieces.push({ attemptId: batch.attemptId, token: batch.token, lines });
          lines = [];
          bytes = 0;
        }
        lines.push(line);
        bytes += line.line.length;
      }
      if (lines.length > 0) pieces.push({ attemptId: batch.attemptId, token: batch.token, lines });
    }
    for (const piece of pieces) {
      try {
        await this.#call('tasks.log', { batches: [piece] });
      } catch (error) {
        if (isDroverError(error) && error.retryable) throw error;
        this.#onUndeliverable(error);
      }
      this.#sentLogs(piece.attemptId, piece.lines.length);
    }
  }

  /**
   * The first `count` lines queued for an attempt are with the server (or refused for good):
   * they leave the queue. They are its oldest, since one flush runs at a time and sends them in
   * order; lines logged since stay behind them.
   */
  #sentLogs(attemptId: string, count: number): void {
    const queued = this.#logs.get(attemptId);
    if (!queued) return;
    queued.lines.splice(0, count);
    if (queued.lines.length === 0) this.#logs.delete(attemptId);
  }

  #drop<T extends LeaseRef>(queue: Map<string, T>, items: T[]): void {
    for (const item of items) if (queue.get(item.attemptId) === item) queue.delete(item.attemptId);
  }

  async #sendBatch<T extends LeaseRef>(
    queue: Map<string, T>,
    items: T[],
    send: (items: T[]) => Promise<void>,
  ): Promise<void> {
    if (items.length === 0) return;
    await send(items);
    // Only what was sent is removed: a newer report of the same attempt stays queued.
    for (const item of items) if (queue.get(item.attemptId) === item) queue.delete(item.attemptId);
  }

  /** Sends one kind of report; the attempts whose lease is gone are stopped. */
  async #call<M extends ReportMethod>(method: M, params: WorkerCallParams<M>): Promise<void> {
    const { refused }: { refused: string[] } = await this.#connection.call(method, params);
    if (refused.length > 0) this.#onRefused(refused);
  }
}
