import { backoffMs } from './backoff.js';
import { DroverError } from './errors.js';
import type { RpcErrorObject } from './jsonrpc.js';

/** What the socket needs of a WebSocket: the browser's, or the `ws` package's. */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  /** `ws` has it: drops the connection at once, without the closing handshake. */
  terminate?(): void;
  onopen: ((event: unknown) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
}

/** `connecting` before the first open, `reconnecting` after a loss, `closed` after `close()`. */
export type ConnectionState = 'connecting' | 'open' | 'reconnecting' | 'closed';

export interface RpcSocketOptions {
  /**
   * The servers, in the order they are tried: replicas of one farm, any of which will do. The
   * first connection goes to the first; a lost connection, or one that could not be opened or
   * greeted, moves on to the next, round the list. Each is passed to `connect` as it is.
   */
  urls: readonly string[];
  /** Opens a new WebSocket to `url`, one of `urls`: on start, and after each loss. */
  connect(url: string): WebSocketLike;
  /**
   * Runs on each open before anything else is sent (signing in, a worker's hello); its own
   * calls pass `{ greeting: true }`. The socket is ready once it resolves. When it rejects, the
   * socket is dropped and opened again, unless `isFinal` says trying again cannot help.
   */
  greet?(): Promise<void>;
  /** Whether a greeting's refusal ends the socket for good (a refused token). */
  isFinal?(error: unknown): boolean;
  /** Every notification the server sends. */
  onNotification?(method: string, params: unknown): void;
  /**
   * Every change of state; `url` is the server it concerns (the one now open, or the one lost or
   * not reached), `error` says why the connection closed, when it failed.
   */
  onStateChange?(state: ConnectionState, change: StateChange): void;
  /** The greeting was refused for good: the socket is closed, and this says why. */
  onFinal?(error: DroverError): void;
  /**
   * Before each try: `backoffMs` from `initialMs` to `maxMs`, growing once per round of `urls`
   * that failed, so that every server is tried at each step of the back-off. @defaultValue 250
   * and 10,000
   */
  reconnect?: { initialMs?: number; maxMs?: number };
  /**
   * A call unanswered for this long fails with `DROVER_E_CONNECTION_LOST` and the connection is
   * dropped (a server that stopped answering). @defaultValue no limit
   */
  callTimeoutMs?: number;
}

/** What `onStateChange` is told besides the new state. */
export interface StateChange {
  /** Whether the connection that ended had been greeted. */
  wasReady: boolean;
  /** The server concerned: the one now open, or the one lost or not reached. */
  url: string;
  error?: Error;
}

interface Pending {
  method: string;
  resolve(value: unknown): void;
  reject(error: unknown): void;
  timer: ReturnType<typeof setTimeout> | undefined;
}

const OPEN = 1;

/**
 * JSON-RPC 2.0 over one WebSocket that comes back by itself: ids and pending calls, call
 * timeouts, a greeting on each open, reconnects with `backoffMs`, moving on to the next of its
 * servers after each loss. Browser-safe; the client and the worker are both built on it. A call
 * whose connection is lost before its answer rejects with `DROVER_E_CONNECTION_LOST` (it may or
 * may not have taken effect): it is never sent twice.
 */
export class RpcSocket {
  readonly #options: RpcSocketOptions;
  readonly #urls: readonly string[];
  /** The index in `urls` of the server connected to, or tried next. */
  #at = 0;
  #socket: WebSocketLike | undefined;
  #state: ConnectionState = 'connecting';
  #ready = false;
  /** Tries that failed since the last greeting that went through. */
  #failures = 0;
  #nextId = 1;
  #timer: ReturnType<typeof setTimeout> | undefined;
  readonly #pending = new Map<number, Pending>();
  #waiters: { resolve(): void; reject(error: Error): void }[] = [];
  #final: DroverError | undefined;

  constructor(options: RpcSocketOptions) {
    if (options.urls.length === 0) throw new TypeError('RpcSocket needs at least one server URL.');
    this.#options = options;
    this.#urls = [...options.urls];
  }

  /** The server connected to, or the one tried next while there is no connection. */
  get url(): string {
    return this.#urls[this.#at] ?? '';
  }

  get state(): ConnectionState {
    return this.#state;
  }

  /** True between a greeting that went through and the next loss. */
  get ready(): boolean {
    return this.#ready;
  }

  /** Why the socket ended by itself (its greeting was refused for good), if it did. */
  get final(): DroverError | undefined {
    return this.#final;
  }

