import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Engine } from '@drover/engine';
import type { Assignment, JobRecord } from '@drover/protocol';

/** How an attempt this server saw through ended. */
export type AttemptOutcome = 'succeeded' | 'failed' | 'released' | 'timed_out' | 'lost';

/** The worker reports a server can refuse. */
export type ReportKind = 'progress' | 'log' | 'result' | 'failure' | 'release';

/**
 * Why: the attempt is no longer the worker's (its lease ran out, it was cancelled or given to
 * another worker), or this server had begun to stop and took nothing.
 */
export type RefusalReason = 'stale_lease' | 'server_stopping';

/** What the rest of the server tells the metrics as work goes through it. */
export interface WorkMetrics {
  submitted(job: JobRecord): void;
  claimed(assignments: readonly Assignment[]): void;
  ended(attemptIds: readonly string[], outcome: AttemptOutcome): void;
  refused(report: ReportKind, reason: RefusalReason, count: number): void;
}

/** What a server counts of its own connections, read at each scrape. */
export interface ConnectionCounts {
  websockets: () => number;
  workers: () => number;
  subscriptions: () => number;
}

export interface ServerMetricsOptions {
  engine: Engine;
  /** This replica's id in the farm (known once its hub exists). */
  serverId: () => string;
  connections: ConnectionCounts;
  /**
   * The farm's gauges (read from the database) are read at most once in this time, in ms:
   * scrapes in between, from however many scrapers, share one query. @defaultValue 1,500
   */
  cacheMs?: number;
}

/** Attempts whose start this server remembers, for their run time; the oldest go past this. */
const MAX_TRACKED = 100_000;

/** Seconds: tasks run from a fraction of a second (tests, thumbnails) to hours (renders). */
const RUN_BUCKETS = [
  0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 1800, 3600, 7200, 21600,
];

/** The process's own metrics (CPU, memory, event-loop delay, GC), made once per process. */
let processRegistry: Registry | undefined;

function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry, prefix: 'drover_' });
  }
  return processRegistry;
}

/**
 * A server's metrics in Prometheus' text format. Counters count what went through this server
 * process since it started (each replica its own: Prometheus sums them over instances); the
 * farm's gauges (tasks by status, the queue, workers by state) are the database's, the same from
 * every replica; the connection gauges are this process's.
 */
export class ServerMetrics implements WorkMetrics {
  readonly #options: ServerMetricsOptions;
  readonly #registry = new Registry();
  readonly #cacheMs: number;
  /** Attempts handed out here: their task type and when, for their run time. */
  readonly #started = new Map<string, { taskType: string; at: number }>();
  #farm: { at: number; reading: Promise<void> } | undefined;

  readonly #jobsSubmitted: Counter<'group' | 'task_type'>;
  readonly #tasksSubmitted: Counter<'group' | 'task_type'>;
  readonly #claimed: Counter<'task_type'>;
  readonly #ended: Counter<'outcome'>;
  readonly #runSeconds: Histogram<'task_type'>;
  readonly #refused: Counter<'report' | 'reason'>;
  readonly #tasks: Gauge<'status' | 'group' | 'task_type'>;
  readonly #queueDepth: Gauge<'task_type'>;
  readonly #queueAge: Gauge<'task_type'>;
  readonly #workers: Gauge<'state'>;
  readonly #databaseUp: Gauge;
  readonly #farmQuerySeconds: Gauge;

