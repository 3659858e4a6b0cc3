import { DroverError, compareCursors } from '@drover/protocol';
import type { EventBatch, EventRecord, TaskSummary } from '@drover/protocol';
import type { Engine } from '@drover/engine';

/** Where a subscription's batches go: one client's WebSocket. */
export interface Subscriber {
  send(batch: EventBatch): void;
  /** Bytes queued on the socket and not yet sent: a client that falls far behind is dropped. */
  readonly backlog: number;
  /** Ends the connection; the client reconnects and resumes from its cursor. */
  drop(reason: string): void;
}

export interface FanoutOptions {
  /**
   * At most one batch per subscription in this time: updates of the same job, task or worker in
   * between are coalesced into their newest. An event after a quiet spell goes at once.
   * @defaultValue 200
   */
  coalesceMs?: number;
  /** How often a topic with subscribers is read even without a notification. @defaultValue 2,000 */
  pollMs?: number;
  /** A subscriber with more than this many bytes unsent is dropped. @defaultValue 16 MiB */
  maxBacklogBytes?: number;
  /** Subscriptions one connection may hold at once. @defaultValue 256 */
  maxPerConnection?: number;
  onError(error: unknown, where: string): void;
}

const PAGE = 1000;

/** Kinds whose event carries the whole new state of its subject: only the newest one matters. */
const LATEST_WINS = new Set(['job.updated', 'worker.updated']);

/** Statuses of work under way: an event that only moves such work along may wait to be coalesced. */
const UNDER_WAY = new Set(['queued', 'leased', 'running']);

/**
 * Whether an event changes something's state rather than moving work along: floods of progress
 * and log lines are coalesced, an ended task or job, a new job or a worker's change never wait.
 */
function changesState(event: EventRecord): boolean {
  switch (event.kind) {
    case 'task.log':
      return false;
    case 'tasks.updated':
      return event.data.tasks.some((t) => t.status !== 'leased' && t.status !== 'running');
    case 'job.updated':
      return !UNDER_WAY.has(event.data.status);
    default:
      return true;
  }
}

class Subscription {
  /** The cursor of the last event taken into this subscription (sent or buffered). */
  cursor: string;
  #buffer: EventRecord[] = [];
  #lastSent = 0;
  #timer: NodeJS.Timeout | undefined;
  closed = false;

  constructor(
    readonly id: string,
    readonly topic: string,
    cursor: string,
    readonly subscriber: Subscriber,
    readonly coalesceMs: number,
  ) {
    this.cursor = cursor;
  }

  /**
   * Takes the events after this subscription's cursor, coalescing updates, and schedules a send:
   * at once when one of them changes a state (a task or job ended, a worker changed), else at the
   * end of the coalescing window.
   */
  take(events: readonly EventRecord[]): void {
    if (this.closed) return;
    let urgent = false;
    for (const event of events) {
      if (compareCursors(event.cursor, this.cursor) <= 0) continue;
      this.cursor = event.cursor;
      this.#coalesce(event);
      urgent ||= changesState(event);
    }
    if (this.#buffer.length === 0) return;
    if (this.#buffer.length >= PAGE || urgent) return this.flush();
    if (this.#timer) return;
    const wait = this.#lastSent + this.coalesceMs - Date.now();
    if (wait <= 0) this.flush();
    else this.#timer = setTimeout(() => this.flush(), wait);
  }

  #coalesce(event: EventRecord): void {
    const earlier = this.#buffer.findIndex(
      (e) =>
        e.subject === event.subject &&
        e.kind === event.kind &&
        (LATEST_WINS.has(e.kind) || e.kind === 'tasks.updated'),
    );
    if (earlier < 0) {
      this.#buffer.push(event);
      return;
    }
    const [previous] = this.#buffer.splice(earlier, 1);
    if (event.kind === 'tasks.updated' && previous?.kind === 'tasks.updated') {
      // One job's task changes: keep each task's newest summary, in task order.
      const merged = new Map<string, TaskSummary>();
      for (const task of [...previous.data.tasks, ...event.data.tasks]) merged.set(task.id, task);
      const tasks = [...merged.values()].sort((a, b) => a.index - b.index);
      this.#buffer.push({ ...event, data: { ...event.data, tasks } });
      return;
    }
    this.#buffer.push(event);
  }

  flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.closed || this.#buffer.length === 0) return;
    const events = this.#buffer;
    this.#buffer = [];
    this.#lastSent = Date.now();
    this.subscriber.send({ subscription: this.id, events, cursor: this.cursor });
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.#timer);
  }
}

