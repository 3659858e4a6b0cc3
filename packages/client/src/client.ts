import {
  DroverError,
  RpcSocket,
  compareCursors,
  isTerminalJobStatus,
  topics,
} from '@drover/protocol';
import type {
  ConnectionState,
  EventBatch,
  JobRecord,
  MethodName,
  MethodParams,
  MethodResult,
  Topic,
  WebSocketLike,
} from '@drover/protocol';
import type { z } from 'zod';
import type {
  ClientOptions,
  SubscribeOptions,
  Submission,
  Subscription,
  TaskTypeRef,
  TypedTask,
  WebSocketConstructor,
} from './options.js';
import type { LiveSubscription } from './options.js';

/** Tasks read per call by `results`. */
const PAGE = 1000;

/**
 * A connection to a Drover server over its WebSocket, for programs and the dashboard alike:
 * `call` any method, `submit` typed jobs, `subscribe` to a topic (resumed from its cursor after a
 * reconnect, with no gap and no duplicate), and `waitFor` a job. Reconnects by itself, with
 * back-off and jitter, until `close()`; given several servers (replicas of one farm), it moves on
 * to the next when its own goes away, and its subscriptions resume there.
 *
 * @example
 * const drover = new DroverClient({ url: 'http://127.0.0.1:7400', token: process.env.DROVER_TOKEN });
 * const replicated = new DroverClient({ url: ['http://a:7400', 'http://b:7400'], token });
 * const { job } = await drover.submit(hello, { name: 'moi' }, { group: 'demo' });
 * const done = await drover.waitFor(job.id);
 */
export class DroverClient {
  /** The servers this client connects to, in the order it tries them. */
  readonly urls: readonly string[];
  readonly #rpc: RpcSocket;
  readonly #connectTimeoutMs: number | undefined;
  readonly #token: string | undefined;
  /** Why the client ended by itself (its token was refused), if it did. */
  #fatal: DroverError | undefined;
  #state: ConnectionState = 'connecting';
  readonly #subscriptions = new Map<string, LiveSubscription>();
  #subscriptionCount = 0;
  readonly #stateListeners = new Set<(state: ConnectionState) => void>();