  constructor(options: ServerMetricsOptions) {
    this.#options = options;
    this.#cacheMs = options.cacheMs ?? 1500;
    const registers = [this.#registry];
    const { connections, engine } = options;
    new Gauge({
      name: 'drover_server_info',
      help: 'This server replica: always 1, labelled with its id in the farm.',
      labelNames: ['server_id', 'database'],
      registers,
      collect() {
        this.reset();
        this.set({ server_id: options.serverId(), database: engine.kind }, 1);
      },
    });
    this.#jobsSubmitted = new Counter({
      name: 'drover_jobs_submitted_total',
      help: 'Jobs submitted through this server (a resubmission under a used idempotency key is not counted).',
      labelNames: ['group', 'task_type'],
      registers,
    });
    this.#tasksSubmitted = new Counter({
      name: 'drover_tasks_submitted_total',
      help: 'Tasks of the jobs submitted through this server.',
      labelNames: ['group', 'task_type'],
      registers,
    });
    this.#claimed = new Counter({
      name: 'drover_tasks_claimed_total',
      help: "Tasks this server's dispatcher claimed for its workers (each claim starts an attempt).",
      labelNames: ['task_type'],
      registers,
    });
    this.#ended = new Counter({
      name: 'drover_attempts_ended_total',
      help: 'Attempts ended through this server, by outcome: succeeded, failed (reported by the worker), released (given back unfinished), timed_out, lost (lease ran out or worker disconnected).',
      labelNames: ['outcome'],
      registers,
    });
    this.#runSeconds = new Histogram({
      name: 'drover_task_run_seconds',
      help: "Seconds from a task's claim to its worker's result or failure, for attempts claimed and reported through this server.",
      labelNames: ['task_type'],
      buckets: RUN_BUCKETS,
      registers,
    });
    this.#refused = new Counter({
      name: 'drover_reports_refused_total',
      help: "Worker reports this server refused, by report and reason (stale_lease: the attempt is no longer the worker's; server_stopping).",
      labelNames: ['report', 'reason'],
      registers,
    });
    this.#tasks = new Gauge({
      name: 'drover_tasks',
      help: "Tasks in the farm by status, group and their job's task type (from the database).",
      labelNames: ['status', 'group', 'task_type'],
      registers,
    });
    this.#queueDepth = new Gauge({
      name: 'drover_queue_depth',
      help: 'Tasks a worker may take now (queued, due, their job not paused), by task type (from the database).',
      labelNames: ['task_type'],
      registers,
    });
    this.#queueAge = new Gauge({
      name: 'drover_queue_oldest_wait_seconds',
      help: 'How long the task waiting longest has been claimable, in seconds, by task type (from the database).',
      labelNames: ['task_type'],
      registers,
    });
    this.#workers = new Gauge({
      name: 'drover_workers',
      help: 'Workers known to the farm by state (from the database).',
      labelNames: ['state'],
      registers,
    });
    this.#databaseUp = new Gauge({
      name: 'drover_database_up',
      help: "1 when this scrape's query of the farm's gauges succeeded, else 0 (and those gauges are absent).",
      registers,
    });
    this.#farmQuerySeconds = new Gauge({
      name: 'drover_metrics_query_seconds',
      help: "How long the last read of the farm's gauges took, in seconds.",
      registers,
    });
    const load = () => engine.databaseLoad();
    new Gauge({
      name: 'drover_database_connections',
      help: 'Connections to the database this process holds (PGlite: its one backend).',
      registers,
      collect() {
        this.set(load().total);
      },
    });
    new Gauge({
      name: 'drover_database_connections_idle',
      help: 'Of those, the ones not in use.',
      registers,
      collect() {
        this.set(load().idle);
      },
    });
    new Gauge({
      name: 'drover_database_queries_waiting',
      help: 'Queries of this process waiting for a connection (PGlite: for its one backend).',
      registers,
      collect() {
        this.set(load().waiting);
      },
    });
    new Gauge({
      name: 'drover_websocket_connections',
      help: 'WebSocket connections open on this server: clients, dashboards and workers.',
      registers,
      collect() {
        this.set(connections.websockets());
      },
    });
    new Gauge({
      name: 'drover_workers_connected',
      help: 'Workers connected to this server and registered (said hello).',
      registers,
      collect() {
        this.set(connections.workers());
      },
    });
    new Gauge({
      name: 'drover_subscriptions',
      help: 'Live event subscriptions on this server.',
      registers,
      collect() {
        this.set(connections.subscriptions());
      },
    });
  }

  /** The content type of `text()`. */
  get contentType(): string {
    return this.#registry.contentType;
  }

  /** Every metric, the farm's gauges read (or taken from the last read, if recent enough). */
  async text(): Promise<string> {
    await this.#readFarm();
    const own = await this.#registry.metrics();
    return `${await processMetrics().metrics()}\n${own}`;
  }

  submitted(job: JobRecord): void {
    const labels = { group: job.group, task_type: job.taskType };
    this.#jobsSubmitted.inc(labels);
    this.#tasksSubmitted.inc(labels, job.taskCount);
  }

  claimed(assignments: readonly Assignment[]): void {
    const at = performance.now();
    for (const a of assignments) {
      this.#claimed.inc({ task_type: a.task.taskType });
      this.#started.set(a.attemptId, { taskType: a.task.taskType, at });
    }
    // Attempts that ended where this server did not see it (reaped by another replica) would
    // stay: the oldest go.
    for (const id of this.#started.keys()) {
      if (this.#started.size <= MAX_TRACKED) break;
      this.#started.delete(id);
    }
  }

  ended(attemptIds: readonly string[], outcome: AttemptOutcome): void {
    if (attemptIds.length === 0) return;
    this.#ended.inc({ outcome }, attemptIds.length);
    const now = performance.now();
    for (const id of attemptIds) {
      const start = this.#started.get(id);
      if (!start) continue;
      this.#started.delete(id);
      if (outcome === 'succeeded' || outcome === 'failed')
        this.#runSeconds.observe({ task_type: start.taskType }, (now - start.at) / 1000);
    }
  }

  refused(report: ReportKind, reason: RefusalReason, count: number): void {
    if (count > 0) this.#refused.inc({ report, reason }, count);
  }

  /** One read of the farm's gauges per `cacheMs`, shared by the scrapes that ask meanwhile. */
  #readFarm(): Promise<void> {
    const now = performance.now();
    if (this.#farm && now - this.#farm.at < this.#cacheMs) return this.#farm.reading;
    const reading = this.#queryFarm();
    this.#farm = { at: now, reading };
    return reading;
  }

  async #queryFarm(): Promise<void> {
    const started = performance.now();
    try {
      const gauges = await this.#options.engine.farmGauges();
      this.#tasks.reset();
      this.#queueDepth.reset();
      this.#queueAge.reset();
      this.#workers.reset();
      for (const t of gauges.tasks)
        this.#tasks.set({ status: t.status, group: t.group, task_type: t.taskType }, t.count);
      for (const q of gauges.queue) {
        this.#queueDepth.set({ task_type: q.taskType }, q.depth);
        this.#queueAge.set({ task_type: q.taskType }, q.oldestWaitSeconds);
      }
      for (const w of gauges.workers) this.#workers.set({ state: w.state }, w.count);
      this.#databaseUp.set(1);
    } catch {
      // The scrape still answers with what this process knows; readyz says why.
      this.#tasks.reset();
      this.#queueDepth.reset();
      this.#queueAge.reset();
      this.#workers.reset();
      this.#databaseUp.set(0);
    }
    this.#farmQuerySeconds.set((performance.now() - started) / 1000);
  }
}
