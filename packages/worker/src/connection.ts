import WebSocket from 'ws';
import { DroverError, isDroverError } from '@drover/protocol';
import type { RpcErrorObject } from '@drover/protocol';

export interface ConnectionOptions {
  /** The server's base URL, such as `http://farm.example:7400`. */
  url: string;
  /** Called for every notification the server sends. */
  onNotification: (method: string, params: unknown) => void;
  /** Called after each (re)connect, before anything else is sent: say hello here. */
  onOpen: () => Promise<void>;
  /**
   * Called when the socket closes: `wasReady` if it had been greeted, `error` when it failed (an
   * unknown host, a refused connection), `closing` when `close()` ended it.
   */
  onClose?: (info: { wasReady: boolean; error: Error | undefined; closing: boolean }) => void;
  /**
   * Called when the greeting is refused for good (a wrong worker token): the connection stops
   * trying, since trying again cannot help.
   */
  onFatal?: (error: Error) => void;
  /** First reconnect delay; doubles to `maxBackoffMs`, with ±20% jitter. @defaultValue 200 */
  initialBackoffMs?: number;
  /** @defaultValue 10,000 */
  maxBackoffMs?: number;
  /** How long a call waits for its response. @defaultValue 30,000 */
  callTimeoutMs?: number;
  /** The certificate authorities to trust over TLS. @defaultValue the system's */
  ca?: string[] | undefined;
}

interface Pending {
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

/** The call failed because the connection went away; it may be sent again after a reconnect. */
export class Disconnected extends Error {
  override readonly name = 'Disconnected';
}

/**
 * JSON-RPC 2.0 over one WebSocket to the server, reconnecting for as long as it is open:
 * exponential back-off with jitter, so that workers cut off together do not all come back in the
 * same instant.
 */
export class Connection {
  readonly #options: Required<Omit<ConnectionOptions, 'onClose' | 'onFatal' | 'ca'>> &
    Pick<ConnectionOptions, 'ca'> &
    Pick<ConnectionOptions, 'onClose' | 'onFatal'>;
  #ws: WebSocket | undefined;
  #ready = false;
  #nextId = 1;
  readonly #pending = new Map<number, Pending>();
  #closed = false;
  #attempt = 0;
  #waiters: (() => void)[] = [];

  constructor(options: ConnectionOptions) {
    this.#options = {
      initialBackoffMs: 200,
      maxBackoffMs: 10_000,
      callTimeoutMs: 30_000,
      ...options,
    };
  }

  /** True between a successful onOpen and the next disconnect. */
  get ready(): boolean {
    return this.#ready;
  }

  open(): void {
    if (this.#closed) return;
    const url = new URL('/ws', this.#options.url);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    const ws = new WebSocket(url, this.#options.ca ? { ca: this.#options.ca } : {});
    this.#ws = ws;
    ws.on('open', () => {
      this.#options
        .onOpen()
        .then(() => {
          // Only a greeting that went through resets the back-off: a server that accepts the
          // socket but refuses the worker must not be hammered.
          this.#attempt = 0;
          this.#ready = true;
          for (const wake of this.#waiters.splice(0)) wake();
        })
        .catch((error: unknown) => {
          // A refused token, or one that may not run what this worker offers, stays refused; so
          // does a name another worker holds (the same worker coming back is let in).
          if (
            isDroverError(error) &&
            (error.code === 'DROVER_E_CONFLICT' ||
              (!error.retryable &&
                (error.code === 'DROVER_E_UNAUTHORIZED' || error.code === 'DROVER_E_FORBIDDEN')))
          ) {
            this.#closed = true;
            this.#options.onFatal?.(error);
          }
          ws.terminate();
        });
    });
    ws.on('message', (data: Buffer) => this.#receive(data.toString('utf8')));
    let failure: Error | undefined;
    ws.on('error', (error) => {
      failure = error;
    });
    ws.on('close', () => {
      const wasReady = this.#ready;
      this.#ready = false;
      for (const [id, pending] of this.#pending) {
        clearTimeout(pending.timer);
        pending.reject(new Disconnected('The connection to the server closed.'));
        this.#pending.delete(id);
      }
      this.#options.onClose?.({ wasReady, error: failure, closing: this.#closed });
      if (this.#closed) return;
      const base = Math.min(
        this.#options.maxBackoffMs,
        this.#options.initialBackoffMs * 2 ** this.#attempt,
      );
      this.#attempt += 1;
      // Not unref'd: a worker with nothing running must stay up and keep trying to get back.
      setTimeout(() => this.open(), base * (0.8 + Math.random() * 0.4));
    });
  }

  /** Resolves once the connection is open and greeted. */
  whenReady(): Promise<void> {
    if (this.#ready) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** Calls a method; `beforeReady` lets onOpen's own calls through before the hello completes. */
  call<T>(method: string, params: unknown, beforeReady = false): Promise<T> {
    const ws = this.#ws;
    if (!ws || ws.readyState !== WebSocket.OPEN || (!this.#ready && !beforeReady)) {
      return Promise.reject(new Disconnected('Not connected to the server.'));
    }
    const id = this.#nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Disconnected(`${method} got no answer in ${this.#options.callTimeoutMs} ms.`));
        ws.terminate();
      }, this.#options.callTimeoutMs);
      this.#pending.set(id, { resolve: resolve as (value: unknown) => void, reject, timer });
      ws.send(JSON.stringify({ jsonrpc: '2.0', method, params, id }));
    });
  }

  close(): void {
    this.#closed = true;
    this.#ws?.close();
  }

  #receive(text: string): void {
    let message: {
      id?: unknown;
      method?: unknown;
      params?: unknown;
      result?: unknown;
      error?: RpcErrorObject;
    };
    try {
      message = JSON.parse(text) as typeof message;
    } catch {
      return;
    }
    if (typeof message.method === 'string') {
      this.#options.onNotification(message.method, message.params);
      return;
    }
    if (typeof message.id !== 'number') return;
    const pending = this.#pending.get(message.id);
    if (!pending) return;
    this.#pending.delete(message.id);
    clearTimeout(pending.timer);
    if (message.error) {
      const code = message.error.data?.code ?? 'DROVER_E_INTERNAL';
      pending.reject(
        new DroverError(code, message.error.message, { details: message.error.data?.details }),
      );
    } else {
      pending.resolve(message.result);
    }
  }
}
