import { createHash } from 'node:crypto';
import pg from 'pg';
import { DroverError, backoffMs } from '@drover/protocol';
import { checkSchemaName } from './database.js';
import type { Database, DatabaseLoad, Queryable } from './database.js';

/** PostgreSQL error codes worth a second try of the whole transaction. */
const RETRYABLE_SQLSTATES = new Set(['40001', '40P01']);

/** How long a query waits for a connection before the database counts as unavailable. */
const CONNECT_TIMEOUT_MS = 10_000;

/** Network errors that mean the server cannot be reached, not that a statement failed. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
]);
/** SQLSTATEs of a server going away or refusing connections: class 08, shutdowns, too many. */
const UNAVAILABLE_SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300']);

/**
 * A PostgreSQL server through a `pg` pool. Every connection gets the engine's schema as its
 * search path and UTC as its time zone, so the SQL is the same as on PGlite.
 */
export class PgDatabase implements Database {
  readonly kind = 'external';
  readonly schema: string;
  readonly #pool: pg.Pool;
  readonly #connectionString: string;
  readonly #listeners = new Set<Listener>();
  #closed = false;

  private constructor(pool: pg.Pool, connectionString: string, schema: string) {
    this.#pool = pool;
    this.#connectionString = connectionString;
    this.schema = schema;
  }

  static async open(connectionString: string, schema: string, poolSize = 10): Promise<PgDatabase> {
    checkSchemaName(schema);
    const pool = new pg.Pool({
      connectionString,
      max: poolSize,
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      options: `-c search_path=${schema} -c TimeZone=UTC`,
    });
    // Errors on idle connections (a restarted server) must not crash the process; the pool
    // replaces the connection on the next query.
    pool.on('error', () => undefined);
    try {
      // Only a check that the server answers: the schema is created by migrate(), under its lock.
      await pool.query('SELECT 1');
    } catch (cause) {
      await pool.end();
      throw new DroverError(
        'DROVER_E_DATABASE_UNAVAILABLE',
        `Cannot reach PostgreSQL at ${redact(connectionString)}: ${(cause as Error).message}. Check DROVER_DATABASE_URL and that the server is running.`,
        { cause },
      );
    }
    return new PgDatabase(pool, connectionString, schema);
  }

  load(): DatabaseLoad {
    const pool = this.#pool;
    return { total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount };
  }

  async query<Row = Record<string, unknown>>(
    sql: string,
    params?: readonly unknown[],
  ): Promise<Row[]> {
    try {
      const result = await this.#pool.query(sql, params as unknown[] | undefined);
      return result.rows as Row[];
    } catch (error) {
      throw this.#unavailable(error);
    }
  }

  async exec(sql: string): Promise<void> {
    try {
      await this.#pool.query(sql);
    } catch (error) {
      throw this.#unavailable(error);
    }
  }