  constructor(options: ClientOptions) {
    const urls = typeof options.url === 'string' ? [options.url] : [...options.url];
    if (urls.length === 0) throw new TypeError('DroverClient needs at least one server URL.');
    this.urls = urls.map((url) => url.replace(/\/+$/, ''));
    const ctor =
      options.WebSocket ??
      (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket ??
      undefined;
    if (!ctor) {
      throw new TypeError(
        'This runtime has no WebSocket: pass one, e.g. new DroverClient({ url, WebSocket }) with `import { WebSocket } from "ws"`.',
      );
    }
    this.#connectTimeoutMs = options.connectTimeoutMs;
    this.#token = options.token;
    this.#rpc = new RpcSocket({
      urls: this.urls,
      // The client uses only what WebSocketLike lists of either kind of WebSocket.
      connect: (url) => new ctor(`${url.replace(/^http/, 'ws')}/ws`) as WebSocketLike,
      // Signed in before anything else is sent: calls wait for the greeting.
      greet: async () => {
        if (this.#token !== undefined)
          await this.#rpc.call('auth.login', { token: this.#token }, { greeting: true });
      },
      isFinal: (error) => error instanceof DroverError && !error.retryable,
      onFinal: (error) => {
        this.#fatal = error;
        this.close();
      },
      onNotification: (method, params) => {
        if (method === 'events.batch') this.#deliver(params as EventBatch);
      },
      onStateChange: (state) => {
        // On whichever server it reconnected to: every replica reads the one event log, so a
        // cursor means the same on all of them.
        if (state === 'open')
          for (const live of this.#subscriptions.values()) this.#sendSubscribe(live);
        this.#setState(state);
      },
      reconnect: {
        initialMs: options.reconnect?.initialMs ?? 250,
        maxMs: options.reconnect?.maxMs ?? 10_000,
      },
    });
    this.#rpc.start();
  }

  /** The server connected to now, or the one tried next while the connection is down. */
  get url(): string {
    return this.#rpc.url;
  }

  get state(): ConnectionState {
    return this.#state;
  }

  /** Calls `listener` on every change of the connection's state; returns a function that stops. */
  onStateChange(listener: (state: ConnectionState) => void): () => void {
    this.#stateListeners.add(listener);
    return () => this.#stateListeners.delete(listener);
  }

  /**
   * Calls a method and resolves to its result, or rejects with a `DroverError` carrying the
   * server's code. A call whose connection is lost before its answer rejects with
   * `DROVER_E_CONNECTION_LOST` (it may or may not have taken effect): it is never sent twice.
   */
  async call<M extends MethodName>(method: M, params: MethodParams<M>): Promise<MethodResult<M>> {
    if (this.#state === 'closed') throw this.#closedError();
    await this.#open();
    // The server answers a method with its declared result.
    return (await this.#rpc.call(method, params)) as MethodResult<M>;
  }

  /**
   * Submits a job of a task type defined with `defineTask`, its params checked by TypeScript
   * against the type's schema.
   */
  submit<P extends z.ZodType>(
    taskType: TaskTypeRef<P> | string,
    params: z.input<P>,
    submission: Submission,
  ): Promise<MethodResult<'jobs.submit'>> {
    return this.call('jobs.submit', {
      ...submission,
      taskType: typeof taskType === 'string' ? taskType : taskType.name,
      params: params as Record<string, unknown>,
    } as MethodParams<'jobs.submit'>);
  }

  /**
   * The tasks of a job that are of this task type, in order, each with its result checked by the
   * type's `result` schema and typed by it: what a program reads back after `waitFor`.
   *
   * @example
   * const [first] = await drover.results(hello, job.id); // first.result: string | null
   */
  async results<P extends z.ZodType, R extends z.ZodType>(
    taskType: TaskTypeRef<P, R>,
    jobId: string,
  ): Promise<TypedTask<R>[]> {
    const typed: TypedTask<R>[] = [];
    for (let fromIndex = 0; ;) {
      const { tasks } = await this.call('tasks.list', { jobId, fromIndex, limit: PAGE });
      for (const task of tasks) {
        if (task.taskType !== taskType.name) continue;
        const result: unknown =
          task.result === null || !taskType.result
            ? task.result
            : taskType.result.parse(task.result);
        typed.push({ ...task, result: result as z.output<R> | null });
      }
      const last = tasks.at(-1);
      if (tasks.length < PAGE || last === undefined) return typed;
      fromIndex = last.index + 1;
    }
  }

  /**
   * Streams a topic's events to `onEvents`: those after `cursor`, then each new one. After a
   * reconnect it resumes from the last cursor delivered, so nothing is missed or repeated.
   */
  subscribe(topic: Topic, options: SubscribeOptions): Subscription {
    const close = () => {
      if (live.closed) return;
      live.closed = true;
      this.#subscriptions.delete(live.id);
      if (this.#rpc.ready && this.#state !== 'closed') {
        this.call('events.unsubscribe', { subscription: live.id }).catch(() => undefined);
      }
    };
    const live: LiveSubscription = {
      id: `s${++this.#subscriptionCount}`,
      topic,
      cursor: options.cursor ?? '',
      onEvents: (events, cursor) => options.onEvents(events, cursor),
      fail: (error, unhandled = true) => {
        close();
        if (options.onError) options.onError(error);
        else if (unhandled)
          queueMicrotask(() => {
            throw error;
          });
      },
      closed: false,
    };
    this.#subscriptions.set(live.id, live);
    if (this.#rpc.ready) this.#sendSubscribe(live);
    return {
      topic,
      get cursor() {
        return live.cursor;
      },
      close,
    };
  }

  /**
   * Resolves with the job once it has finished (succeeded, failed or cancelled), calling
   * `onUpdate` with each new state on the way.
   */
  async waitFor(
    jobId: string,
    options: { onUpdate?: (job: JobRecord) => void; signal?: AbortSignal } = {},
  ): Promise<JobRecord> {
    options.signal?.throwIfAborted();
    const topic = topics.job(jobId);
    const { cursor } = await this.call('events.head', { topic });
    const first = await this.call('jobs.get', { id: jobId });
    options.onUpdate?.(first);
    if (isTerminalJobStatus(first.status)) return first;
    return new Promise<JobRecord>((resolve, reject) => {
      const finish = (settle: () => void) => {
        subscription.close();
        options.signal?.removeEventListener('abort', abort);
        settle();
      };
      const subscription = this.subscribe(topic, {
        cursor,
        onEvents: (events) => {
          for (const event of events) {
            if (event.kind !== 'job.updated') continue;
            const job = event.data;
            options.onUpdate?.(job);
            if (isTerminalJobStatus(job.status)) return finish(() => resolve(job));
          }
        },
        onError: (error) => finish(() => reject(error)),
      });
      const abort = () => {
        const reason: unknown = options.signal?.reason;
        finish(() => reject(reason instanceof Error ? reason : new Error('The wait was aborted.')));
      };
      options.signal?.addEventListener('abort', abort, { once: true });
    });
  }

  /** Closes the connection for good: pending calls reject, subscriptions end. */
  close(): void {
    if (this.#state === 'closed') return;
    const ended = [...this.#subscriptions.values()];
    this.#subscriptions.clear();
    this.#rpc.close();
    this.#setState('closed');
    for (const live of ended) live.fail(this.#closedError(), this.#fatal !== undefined);
  }

  /** Resolves once connected and signed in; waits through reconnects, up to the connect timeout. */
  async #open(): Promise<void> {
    const limit = this.#connectTimeoutMs;
    if (limit === undefined) {
      await this.#rpc.whenReady().catch(() => undefined);
    } else {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timedOut = await Promise.race([
        this.#rpc.whenReady().then(
          () => false,
          () => false,
        ),
        new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(true), limit);
        }),
      ]);
      clearTimeout(timer);
      if (timedOut) {
        throw new DroverError(
          'DROVER_E_CONNECTION_LOST',
          `No Drover server answers at ${this.urls.join(' or ')}.`,
          {
            details: { unreachable: true },
          },
        );
      }
    }
    if (this.#state === 'closed') throw this.#closedError();
  }

  #closedError(): DroverError {
    return this.#fatal ?? new DroverError('DROVER_E_CONNECTION_LOST', 'The client was closed.');
  }

  #sendSubscribe(live: LiveSubscription): void {
    this.call('events.subscribe', {
      subscription: live.id,
      topic: live.topic,
      cursor: live.cursor,
    }).catch((error: unknown) => {
      if (live.closed || this.#state === 'closed') return;
      // A lost connection subscribes again when it is back; a passing failure (the database
      // busy) is tried again shortly; a refusal ends the subscription.
      if (error instanceof DroverError && error.code === 'DROVER_E_CONNECTION_LOST') return;
      if (error instanceof DroverError && error.retryable) {
        setTimeout(() => {
          if (!live.closed && this.#rpc.ready) this.#sendSubscribe(live);
        }, 1000);
        return;
      }
      live.fail(error instanceof Error ? error : new Error(String(error)));
    });
  }

  #deliver(batch: EventBatch): void {
    const live = this.#subscriptions.get(batch.subscription);
    if (!live || live.closed) return;
    // After a reconnect the server replays from the cursor it was given; a batch that was in
    // flight meanwhile may overlap it. Each event is delivered once, in cursor order.
    const fresh = batch.events.filter((e) => compareCursors(e.cursor, live.cursor) > 0);
    if (compareCursors(batch.cursor, live.cursor) > 0) live.cursor = batch.cursor;
    if (fresh.length === 0) return;
    try {
      live.onEvents(fresh, live.cursor);
    } catch (error) {
      live.fail(error instanceof Error ? error : new Error(String(error)));
    }
  }

  #setState(state: ConnectionState): void {
    if (this.#state === state || this.#state === 'closed') return;
    this.#state = state;
    for (const listener of this.#stateListeners) listener(state);
  }
}
