/**
 * What the engine needs from a database: PGlite and a PostgreSQL pool both provide it, and the
 * engine's SQL is the same for both.
 */
export interface Queryable {
  /** One statement with `$n` parameters. */
  query<Row = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<Row[]>;
  /** Several statements with no parameters, such as a migration. */
  exec(sql: string): Promise<void>;
}

export interface Database extends Queryable {
  /** `embedded` is PGlite in a data directory; `external` a PostgreSQL server. */
  readonly kind: 'embedded' | 'external';
  /** The schema every table lives in; also names the notification channel. */
  readonly schema: string;
  /** Runs `fn` in one transaction: committed when it resolves, rolled back when it throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  /** Calls `onNotify` with each payload sent on `channel`; resolves to a function that stops it. */
  listen(channel: string, onNotify: (payload: string) => void): Promise<() => Promise<void>>;
  /** How busy the connections are now, read from memory. */
  load(): DatabaseLoad;
  close(): Promise<void>;
}

/**
 * A database's connections at one moment. A PostgreSQL pool has `total` connections, `idle` of
 * them unused, and `waiting` queries queued for one; PGlite has one backend, which runs one
 * statement at a time while the others (`waiting`) wait their turn.
 */
export interface DatabaseLoad {
  total: number;
  idle: number;
  waiting: number;
}

/** Schema names are put into SQL text, so only plain identifiers are allowed. */
export function checkSchemaName(schema: string): string {
  if (!/^[a-z_][a-z0-9_]{0,40}$/.test(schema)) {
    throw new TypeError(
      `schema must be a lowercase SQL identifier of at most 41 characters, got ${JSON.stringify(schema)}`,
    );
  }
  return schema;
}
