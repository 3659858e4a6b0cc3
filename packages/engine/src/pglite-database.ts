import { PGlite } from '@electric-sql/pglite';
import type { Transaction } from '@electric-sql/pglite';
import { checkSchemaName } from './database.js';
import type { Database, DatabaseLoad, Queryable } from './database.js';

/**
 * PGlite (PostgreSQL compiled to WebAssembly) in a data directory, inside this process.
 *
 * It is a single backend: transactions run one after another, never interleaved, so
 * `FOR UPDATE SKIP LOCKED` never has anything to skip. Each query yields to the event loop
 * first, because a tight loop of PGlite queries never lets timers run.
 */
export class PgliteDatabase implements Database {
  readonly kind = 'embedded';
  readonly schema: string;
  readonly #pg: PGlite;
  /** Calls under way: PGlite runs one at a time, the others wait. */
  #out = 0;

  private constructor(pg: PGlite, schema: string) {
    this.#pg = pg;
    this.schema = schema;
  }

  /** Opens (creating if needed) the PGlite cluster in `dir`. The caller owns the directory lock. */
  static async open(dir: string, schema: string): Promise<PgliteDatabase> {
    checkSchemaName(schema);
    const pg = await PGlite.create(dir);
    await pg.exec(`SET TimeZone = 'UTC'; SET search_path = ${schema}`);
    return new PgliteDatabase(pg, schema);
  }

  async query<Row = Record<string, unknown>>(
    sql: string,
    params?: readonly unknown[],
  ): Promise<Row[]> {
    this.#out++;
    try {
      await yieldToEventLoop();
      const result = await this.#pg.query<Row>(sql, params as unknown[] | undefined);
      return result.rows;
    } finally {
      this.#out--;
    }
  }

  load(): DatabaseLoad {
    return { total: 1, idle: this.#out === 0 ? 1 : 0, waiting: Math.max(0, this.#out - 1) };
  }

  async exec(sql: string): Promise<void> {
    await yieldToEventLoop();
    await this.#pg.exec(sql);
  }

  async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    await yieldToEventLoop();
    return this.#pg.transaction(async (tx: Transaction) =>
      fn({
        query: async <Row>(sql: string, params?: readonly unknown[]) =>
          (await tx.query<Row>(sql, params as unknown[] | undefined)).rows,
        exec: async (sql: string) => {
          await tx.exec(sql);
        },
      }),
    );
  }

  async listen(channel: string, onNotify: (payload: string) => void): Promise<() => Promise<void>> {
    return this.#pg.listen(channel, onNotify);
  }

  /** Closing twice is harmless. */
  async close(): Promise<void> {
    if (this.#pg.closed) return;
    await this.#pg.close();
  }
}

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