  async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      let client: pg.PoolClient;
      try {
        client = await this.#pool.connect();
      } catch (error) {
        throw this.#unavailable(error);
      }
      let broken = false;
      try {
        await client.query('BEGIN');
        const value = await fn({
          query: async <Row>(sql: string, params?: readonly unknown[]) =>
            (await client.query(prepared(sql, params))).rows as Row[],
          exec: async (sql: string) => {
            await client.query(sql);
          },
        });
        await client.query('COMMIT');
        return value;
      } catch (error) {
        broken = isConnectionError(error);
        if (!broken) await client.query('ROLLBACK').catch(() => undefined);
        if (attempt < 5 && isRetryable(error)) {
          await sleep(Math.random() * 20 * attempt);
          continue;
        }
        throw this.#unavailable(error);
      } finally {
        // A connection that broke is closed rather than handed to the next query.
        client.release(broken);
      }
    }
  }

  /**
   * Listens on a dedicated connection (a pooled one would be handed to other queries and miss
   * notifications). When that connection drops, it is opened again with back-off, and `onNotify`
   * gets `*`: anything may have happened meanwhile, so listeners read what they follow again.
   */
  async listen(channel: string, onNotify: (payload: string) => void): Promise<() => Promise<void>> {
    const listener = new Listener(this.#connectionString, channel, onNotify);
    this.#listeners.add(listener);
    try {
      await listener.connect();
    } catch (error) {
      this.#listeners.delete(listener);
      await listener.stop();
      throw error;
    }
    return async () => {
      this.#listeners.delete(listener);
      await listener.stop();
    };
  }

  /**
   * The error to throw for `error`: `DROVER_E_DATABASE_UNAVAILABLE` (retryable) when the server
   * could not be reached or dropped the connection, the error itself otherwise.
   */
  #unavailable(error: unknown): unknown {
    if (!isConnectionError(error)) return error;
    return new DroverError(
      'DROVER_E_DATABASE_UNAVAILABLE',
      `PostgreSQL at ${redact(this.#connectionString)} does not answer: ${(error as Error).message}. The call may be tried again once it is back.`,
      { cause: error },
    );
  }

  /** Ends the pool and every listening connection. Closing twice is harmless. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all([...this.#listeners].map((l) => l.stop()));
    this.#listeners.clear();
    await this.#pool.end();
  }
}

/** One LISTEN connection that comes back when it drops. */
class Listener {
  readonly #connectionString: string;
  readonly #channel: string;
  readonly #onNotify: (payload: string) => void;
  #client: pg.Client | undefined;
  #stopped = false;
  /** Reconnects of the notification connection since it last worked. */
  #failures = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(connectionString: string, channel: string, onNotify: (payload: string) => void) {
    this.#connectionString = connectionString;
    this.#channel = channel;
    this.#onNotify = onNotify;
  }

  async connect(): Promise<void> {
    const client = new pg.Client({ connectionString: this.#connectionString });
    this.#client = client;
    client.on('error', () => undefined);
    client.on('end', () => this.#dropped(client));
    client.on('notification', (message) => {
      if (message.channel === this.#channel) this.#onNotify(message.payload ?? '');
    });
    try {
      await client.connect();
      await client.query(`LISTEN "${this.#channel}"`);
    } catch (error) {
      await client.end().catch(() => undefined);
      throw error;
    }
    this.#failures = 0;
  }

  #dropped(client: pg.Client): void {
    if (this.#stopped || client !== this.#client) return;
    this.#timer = setTimeout(
      () => {
        this.connect().then(
          () => this.#onNotify('*'),
          () => this.#dropped(this.#client ?? client),
        );
      },
      backoffMs(this.#failures, { initialMs: 100, maxMs: 10_000 }),
    );
    this.#timer.unref();
    this.#failures += 1;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#client?.end().catch(() => undefined);
  }
}

function isRetryable(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && RETRYABLE_SQLSTATES.has(code);
}

const statementNames = new Map<string, string>();

/**
 * A named statement: each connection parses and plans it once, instead of on every call (a claim's
 * plan costs about a millisecond). The name is derived from the text, so the same SQL is the same
 * statement on every connection.
 */
function prepared(sql: string, params: readonly unknown[] | undefined): pg.QueryConfig {
  let name = statementNames.get(sql);
  if (name === undefined) {
    name = `drover_${createHash('sha1').update(sql).digest('hex').slice(0, 16)}`;
    statementNames.set(sql, name);
  }
  return { name, text: sql, values: params as unknown[] | undefined };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A connection string without its password, for messages. */
export function redact(connectionString: string): string {
  try {
    const url = new URL(connectionString);
    if (url.password) url.password = '***';
    return url.toString();
  } catch {
    return '(unparseable connection string)';
  }
}

/** Whether `error` means the server is unreachable or the connection broke. */
function isConnectionError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (NETWORK_CODES.has(code) || UNAVAILABLE_SQLSTATES.has(code) || /^08...$/.test(code))
      return true;
  }
  return /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Connection is closed/i.test(
    error.message,
  );
}
