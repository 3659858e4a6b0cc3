import { WebSocket } from 'ws';
import {
  RpcSocket,
  compareCursors,
  isDroverError,
  isTerminalJobStatus,
  siteIdempotencyKey,
  topics,
} from '@drover/protocol';
import type {
  EventBatch,
  EventRecord,
  JobRecord,
  MethodName,
  MethodParams,
  MethodResult,
  WebSocketLike,
} from '@drover/protocol';
import { UnmappedSiteTask } from '@drover/engine';
import type { Engine, SiteJob, SiteLinkTarget } from '@drover/engine';

export interface SiteLinkOptions {
  /** How often the link looks for work (new jobs, cancels, finished logs). @defaultValue 500 */
  tickMs?: number;
  /** Back-off between reconnects to the site. @defaultValue 250 to 10,000 ms */
  reconnect?: { initialMs?: number; maxMs?: number };
  onError: (error: unknown, where: string) => void;
}

/** Events read per `events.read` when a finished task's log is read to its end. */
const LOG_PAGE = 1000;

interface Followed {
  /** What is followed: `j:<job id>` or `l:<task id>`, this farm's ids. */
  key: string;
  /** The subscription's id on the site's connection: new for each watch. */
  id: string;
  topic: string;
  /** Applied up to here; a reconnect subscribes again from it. */
  cursor: string;
  /** Batches are applied one after another. */
  chain: Promise<void>;
  apply: (events: EventRecord[], cursor: string) => Promise<void>;
}

/**
 * One site, as one server of the farm reaches it: a JSON-RPC connection signed in with the
 * site's token, over which the site's jobs are submitted, their topics followed from the cursors
 * kept in the database, and cancels and retries sent. What the site reports is applied to this
 * farm's records (see `Sites`), so that this farm's clients see its jobs as their own.
 */
export class SiteLink {
  readonly site: SiteLinkTarget;
  readonly #engine: Engine;
  readonly #options: SiteLinkOptions;
  readonly #rpc: RpcSocket;
  /** By key. */
  readonly #followed = new Map<string, Followed>();
  /** By subscription id. */
  readonly #subscriptions = new Map<string, Followed>();
  #watches = 0;
  /** Work under way, by key, so that a tick never starts the same thing twice. */
  readonly #busy = new Set<string>();
  #timer: NodeJS.Timeout | undefined;
  #ticking: Promise<void> | undefined;
  #closed = false;
  #farmId = '';