/**
 * One topic's reader: a cursor of its own, started at the topic's head when the feed is made and
 * moved only by its own reads, and the subscriptions that have caught up with it.
 */
class Feed {
  cursor = '';
  readonly subscriptions = new Set<Subscription>();
  /** Subscriptions still replaying: the feed stays while there are any. */
  attaching = 0;
  #seeded = false;
  #chain: Promise<void> = Promise.resolve();
  #wanted = false;
  #retry: NodeJS.Timeout | undefined;

  constructor(
    readonly topic: string,
    readonly engine: Engine,
    readonly onError: FanoutOptions['onError'],
  ) {}

  /** Runs `step` after every step queued before it: reads of one topic never overlap. */
  serial(step: () => Promise<void>): Promise<void> {
    const next = this.#chain.then(step);
    this.#chain = next.catch((error: unknown) => this.onError(error, `events of ${this.topic}`));
    return next;
  }

  /** Reads what is new and hands it to the subscriptions; coalesces wake-ups that pile up. */
  wake(retryMs = 0): void {
    if (this.#wanted || !this.#seeded || this.unused) return;
    this.#wanted = true;
    void this.serial(async () => {
      this.#wanted = false;
      const found = await this.#readNew();
      // On a PostgreSQL server an event becomes readable only once older writers have ended: a
      // notification that found nothing looks again shortly.
      if (found) clearTimeout(this.#retry);
      else if (retryMs > 0 && retryMs < 2000) {
        clearTimeout(this.#retry);
        this.#retry = setTimeout(() => this.wake(retryMs * 4), retryMs);
      }
    });
  }

  async #readNew(): Promise<boolean> {
    let found = false;
    for (;;) {
      const page = await this.engine.readEvents({
        topic: this.topic,
        after: this.cursor,
        limit: PAGE,
      });
      this.cursor = page.cursor;
      if (page.events.length === 0) return found;
      found = true;
      for (const s of this.subscriptions) s.take(page.events);
      if (page.events.length < PAGE) return found;
    }
  }

  /** Replays what `s` missed, then attaches it: from then on it gets what the feed reads. */
  attach(s: Subscription): Promise<void> {
    this.attaching += 1;
    return this.serial(async () => {
      if (!this.#seeded) {
        // Before the first replay: everything up to here is then replayed to each subscription.
        this.cursor = await this.engine.headCursor(this.topic);
        this.#seeded = true;
      }
      let cursor = s.cursor;
      while (!s.closed) {
        const page = await this.engine.readEvents({
          topic: this.topic,
          after: cursor,
          limit: PAGE,
        });
        cursor = page.cursor;
        s.take(page.events);
        if (page.events.length < PAGE) break;
      }
      // The replay ran after every read of the feed so far, so it reached at least the feed's
      // cursor; the overlap is dropped by the subscription, which takes each event once.
      if (!s.closed) this.subscriptions.add(s);
    }).finally(() => {
      this.attaching -= 1;
    });
  }

  get unused(): boolean {
    return this.subscriptions.size === 0 && this.attaching === 0;
  }

  close(): void {
    clearTimeout(this.#retry);
  }
}

/**
 * Subscriptions to event topics for clients on WebSockets, on every server replica: each reads
 * the database's event log when its NOTIFY says a topic changed, and on a slow poll besides.
 */
export class EventFanout {
  readonly #engine: Engine;
  readonly #options: Required<Omit<FanoutOptions, 'onError'>> & Pick<FanoutOptions, 'onError'>;
  readonly #feeds = new Map<string, Feed>();
  readonly #bySubscriber = new Map<Subscriber, Map<string, Subscription>>();
  #unlisten: (() => Promise<void>) | undefined;
  #poll: NodeJS.Timeout | undefined;

  constructor(engine: Engine, options: FanoutOptions) {
    this.#engine = engine;
    this.#options = {
      coalesceMs: options.coalesceMs ?? 200,
      pollMs: options.pollMs ?? 2000,
      maxBacklogBytes: options.maxBacklogBytes ?? 16 * 1024 * 1024,
      maxPerConnection: options.maxPerConnection ?? 256,
      onError: (error, where) => options.onError(error, where),
    };
  }

  async start(): Promise<void> {
    this.#unlisten = await this.#engine.listen((payload) => {
      if (payload === 'queue') return;
      if (payload === '*') {
        for (const feed of this.#feeds.values()) feed.wake(50);
        return;
      }
      for (const topic of payload.split('\n')) this.#feeds.get(topic)?.wake(50);
    });
    this.#poll = setInterval(() => {
      for (const feed of this.#feeds.values()) feed.wake();
    }, this.#options.pollMs).unref();
  }

  async close(): Promise<void> {
    clearInterval(this.#poll);
    await this.#unlisten?.();
    for (const subscriber of [...this.#bySubscriber.keys()]) this.dropSubscriber(subscriber);
  }

  /** Starts a subscription: the replay from `cursor` is sent first, then what comes. */
  async subscribe(
    subscriber: Subscriber,
    id: string,
    topic: string,
    cursor: string,
  ): Promise<void> {
    let mine = this.#bySubscriber.get(subscriber);
    if (!mine) this.#bySubscriber.set(subscriber, (mine = new Map<string, Subscription>()));
    if (mine.has(id)) {
      throw new DroverError(
        'DROVER_E_INVALID_PARAMS',
        `This connection already has a subscription ${id}; name each one differently.`,
      );
    }
    if (mine.size >= this.#options.maxPerConnection) {
      throw new DroverError(
        'DROVER_E_INVALID_REQUEST',
        `A connection may hold at most ${this.#options.maxPerConnection} subscriptions; close some first.`,
      );
    }
    // The name is taken before anything is awaited, so a second subscribe under it, an
    // unsubscribe or the socket's close meanwhile all see it.
    const s = new Subscription(
      id,
      topic,
      cursor,
      this.#guard(subscriber),
      this.#options.coalesceMs,
    );
    mine.set(id, s);
    const current = () => this.#bySubscriber.get(subscriber)?.get(id) === s && !s.closed;
    try {
      // The topic and cursor are checked before anything is kept: a bad one changes nothing.
      await this.#engine.readEvents({ topic, after: cursor, limit: 1 });
      if (!current()) return;
      let feed = this.#feeds.get(topic);
      if (!feed)
        this.#feeds.set(topic, (feed = new Feed(topic, this.#engine, this.#options.onError)));
      await feed.attach(s);
    } catch (error) {
      if (current()) this.unsubscribe(subscriber, id);
      throw error;
    }
    if (!current()) this.#detach(s);
  }

  unsubscribe(subscriber: Subscriber, id: string): boolean {
    const s = this.#bySubscriber.get(subscriber)?.get(id);
    if (!s) return false;
    this.#bySubscriber.get(subscriber)?.delete(id);
    this.#detach(s);
    return true;
  }

  /** Ends every subscription of a subscriber whose connection closed. */
  dropSubscriber(subscriber: Subscriber): void {
    const mine = this.#bySubscriber.get(subscriber);
    this.#bySubscriber.delete(subscriber);
    for (const s of mine?.values() ?? []) this.#detach(s);
  }

  /** How many subscriptions are live, across connections (for tests and metrics). */
  get size(): number {
    let n = 0;
    for (const mine of this.#bySubscriber.values()) n += mine.size;
    return n;
  }

  #detach(s: Subscription): void {
    s.close();
    const feed = this.#feeds.get(s.topic);
    if (!feed) return;
    feed.subscriptions.delete(s);
    if (feed.unused) {
      feed.close();
      this.#feeds.delete(s.topic);
    }
  }

  /** A subscriber that is dropped rather than sent to once it falls too far behind. */
  #guard(subscriber: Subscriber): Subscriber {
    const max = this.#options.maxBacklogBytes;
    return {
      get backlog() {
        return subscriber.backlog;
      },
      drop: (reason) => subscriber.drop(reason),
      send: (batch) => {
        if (subscriber.backlog > max) {
          this.dropSubscriber(subscriber);
          subscriber.drop(
            'This client fell too far behind; reconnect and resume from your cursor.',
          );
          return;
        }
        subscriber.send(batch);
      },
    };
  }
}