  /** Opens the first connection. */
  start(): void {
    if (this.#state === 'closed' || this.#socket) return;
    this.#connect();
  }

  /** Resolves once greeted (at once if ready); rejects once the socket is closed. */
  whenReady(): Promise<void> {
    if (this.#ready) return Promise.resolve();
    if (this.#state === 'closed') return Promise.reject(this.#closedError());
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  /**
   * Sends a call and resolves with its result, or rejects with a `DroverError` carrying the
   * server's code. Not ready (and not the greeting's own call): rejects at once with
   * `DROVER_E_CONNECTION_LOST`; wait with `whenReady` first to queue behind a reconnect.
   */
  call(method: string, params: unknown, options: { greeting?: boolean } = {}): Promise<unknown> {
    const socket = this.#socket;
    if (this.#state === 'closed') return Promise.reject(this.#closedError());
    if (!socket || socket.readyState !== OPEN || (!this.#ready && !options.greeting)) {
      return Promise.reject(
        new DroverError('DROVER_E_CONNECTION_LOST', 'Not connected to the server.'),
      );
    }
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      const limit = this.#options.callTimeoutMs;
      const timer =
        limit === undefined
          ? undefined
          : setTimeout(() => {
              if (!this.#pending.delete(id)) return;
              reject(
                new DroverError(
                  'DROVER_E_CONNECTION_LOST',
                  `${method} got no answer in ${limit} ms.`,
                ),
              );
              this.#drop(socket);
            }, limit);
      this.#pending.set(id, { method, resolve, reject, timer });
      socket.send(JSON.stringify({ jsonrpc: '2.0', method, params, id }));
    });
  }

  /** Closes for good: pending calls reject, no reconnect follows. */
  close(): void {
    if (this.#state === 'closed') return;
    clearTimeout(this.#timer);
    const wasReady = this.#ready;
    this.#ready = false;
    this.#setState('closed', { wasReady, url: this.url });
    const socket = this.#socket;
    this.#socket = undefined;
    socket?.close(1000, 'closed');
    this.#failPending(this.#closedError());
    for (const waiter of this.#waiters.splice(0)) waiter.reject(this.#closedError());
  }

  #connect(): void {
    let socket: WebSocketLike;
    try {
      socket = this.#options.connect(this.url);
    } catch (error) {
      this.#lost(undefined, error instanceof Error ? error : new Error(String(error)));
      return;
    }
    this.#socket = socket;
    let failure: Error | undefined;
    socket.onopen = () => {
      const greeting = this.#options.greet?.() ?? Promise.resolve();
      greeting.then(
        () => {
          if (this.#socket !== socket) return;
          // Only a greeting that went through resets the back-off: a server that accepts the
          // socket but refuses the greeting must not be hammered.
          this.#failures = 0;
          this.#ready = true;
          this.#setState('open', { wasReady: false, url: this.url });
          for (const waiter of this.#waiters.splice(0)) waiter.resolve();
        },
        (error: unknown) => {
          if (this.#socket !== socket) return;
          if (error instanceof DroverError && this.#options.isFinal?.(error)) {
            this.#final = error;
            this.#options.onFinal?.(error);
            this.close();
            return;
          }
          failure = error instanceof Error ? error : new Error(String(error));
          this.#drop(socket);
        },
      );
    };
    socket.onmessage = (event) => this.#receive(event.data);
    socket.onerror = (event) => {
      failure ??= errorOf(event);
    };
    socket.onclose = () => this.#lost(socket, failure);
  }

  /**
   * The connection `socket` is gone (or could not be made): fail its calls, then connect to the
   * next server after the back-off.
   */
  #lost(socket: WebSocketLike | undefined, error: Error | undefined): void {
    if (socket !== undefined && this.#socket !== socket) return;
    this.#socket = undefined;
    const wasReady = this.#ready;
    this.#ready = false;
    this.#failPending(
      new DroverError(
        'DROVER_E_CONNECTION_LOST',
        'The connection to the server was lost before the answer came.',
      ),
    );
    if (this.#state === 'closed') return;
    this.#setState(this.#state === 'connecting' ? 'connecting' : 'reconnecting', {
      wasReady,
      url: this.url,
      ...(error && { error }),
    });
    // Every server is as good as another: the one just lost is tried again only after the
    // others. The back-off grows once per round, and its jitter spreads the clients that a dead
    // server cut off together over the ones still alive.
    const round = Math.floor(this.#failures / this.#urls.length);
    const wait = backoffMs(round, {
      initialMs: this.#options.reconnect?.initialMs ?? 250,
      maxMs: this.#options.reconnect?.maxMs ?? 10_000,
    });
    this.#failures += 1;
    this.#at = (this.#at + 1) % this.#urls.length;
    this.#timer = setTimeout(() => this.#connect(), wait);
  }

  /** Drops a connection at once; its close event then reconnects. */
  #drop(socket: WebSocketLike): void {
    if (socket.terminate) socket.terminate();
    else socket.close(4000, 'dropped');
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
      id?: unknown;
      method?: unknown;
      params?: unknown;
      result?: unknown;
      error?: RpcErrorObject;
    };
    if (typeof m.method === 'string') {
      this.#options.onNotification?.(m.method, m.params);
      return;
    }
    if (typeof m.id !== 'number') return;
    const pending = this.#pending.get(m.id);
    if (!pending) return;
    this.#pending.delete(m.id);
    clearTimeout(pending.timer);
    if (m.error) pending.reject(DroverError.fromRpcError(m.error));
    else pending.resolve(m.result);
  }

  #failPending(error: Error): void {
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const p of pending) {
      clearTimeout(p.timer);
      p.reject(error);
    }
  }

  #closedError(): DroverError {
    return this.#final ?? new DroverError('DROVER_E_CONNECTION_LOST', 'The connection is closed.');
  }

  #setState(state: ConnectionState, change: StateChange): void {
    if (this.#state === state && state !== 'reconnecting' && state !== 'connecting') return;
    this.#state = state;
    this.#options.onStateChange?.(state, change);
  }
}

/** The error a WebSocket's error event carries (`ws` gives one; a browser gives none). */
function errorOf(event: unknown): Error {
  if (typeof event === 'object' && event !== null) {
    const e = event as { error?: unknown; message?: unknown };
    if (e.error instanceof Error) return e.error;
    if (typeof e.message === 'string' && e.message !== '') return new Error(e.message);
  }
  return new Error('the connection failed');
}