  constructor(engine: Engine, site: SiteLinkTarget, options: SiteLinkOptions) {
    this.#engine = engine;
    this.site = site;
    this.#options = options;
    this.#rpc = new RpcSocket({
      urls: [`${site.url.replace(/^http/, 'ws')}/ws`],
      connect: (url) => new WebSocket(url) as unknown as WebSocketLike,
      greet: async () => {
        await this.#rpc.call('auth.login', { token: site.token }, { greeting: true });
      },
      onNotification: (method, params) => {
        if (method === 'events.batch') this.#deliver(params as EventBatch);
      },
      onStateChange: (state, change) => {
        if (state === 'open') {
          void this.#engine.sites
            .setError(site.name, null)
            .catch((e: unknown) => this.#options.onError(e, `site ${site.name}`));
          for (const followed of this.#followed.values()) this.#subscribe(followed);
          this.poke();
        } else if (state === 'reconnecting' && change.error) {
          void this.#engine.sites
            .setError(site.name, `unreachable: ${change.error.message}`)
            .catch((e: unknown) => this.#options.onError(e, `site ${site.name}`));
        }
      },
      reconnect: options.reconnect ?? { initialMs: 250, maxMs: 10_000 },
      callTimeoutMs: 60_000,
    });
  }

  async start(): Promise<void> {
    this.#farmId = await this.#engine.farmId();
    this.#rpc.start();
    this.#timer = setInterval(() => this.poke(), this.#options.tickMs ?? 500);
    this.poke();
  }

  /** Looks for work now (a job submitted, cancelled or retried here). */
  poke(): void {
    if (this.#closed || this.#ticking) return;
    this.#ticking = this.#tick()
      .catch((error: unknown) => this.#options.onError(error, `site ${this.site.name}`))
      .finally(() => {
        this.#ticking = undefined;
      });
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    this.#rpc.close();
    await this.#ticking;
    await Promise.all([...this.#followed.values()].map((f) => f.chain));
    this.#followed.clear();
    this.#subscriptions.clear();
  }

  async #tick(): Promise<void> {
    const jobs = await this.#engine.sites.activeJobs(this.site.name);
    for (const job of jobs) {
      if (this.#closed) return;
      if (job.state === 'pending' || job.state === 'submitting') await this.#submit(job);
      else if (job.state === 'following') await this.#follow(job);
    }
  }

  async #call<M extends MethodName>(method: M, params: MethodParams<M>): Promise<MethodResult<M>> {
    return (await this.#rpc.call(method, params)) as MethodResult<M>;
  }

  /** Sends the job to the site under a key derived from it: sent twice, it is one job there. */
  async #submit(job: SiteJob): Promise<void> {
    const sites = this.#engine.sites;
    if (!this.#rpc.ready) {
      await sites.waiting(job.jobId, `site ${this.site.name} unreachable, retrying`);
      return;
    }
    if (!(await sites.startSubmitting(job.jobId))) return;
    let remote: JobRecord;
    try {
      ({ job: remote } = await this.#call('jobs.submit', {
        ...(job.submission as MethodParams<'jobs.submit'>),
        idempotencyKey: siteIdempotencyKey(this.#farmId, job.jobId),
      }));
    } catch (error) {
      if (isDroverError(error) && !error.retryable && error.code !== 'DROVER_E_CONNECTION_LOST') {
        await sites.refused(job.jobId, this.site.name, error);
        return;
      }
      await sites.waiting(job.jobId, `site ${this.site.name} unreachable, retrying`);
      return;
    }
    await sites.forwarded(job.jobId, remote.id);
  }

  /** Follows the site's job: its topic, its tasks' logs, and what was asked of it here. */
  async #follow(job: SiteJob): Promise<void> {
    const remoteJobId = job.remoteJobId;
    if (remoteJobId === null) return;
    if (!this.#followed.has(`j:${job.jobId}`)) {
      this.#watch(`j:${job.jobId}`, topics.job(remoteJobId), job.cursor, (events, c) =>
        this.#applyJobEvents(job.jobId, events, c),
      );
    }
    if (!this.#rpc.ready) return;
    if (job.cancelReason !== null) {
      const reason = job.cancelReason;
      await this.#ask(`cancel:${job.jobId}`, async () => {
        await this.#call('jobs.cancel', { id: remoteJobId, reason });
        await this.#engine.sites.cancelTaken(job.jobId, reason);
      });
    } else if (job.retryRequested) {
      await this.#ask(`retry:${job.jobId}`, async () => {
        await this.#call('jobs.retry', { id: remoteJobId });
        await this.#engine.sites.retryTaken(job.jobId);
      });
    }
    await this.#followLogs(job);
  }

  /** Sends a cancel or retry; a refusal for good is dropped (logged), a passing one tried again. */
  async #ask(key: string, send: () => Promise<void>): Promise<void> {
    if (this.#busy.has(key)) return;
    this.#busy.add(key);
    try {
      await send();
    } catch (error) {
      if (isDroverError(error) && error.retryable) return;
      this.#options.onError(error, `site ${this.site.name}: ${key}`);
      const [what = '', jobId = ''] = key.split(':');
      if (what === 'cancel') await this.#engine.sites.cancelTaken(jobId, '');
      if (what === 'retry') await this.#engine.sites.retryTaken(jobId);
    } finally {
      this.#busy.delete(key);
    }
  }

  async #followLogs(job: SiteJob): Promise<void> {
    const logs = await this.#engine.sites.pendingLogs(job.jobId);
    for (const log of logs) {
      const id = `l:${log.taskId}`;
      if (!log.finished) {
        if (!this.#followed.has(id))
          this.#watch(id, topics.taskLog(log.remoteTaskId), log.cursor, (events, c) =>
            this.#engine.sites.applyLog(log.taskId, events, c),
          );
        continue;
      }
      // Finished: its log is read to the end, then no longer followed.
      if (this.#busy.has(id) || !this.#rpc.ready) continue;
      this.#busy.add(id);
      try {
        await this.#unwatch(id);
        for (let cursor = log.cursor; ;) {
          const page = await this.#call('events.read', {
            topic: topics.taskLog(log.remoteTaskId),
            after: cursor,
            limit: LOG_PAGE,
          });
          const end = page.events.length < LOG_PAGE;
          await this.#engine.sites.applyLog(log.taskId, page.events, page.cursor, end);
          if (end) break;
          cursor = page.cursor;
        }
      } catch (error) {
        if (!isDroverError(error) || !error.retryable)
          this.#options.onError(error, `site ${this.site.name}: the log of task ${log.taskId}`);
      } finally {
        this.#busy.delete(id);
      }
    }
    if (
      isTerminalJobStatus(job.status) &&
      logs.length === 0 &&
      job.cancelReason === null &&
      !job.retryRequested &&
      job.remoteJobId !== null &&
      this.#rpc.ready
    ) {
      // Done only once the site's job has ended as this one shows: a retry the site took may not
      // have reached the mirror yet, and its events must still be followed.
      try {
        const there = await this.#call('jobs.get', { id: job.remoteJobId });
        if (there.status !== job.status) return;
      } catch (error) {
        if (!isDroverError(error) || !error.retryable)
          this.#options.onError(error, `site ${this.site.name}: job ${job.jobId}`);
        return;
      }
      await this.#unwatch(`j:${job.jobId}`);
      await this.#engine.sites.done(job.jobId);
    }
  }

  #watch(
    key: string,
    topic: string,
    cursor: string,
    apply: (events: EventRecord[], cursor: string) => Promise<unknown>,
  ): void {
    const followed: Followed = {
      key,
      id: `${key}.${++this.#watches}`,
      topic,
      cursor,
      chain: Promise.resolve(),
      apply: async (events, c) => {
        await apply(events, c);
      },
    };
    this.#followed.set(key, followed);
    this.#subscriptions.set(followed.id, followed);
    if (this.#rpc.ready) this.#subscribe(followed);
  }

  /** Stops following; a later tick may follow again, from the cursor in the database. */
  async #unwatch(key: string): Promise<void> {
    const followed = this.#followed.get(key);
    if (!followed) return;
    this.#forget(followed);
    await followed.chain;
    if (this.#rpc.ready)
      await this.#call('events.unsubscribe', { subscription: followed.id }).catch(() => undefined);
  }

  #forget(followed: Followed): void {
    if (this.#followed.get(followed.key) === followed) this.#followed.delete(followed.key);
    this.#subscriptions.delete(followed.id);
  }

  #subscribe(followed: Followed): void {
    this.#call('events.subscribe', {
      subscription: followed.id,
      topic: followed.topic as MethodParams<'events.subscribe'>['topic'],
      cursor: followed.cursor,
    }).catch((error: unknown) => {
      // Lost with the connection: subscribed again when it is back. Refused: dropped, and taken
      // up again by a later tick.
      if (isDroverError(error, 'DROVER_E_CONNECTION_LOST')) return;
      this.#forget(followed);
      this.#options.onError(error, `site ${this.site.name}: following ${followed.topic}`);
    });
  }

  #deliver(batch: EventBatch): void {
    const followed = this.#subscriptions.get(batch.subscription);
    if (!followed) return;
    followed.chain = followed.chain.then(async () => {
      if (this.#subscriptions.get(followed.id) !== followed) return;
      if (compareCursors(batch.cursor, followed.cursor) <= 0) return;
      try {
        await followed.apply(batch.events, batch.cursor);
        followed.cursor = batch.cursor;
      } catch (error) {
        // Not applied: subscribe again from the last cursor applied.
        this.#options.onError(error, `site ${this.site.name}: applying ${followed.topic}`);
        this.#forget(followed);
        if (this.#rpc.ready)
          await this.#call('events.unsubscribe', { subscription: followed.id }).catch(
            () => undefined,
          );
      }
    });
  }

  async #applyJobEvents(jobId: string, events: EventRecord[], cursor: string): Promise<void> {
    for (;;) {
      try {
        await this.#engine.sites.applyEvents(jobId, events, cursor);
        return;
      } catch (error) {
        if (!(error instanceof UnmappedSiteTask)) throw error;
        const task = await this.#call('tasks.get', { id: error.remoteTaskId });
        await this.#engine.sites.mapTask(jobId, task.index, task.id);
      }
    }
  }
}
