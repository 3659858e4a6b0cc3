import { DroverError } from '@drover/protocol';
import type {
  Assignment,
  HostStats,
  LeaseRef,
  LogLine,
  ServerToWorker,
  WorkerRecord,
} from '@drover/protocol';
import type { WebSocket } from 'ws';

/**
 * One worker's connection: who it is once it said hello, and which attempts the server handed it
 * that have not ended. The free slots are what the dispatcher fills.
 */
export class WorkerSession {
  readonly ws: WebSocket;
  #worker: WorkerRecord | undefined;
  /** Attempts handed to this worker and not yet ended, by attempt id. */
  readonly held = new Map<string, LeaseRef>();
  /** The job of each attempt handed to this worker and not yet ended. */
  readonly #jobs = new Map<string, string>();
  /** Log characters written per attempt on this connection; -1 once the limit was reached. */
  readonly #logged = new Map<string, number>();
  /** False once the connection closed or another took its worker's place. */
  live = true;
  /** The token this connection said hello with, and whether it is an admin's. */
  tokenId: string | undefined;
  admin = false;
  /** The secret the worker said hello with: its proof of being the same worker on return. */
  instance: string | undefined;
  /** When the worker was last heard from (its hello or a heartbeat), in ms since the epoch. */
  heardAt = Date.now();
  /** The session the worker's registration opened: what this connection's writes are checked by. */
  generation = '0';
  /** The worker said it is leaving: it drains, whatever happens to its connection. */
  leaving = false;
  /** Host stats from the last heartbeat not yet written, if any. */
  unwrittenStats: HostStats | undefined;

  constructor(ws: WebSocket) {
    this.ws = ws;
  }

  get worker(): WorkerRecord | undefined {
    return this.#worker;
  }

  /** The worker behind this connection; a connection that has not said hello may do nothing. */
  requireWorker(): WorkerRecord {
    if (!this.#worker) {
      throw new DroverError(
        'DROVER_E_UNAUTHORIZED',
        'Say workers.hello with your worker token first.',
      );
    }
    return this.#worker;
  }

  identify(worker: WorkerRecord): void {
    this.#worker = worker;
  }

  /** How many more tasks the worker may take now: none unless it is online. */
  get freeSlots(): number {
    const worker = this.#worker;
    if (!worker || worker.state !== 'online' || this.ws.readyState !== this.ws.OPEN) return 0;
    return Math.max(0, worker.slots - this.held.size);
  }

  assign(assignments: Assignment[]): void {
    for (const a of assignments) {
      this.held.set(a.attemptId, { attemptId: a.attemptId, token: a.token });
      this.#jobs.set(a.attemptId, a.task.jobId);
    }
    this.notify('tasks.assign', { assignments });
  }

  release(attemptIds: Iterable<string>): void {
    for (const id of attemptIds) {
      this.held.delete(id);
      this.#jobs.delete(id);
      this.#logged.delete(id);
    }
  }

  /**
   * The log lines of a batch that fit in what an attempt may still log (in characters), the
   * rest dropped; the first batch to reach the limit ends with a line saying so.
   */
  capLog(attemptId: string, lines: LogLine[], max: number): LogLine[] {
    // Reports on attempts this worker does not hold are refused by the writer: nothing to count.
    if (!this.held.has(attemptId)) return lines;
    let used = this.#logged.get(attemptId) ?? 0;
    if (used < 0) return [];
    const kept: LogLine[] = [];
    for (const line of lines) {
      used += line.line.length;
      if (used > max) {
        this.#logged.set(attemptId, -1);
        kept.push({
          at: new Date().toISOString(),
          stream: 'log',
          line: `[drover: this attempt's log reached ${max} characters; later lines are dropped]`,
        });
        return kept;
      }
      kept.push(line);
    }
    this.#logged.set(attemptId, used);
    return kept;
  }

  /** Whether this worker runs a task of the job now: it may read the job's artifacts. */
  holdsJob(jobId: string): boolean {
    for (const job of this.#jobs.values()) if (job === jobId) return true;
    return false;
  }

  notify(method: ServerToWorker, params: unknown): void {
    if (this.ws.readyState === this.ws.OPEN)
      this.ws.send(JSON.stringify({ jsonrpc: '2.0', method, params }));
  }
}
