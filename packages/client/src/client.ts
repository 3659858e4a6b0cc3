import { DroverError, compareCursors, isTerminalJobStatus, topics } from '@drover/protocol';
import type {
  EventBatch,
  JobRecord,
  MethodName,
  MethodParams,
  MethodResult,
  RpcErrorObject,
  Topic,
} from '@drover/protocol';
import type { z } from 'zod';
import type {
  ClientOptions,
  ConnectionState,
  SubscribeOptions,
  Submission,
  Subscription,
  TaskTypeRef,
  TypedTask,
  WebSocketConstructor,
  WebSocketLike,
} from './options.js';
import type { LiveSubscription } from './options.js';

interface Pending {
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

const OPEN = 1;
/** Tasks read per call by `results`. */
const PAGE = 1000;

/**
 * A connection to a Drover server over its WebSocket, for programs and the dashboard alike:
 * `call` any method, `submit` typed jobs, `subscribe` to a topic (resumed from its cursor after a
 * reconnect, with no gap and no duplicate), and `waitFor` a job. Reconnects by itself, with
 * back-off and jitter, until `close()`.
 *
 * @example
 * const drover = new DroverClient({ url: 'http://127.0.0.1:7400', token: process.env.DROVER_TOKEN });
 * const { job } = await drover.submit(hello, { name: 'moi' }, { group: 'demo' });
 * const done = await drover.waitFor(job.id);
 */
export class DroverClient {
  readonly url: string;
  readonly #WebSocket: WebSocketConstructor;
  readonly #initialMs: number;
  readonly #maxMs: number;
  readonly #connectTimeoutMs: number | undefined;
  readonly #token: string | undefined;
  /** Why the client ended by itself (its token was refused), if it did. */
  #fatal: DroverError | undefined;
  #socket: WebSocketLike | undefined;
  #state: ConnectionState = 'connecting';
  #failures = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #nextId = 1;
  readonly #pending = new Map<number, Pending>();
  readonly #subscriptions = new Map<string, LiveSubscription>();
  readonly #stateListeners = new Set<(state: ConnectionState) => void>();
  #opened: Promise<void>;
  #resolveOpened!: () => void;

