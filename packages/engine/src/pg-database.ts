import { createHash } from 'node:crypto';
import pg from 'pg';
import { DroverError } from '@drover/protocol';
import { checkSchemaName } from './database.js';
import type { Database, Queryable } from './database.js';

/** PostgreSQL error codes worth a second try of the whole transaction. */
const RETRYABLE_SQLSTATES = new Set(['40001', '40P01']);

/**
 * A PostgreSQL server through a `pg` pool. Every connection gets the engine's schema as its
 * search path and UTC as its time zone, so the SQL is the same as on PGlite.
 */
export class PgDatabase implements Database {
  readonly kind = 'external';
  readonly schema: string;
  readonly #pool: pg.Pool;
  readonly #connectionString: string;

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
      options: `-c search_path=${schema} -c TimeZone=UTC`,
    });
    // Errors on idle connections (a restarted server) must not crash the process; the pool
    // replaces the connection on the next query.
    pool.on('error', () => undefined);
    try {
      await pool.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
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

  async query<Row = Record<string, unknown>>(
    sql: string,
    params?: readonly unknown[],
  ): Promise<Row[]> {
    const result = await this.#pool.query(sql, params as unknown[] | undefined);
    return result.rows as Row[];
  }

  async exec(sql: string): Promise<void> {
    await this.#pool.query(sql);
  }

  async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const client = await this.#pool.connect();
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
        await client.query('ROLLBACK').catch(() => undefined);
        const code = (error as { code?: string }).code;
        if (attempt < 5 && code !== undefined && RETRYABLE_SQLSTATES.has(code)) {
          await sleep(Math.random() * 20 * attempt);
          continue;
        }
        throw error;
      } finally {
        client.release();
      }
    }
  }

  async listen(channel: string, onNotify: (payload: string) => void): Promise<() => Promise<void>> {
    // A dedicated connection: a pooled one would be handed to other queries and miss
    // notifications.
    const client = new pg.Client({ connectionString: this.#connectionString });
    client.on('error', () => undefined);
    await client.connect();
    client.on('notification', (message) => {
      if (message.channel === channel) onNotify(message.payload ?? '');
    });
    await client.query(`LISTEN "${channel}"`);
    return async () => {
      await client.end().catch(() => undefined);
    };
  }

  async close(): Promise<void> {
    await this.#pool.end();
  }
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
