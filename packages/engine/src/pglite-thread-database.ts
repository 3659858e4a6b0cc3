import { Worker } from 'node:worker_threads';
import { checkSchemaName } from './database.js';
import type { Database, DatabaseLoad, Queryable } from './database.js';
import type { ErrorMessage, FromThread, ToThread } from './pglite-thread-messages.js';
import { messageToError } from './pglite-thread-messages.js';

type Request = ToThread extends infer M ? (M extends ToThread ? Omit<M, 'id'> : never) : never;

/**
 * PGlite in a data directory, run in a thread of its own (pglite-thread.ts). The database's work
 * (planning, executing, its file layer) then never holds the server's event loop: sockets,
 * heartbeats and timers go on while a claim or a bulk submit runs, and the two use two cores.
 *
 * Still a single backend: transactions run one after another, never interleaved. A statement
 * sent while a transaction is open waits for it, as on PGlite in the same thread.
 */
export class PgliteThreadDatabase implements Database {
  readonly kind = 'embedded';
  readonly schema: string;
  readonly #thread: Worker;
  readonly #pending = new Map<
    number,
    { resolve: (v: unknown) => void; reject: (e: Error) => void }
  >();
  readonly #listeners = new Map<number, (payload: string) => void>();
  #nextId = 1;
  /** Why the thread can take no more requests: closed, or it stopped. */
  #stopped: Error | undefined;

  private constructor(thread: Worker, schema: string) {
    this.#thread = thread;
    this.schema = schema;
    thread.on('message', (message: FromThread) => this.#receive(message));
    thread.on('error', (error) => this.#stop(error));
    thread.on('exit', (code) =>
      this.#stop(new Error(`The embedded database's thread exited (code ${code}).`)),
    );
  }

  /** Opens (creating if needed) the PGlite cluster in `dir`. The caller owns the directory lock. */
  static async open(dir: string, schema: string): Promise<PgliteThreadDatabase> {
    checkSchemaName(schema);
    const thread = new Worker(new URL('./pglite-thread.js', import.meta.url), {
      workerData: { dir, schema },
    });
    let onMessage: ((message: FromThread) => void) | undefined;
    let onError: ((error: Error) => void) | undefined;
    let onExit: ((code: number) => void) | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        onMessage = (message: FromThread) => {
          if (!('ready' in message)) return;
          if (message.ready) resolve();
          else reject(messageToError(message.error));
        };
        onError = reject;
        onExit = (code) =>
          reject(new Error(`The embedded database's thread exited (code ${code}) while opening.`));
        thread.on('message', onMessage).on('error', onError).on('exit', onExit);
      });
    } catch (error) {
      await thread.terminate();
      throw error;
    } finally {
      if (onMessage) thread.off('message', onMessage);
      if (onError) thread.off('error', onError);
      if (onExit) thread.off('exit', onExit);
    }
    // The thread keeps the process alive only while a request waits for it (see #send).
    thread.unref();
    return new PgliteThreadDatabase(thread, schema);
  }

  query<Row = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<Row[]> {
    return this.#request({ op: 'query', sql, params: params ? [...params] : undefined }) as Promise<
      Row[]
    >;
  }

  async exec(sql: string): Promise<void> {
    await this.#request({ op: 'exec', sql });
  }

  async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    const { id: tx, reply } = this.#send({ op: 'begin' });
    await reply;
    const scope: Queryable = {
      query: async <Row>(sql: string, params?: readonly unknown[]) =>
        (await this.#request({
          op: 'query',
          sql,
          params: params ? [...params] : undefined,
          tx,
        })) as Row[],
      exec: async (sql: string) => {
        await this.#request({ op: 'exec', sql, tx });
      },
    };
    let result: T;
    try {
      result = await fn(scope);
    } catch (error) {
      await this.#request({ op: 'rollback', tx }).catch(() => undefined);
      throw error;
    }
    await this.#request({ op: 'commit', tx });
    return result;
  }

  async listen(channel: string, onNotify: (payload: string) => void): Promise<() => Promise<void>> {
    const { id, reply } = this.#send({ op: 'listen', channel });
    this.#listeners.set(id, onNotify);
    try {
      await reply;
    } catch (error) {
      this.#listeners.delete(id);
      throw error;
    }
    return async () => {
      this.#listeners.delete(id);
      if (!this.#stopped) await this.#request({ op: 'unlisten', listener: id });
    };
  }

  /** Closing twice is harmless. */
  async close(): Promise<void> {
    if (this.#stopped) return;
    await this.#request({ op: 'close' }).catch(() => undefined);
    this.#stop(new Error('The embedded database is closed.'));
    await this.#thread.terminate();
  }

  /** One backend: busy while any request is out, the others queued behind the one it runs. */
  load(): DatabaseLoad {
    const out = this.#pending.size;
    return { total: 1, idle: out === 0 ? 1 : 0, waiting: Math.max(0, out - 1) };
  }

  #request(request: Request): Promise<unknown> {
    return this.#send(request).reply;
  }

  #send(request: Request): { id: number; reply: Promise<unknown> } {
    const id = this.#nextId++;
    const reply = new Promise<unknown>((resolve, reject) => {
      if (this.#stopped) {
        reject(this.#stopped);
        return;
      }
      this.#pending.set(id, { resolve, reject });
      if (this.#pending.size === 1) this.#thread.ref();
      this.#thread.postMessage({ ...request, id });
    });
    return { id, reply };
  }

  #receive(message: FromThread): void {
    if ('notify' in message) {
      this.#listeners.get(message.notify)?.(message.payload);
      return;
    }
    if (!('id' in message)) return;
    const waiter = this.#pending.get(message.id);
    if (!waiter) return;
    this.#pending.delete(message.id);
    if (this.#pending.size === 0) this.#thread.unref();
    if (message.ok) waiter.resolve(message.value);
    else waiter.reject(messageToError(message.error satisfies ErrorMessage));
  }

  /** No more requests; every request still waiting fails with `error`. */
  #stop(error: Error): void {
    this.#stopped ??= error;
    for (const waiter of this.#pending.values()) waiter.reject(this.#stopped);
    this.#pending.clear();
    this.#listeners.clear();
    this.#thread.unref();
  }
}