  constructor(options: ClientOptions) {
    this.url = options.url.replace(/\/+$/, '');
    const ctor =
      options.WebSocket ??
      (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket ??
      undefined;
    if (!ctor) {
      throw new TypeError(
        'This runtime has no WebSocket: pass one, e.g. new DroverClient({ url, WebSocket }) with `import { WebSocket } from "ws"`.',
      );
    }
    this.#WebSocket = ctor;
    this.#initialMs = options.reconnect?.initialMs ?? 250;
    this.#maxMs = options.reconnect?.maxMs ?? 10_000;
    this.#connectTimeoutMs = options.connectTimeoutMs;
    this.#token = options.token;
    this.#opened = new Promise((resolve) => (this.#resolveOpened = resolve));
    this.#connect();
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
    if (this.#state === 'closed')
      throw this.#fatal ?? new DroverError('DROVER_E_CONNECTION_LOST', 'The client is closed.');
    const socket = await this.#open();
    const id = this.#nextId++;
    return new Promise<MethodResult<M>>((resolve, reject) => {
      this.#pending.set(id, { resolve: (value) => resolve(value as MethodResult<M>), reject });
      socket.send(JSON.stringify({ jsonrpc: '2.0', method, params, id }));
    });
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
      if (this.#socket?.readyState === OPEN && this.#state !== 'closed') {
        this.call('events.unsubscribe', { subscription: live.id }).catch(() => undefined);
      }
    };
    const live: LiveSubscription = {
      id: `s${this.#nextId++}`,
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
    if (this.#socket?.readyState === OPEN) this.#sendSubscribe(live);
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
    this.#setState('closed');
    clearTimeout(this.#timer);
    const ended = [...this.#subscriptions.values()];
    this.#subscriptions.clear();
    for (const live of ended) {
      live.fail(
        this.#fatal ?? new DroverError('DROVER_E_CONNECTION_LOST', 'The client was closed.'),
        this.#fatal !== undefined,
      );
    }
    this.#socket?.close(1000, 'client closed');
    this.#failPending('The client was closed.');
    this.#resolveOpened();
  }

  /** The open socket, once there is one; waits through reconnects. */
  async #open(): Promise<WebSocketLike> {
    const deadline =
      this.#connectTimeoutMs === undefined ? undefined : Date.now() + this.#connectTimeoutMs;
    for (;;) {
      if (deadline === undefined) {
        await this.#opened;
      } else {
        let timer: ReturnType<typeof setTimeout> | undefined;
        const timedOut = await Promise.race([
          this.#opened.then(() => false),
          new Promise<boolean>((resolve) => {
            timer = setTimeout(() => resolve(true), Math.max(0, deadline - Date.now()));
          }),
        ]);
        clearTimeout(timer);
        if (timedOut) {
          throw new DroverError(
            'DROVER_E_CONNECTION_LOST',
            `No Drover server answers at ${this.url}.`,
            { details: { unreachable: true } },
          );
        }
      }
      if (this.#state === 'closed') {
        throw this.#fatal ?? new DroverError('DROVER_E_CONNECTION_LOST', 'The client is closed.');
      }
      const socket = this.#socket;
      if (socket?.readyState === OPEN) return socket;
      // Closing, its close event not yet come: wait for it and the next open.
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  #connect(): void {
    const url = `${this.url.replace(/^http/, 'ws')}/ws`;
    const socket = new this.#WebSocket(url) as WebSocketLike;
    this.#socket = socket;
    socket.onopen = () => {
      if (this.#token === undefined) {
        this.#ready();
        return;
      }
      // Signed in before anything else is sent: calls wait for the open that follows this.
      const id = this.#nextId++;
      this.#pending.set(id, {
        resolve: () => {
          if (this.#socket === socket) this.#ready();
        },
        reject: (error) => {
          if (this.#socket !== socket) return;
          if (error instanceof DroverError && !error.retryable) this.#end(error);
          else socket.close(1000, 'signing in failed; reconnecting');
        },
      });
      socket.send(
        JSON.stringify({
          jsonrpc: '2.0',
          method: 'auth.login',
          params: { token: this.#token },
          id,
        }),
      );
    };
    socket.onmessage = (event) => this.#receive(event.data);
    socket.onerror = () => undefined; // onclose follows, and reconnects.
    socket.onclose = () => {
      if (this.#socket !== socket) return;
      this.#socket = undefined;
      this.#failPending('The connection to the server was lost before the answer came.');
      if (this.#state === 'closed') return;
      if (this.#state === 'open') {
        this.#opened = new Promise((resolve) => (this.#resolveOpened = resolve));
      }
      this.#setState(this.#state === 'connecting' ? 'connecting' : 'reconnecting');
      const base = Math.min(this.#maxMs, this.#initialMs * 2 ** this.#failures);
      this.#failures += 1;
      this.#timer = setTimeout(() => this.#connect(), base * (0.8 + Math.random() * 0.4));
    };
  }

  #ready(): void {
    this.#failures = 0;
    this.#setState('open');
    for (const live of this.#subscriptions.values()) this.#sendSubscribe(live);
    this.#resolveOpened();
  }

  /** The server refused the token: everything waiting fails with its answer, for good. */
  #end(error: DroverError): void {
    this.#fatal = error;
    this.close();
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
          if (!live.closed && this.#socket?.readyState === OPEN) this.#sendSubscribe(live);
        }, 1000);
        return;
      }
      live.fail(error instanceof Error ? error : new Error(String(error)));
    });
  }

  #receive(data: unknown): void {
    let message: unknown;
    try {
      message = JSON.parse(typeof data === 'string' ? data : String(data));
    } catch {
      return;
    }
    for (const one of Array.isArray(message) ? message : [message]) this.#receiveOne(one);
  }

  #receiveOne(message: unknown): void {
    if (typeof message !== 'object' || message === null) return;
    const m = message as {
      id?: number | string | null;
      result?: unknown;
      error?: RpcErrorObject;
      method?: string;
      params?: unknown;
    };
    if (m.method === 'events.batch') {
      this.#deliver(m.params as EventBatch);
      return;
    }
    if (typeof m.id !== 'number') return;
    const pending = this.#pending.get(m.id);
    if (!pending) return;
    this.#pending.delete(m.id);
    if (m.error) pending.reject(DroverError.fromRpcError(m.error));
    else pending.resolve(m.result);
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

  #failPending(message: string): void {
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const p of pending)
      p.reject(this.#fatal ?? new DroverError('DROVER_E_CONNECTION_LOST', message));
  }

  #setState(state: ConnectionState): void {
    if (this.#state === state) return;
    this.#state = state;
    for (const listener of this.#stateListeners) listener(state);
  }
}
