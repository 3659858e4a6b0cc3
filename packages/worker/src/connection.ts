import WebSocket from 'ws';
import { DroverError, RpcSocket } from '@drover/protocol';
import type {
  MethodName,
  MethodParams,
  MethodResult,
  WebSocketLike,
  WorkerMethodName,
  workerMethods,
} from '@drover/protocol';
import type { z } from 'zod';

/** What a worker calls: the worker methods, and the client methods a lease lets it use. */
export type WorkerCall = WorkerMethodName | MethodName;
/** The params of a call, as the worker writes them (defaults may be left out). */
export type WorkerCallParams<M extends WorkerCall> = M extends WorkerMethodName
  ? z.input<(typeof workerMethods)[M]['params']>
  : M extends MethodName
    ? MethodParams<M>
    : never;
/** What a call answers. */
export type WorkerCallResult<M extends WorkerCall> = M extends WorkerMethodName
  ? z.output<(typeof workerMethods)[M]['result']>
  : M extends MethodName
    ? MethodResult<M>
    : never;

export interface ConnectionOptions {
  /**
   * The servers' base URLs, such as `http://farm.example:7400`: replicas of one farm, tried in
   * this order; a lost connection moves on to the next.
   */
  urls: readonly string[];
  /** Called for every notification the server sends. */
  onNotification: (method: string, params: unknown) => void;
  /** Called after each (re)connect, before anything else is sent: say hello here. */
  onOpen: () => Promise<void>;
  /**
   * Called when the socket closes: `wasReady` if it had been greeted, `url` the server it was to,
   * `error` when it failed (an unknown host, a refused connection), `closing` when `close()`
   * ended it.
   */
  onClose?: (info: {
    wasReady: boolean;
    url: string;
    error: Error | undefined;
    closing: boolean;
  }) => void;
  /**
   * Called when the greeting is refused for good (a wrong worker token, a name another worker
   * holds): the connection stops trying, since trying again cannot help.
   */
  onFatal?: (error: Error) => void;
  /** First reconnect delay; `backoffMs` doubles it to `maxBackoffMs`. @defaultValue 200 */
  initialBackoffMs?: number;
  /** @defaultValue 10,000 */
  maxBackoffMs?: number;
  /** How long a call waits for its response. @defaultValue 30,000 */
  callTimeoutMs?: number;
  /** The certificate authorities to trust over TLS. @defaultValue the system's */
  ca?: string[] | undefined;
}

/**
 * A worker's connection: the shared `RpcSocket` over `ws` (which takes the TLS authorities), with
 * the worker methods typed by `workerMethods`. A refused token, or one that may not run what the
 * worker offers, stays refused; so does a name another worker holds (the same worker coming back
 * is let in).
 */
export class Connection {
  readonly #rpc: RpcSocket;
  readonly #urls: readonly string[];

  constructor(options: ConnectionOptions) {
    this.#urls = [...options.urls];
    this.#rpc = new RpcSocket({
      urls: options.urls,
      // ws's WebSocket has every member WebSocketLike lists (and terminate).
      connect: (server) => {
        const url = new URL('/ws', server);
        url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
        return new WebSocket(url, options.ca ? { ca: options.ca } : {}) as unknown as WebSocketLike;
      },
      greet: options.onOpen,
      isFinal: (error) =>
        error instanceof DroverError &&
        (error.code === 'DROVER_E_CONFLICT' ||
          (!error.retryable &&
            (error.code === 'DROVER_E_UNAUTHORIZED' || error.code === 'DROVER_E_FORBIDDEN'))),
      onFinal: (error) => options.onFatal?.(error),
      onNotification: options.onNotification,
      onStateChange: (state, { wasReady, url, error }) => {
        if (state === 'reconnecting' || state === 'connecting' || state === 'closed')
          options.onClose?.({ wasReady, url, error, closing: state === 'closed' });
      },
      reconnect: {
        initialMs: options.initialBackoffMs ?? 200,
        maxMs: options.maxBackoffMs ?? 10_000,
      },
      callTimeoutMs: options.callTimeoutMs ?? 30_000,
    });
  }

  /** The server connected to, or the one tried next while there is no connection. */
  get url(): string {
    return this.#rpc.url;
  }

  /** The servers, starting with the one connected to (or tried next), then the others in order. */
  get urlsFromCurrent(): string[] {
    const urls = this.#urls;
    const at = Math.max(0, urls.indexOf(this.url));
    return [...urls.slice(at), ...urls.slice(0, at)];
  }

  /** True between a successful onOpen and the next disconnect. */
  get ready(): boolean {
    return this.#rpc.ready;
  }

  open(): void {
    this.#rpc.start();
  }

  /** Resolves once the connection is open and greeted. */
  whenReady(): Promise<void> {
    return this.#rpc.whenReady();
  }

  /**
   * Calls a worker method. Not connected, or the connection lost before the answer: rejects
   * with `DROVER_E_CONNECTION_LOST` (retryable), so what was not acknowledged is sent again.
   * `greeting` lets onOpen's own call through before the hello completes.
   */
  async call<M extends WorkerCall>(
    method: M,
    params: WorkerCallParams<M>,
    options: { greeting?: boolean } = {},
  ): Promise<WorkerCallResult<M>> {
    // The server answers a worker method with its declared result.
    return (await this.#rpc.call(method, params, options)) as WorkerCallResult<M>;
  }

  close(): void {
    this.#rpc.close();
  }
}
