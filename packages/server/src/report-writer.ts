import type { Engine, Lease, ReportOutcome } from '@drover/engine';

type Reports = {
  progress: Parameters<Engine['reportProgress']>[0][number];
  log: Parameters<Engine['appendLogs']>[0][number];
  complete: Parameters<Engine['complete']>[0][number];
  fail: Parameters<Engine['fail']>[0][number];
  renew: Lease;
};
type Kind = keyof Reports;

/** Applied in this order within a flush, so an attempt's progress and logs land before its end. */
const KINDS: readonly Kind[] = ['progress', 'log', 'complete', 'fail', 'renew'];

interface Waiter<K extends Kind> {
  items: readonly Reports[K][];
  resolve: (accepted: ReadonlyMap<string, boolean>) => void;
  reject: (error: unknown) => void;
}

type Queues = { [K in Kind]: Waiter<K>[] };

export interface ReportWriterOptions {
  /** How long a lease lasts once renewed, in milliseconds. */
  leaseMs: number;
  /**
   * How long the first report of a quiet spell waits for others to join it, in milliseconds. 0
   * writes at once; reports that arrive while a write is under way always wait for the next.
   * @defaultValue 0
   */
  windowMs?: number;
  /**
   * At most this many reports of one kind share a statement; the rest go in the next write. Bounds
   * how long one write holds an embedded database, a single backend that other statements wait for.
   * @defaultValue 256
   */
  maxPerWrite?: number;
}

/**
 * Writes what every worker of this server reports (progress, log lines, results, failures and
 * lease renewals) in grouped statements: one statement per kind for all the reports that arrived
 * while the previous write was under way, never one per task or per worker. Each caller learns
 * which of its own reports were accepted.
 *
 * The guarantees are the engine's: a report with a stale lease is refused and recorded, an
 * attempt ends once. Two reports of one attempt and kind never share a statement (the second
 * waits for the next write), so each caller's outcome is its own.
 */
export class ReportWriter {
  readonly #engine: Engine;
  readonly #leaseMs: number;
  readonly #windowMs: number;
  readonly #maxPerWrite: number;
  #queues: Queues = emptyQueues();
  #writing: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #scheduled = false;

  constructor(engine: Engine, options: ReportWriterOptions) {
    this.#engine = engine;
    this.#leaseMs = options.leaseMs;
    this.#windowMs = options.windowMs ?? 0;
    this.#maxPerWrite = options.maxPerWrite ?? 256;
  }

  progress(reports: readonly Reports['progress'][]): Promise<ReportOutcome[]> {
    return this.#outcomes('progress', reports);
  }

  log(batches: readonly Reports['log'][]): Promise<ReportOutcome[]> {
    return this.#outcomes('log', batches);
  }

  complete(reports: readonly Reports['complete'][]): Promise<ReportOutcome[]> {
    return this.#outcomes('complete', reports);
  }

  fail(reports: readonly Reports['fail'][]): Promise<ReportOutcome[]> {
    return this.#outcomes('fail', reports);
  }

  /** Renews leases; resolves to the attempts that are no longer active (stale). */
  async renew(leases: readonly Lease[]): Promise<string[]> {
    if (leases.length === 0) return [];
    const outcomes = await this.#outcomes('renew', leases);
    return outcomes.filter((o) => !o.accepted).map((o) => o.attemptId);
  }

  /** Resolves once everything queued so far is written. */
  async drain(): Promise<void> {
    while (this.#writing || this.#scheduled)
      await (this.#writing ?? new Promise((resolve) => setImmediate(resolve)));
  }

  async #outcomes<K extends Kind>(kind: K, items: readonly Reports[K][]): Promise<ReportOutcome[]> {
    if (items.length === 0) return [];
    const accepted = await new Promise<ReadonlyMap<string, boolean>>((resolve, reject) => {
      (this.#queues[kind] as Waiter<K>[]).push({ items, resolve, reject });
      this.#schedule();
    });
    const seen = new Set<string>();
    return items.flatMap((item) =>
      seen.has(item.attemptId) || !seen.add(item.attemptId)
        ? []
        : [{ attemptId: item.attemptId, accepted: accepted.get(item.attemptId) ?? false }],
    );
  }

  #schedule(): void {
    if (this.#scheduled || this.#writing) return;
    this.#scheduled = true;
    const run = () => {
      this.#scheduled = false;
      this.#timer = undefined;
      this.#writing = this.#write().finally(() => {
        this.#writing = undefined;
        if (KINDS.some((k) => this.#queues[k].length > 0)) this.#schedule();
      });
    };
    // setImmediate lets every message already read from the sockets join this write.
    if (this.#windowMs > 0) this.#timer = setTimeout(run, this.#windowMs);
    else setImmediate(run);
  }

  async #write(): Promise<void> {
    const queues = this.#queues;
    this.#queues = emptyQueues();
    for (const kind of KINDS) await this.#writeKind(kind, queues[kind]);
  }

  async #writeKind<K extends Kind>(kind: K, waiters: Waiter<K>[]): Promise<void> {
    if (waiters.length === 0) return;
    const taken: Waiter<K>[] = [];
    const ids = new Set<string>();
    for (const waiter of waiters) {
      const full = taken.length > 0 && ids.size + waiter.items.length > this.#maxPerWrite;
      if (full || waiter.items.some((item) => ids.has(item.attemptId))) {
        // The write is full, or another caller reports on one of these attempts in it: wait
        // for the next.
        (this.#queues[kind] as Waiter<K>[]).push(waiter);
        continue;
      }
      for (const item of waiter.items) ids.add(item.attemptId);
      taken.push(waiter);
    }
    try {
      const accepted = await this.#apply(
        kind,
        taken.flatMap((w) => w.items),
      );
      for (const waiter of taken) waiter.resolve(accepted);
    } catch (error) {
      for (const waiter of taken) waiter.reject(error);
    }
  }

  async #apply<K extends Kind>(kind: K, items: Reports[K][]): Promise<Map<string, boolean>> {
    const engine = this.#engine;
    let outcomes: ReportOutcome[];
    switch (kind) {
      case 'progress':
        outcomes = await engine.reportProgress(items);
        break;
      case 'log':
        outcomes = await engine.appendLogs(items as Reports['log'][]);
        break;
      case 'complete':
        outcomes = await engine.complete(items as Reports['complete'][]);
        break;
      case 'fail':
        outcomes = await engine.fail(items as Reports['fail'][]);
        break;
      default: {
        const { renewed } = await engine.renewLeases(items, this.#leaseMs);
        return new Map(renewed.map((r) => [r.attemptId, true]));
      }
    }
    const accepted = new Map<string, boolean>();
    // With duplicates in one report, any refusal of the attempt counts.
    for (const o of outcomes)
      accepted.set(o.attemptId, (accepted.get(o.attemptId) ?? true) && o.accepted);
    return accepted;
  }

  close(): void {
    clearTimeout(this.#timer);
  }
}

function emptyQueues(): Queues {
  return { progress: [], log: [], complete: [], fail: [], renew: [] };
}
