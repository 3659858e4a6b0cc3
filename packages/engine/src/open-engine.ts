import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Engine } from './engine.js';
import { LockFile } from './lock-file.js';
import { checkSchema, migrate } from './migrate.js';
import { PgDatabase } from './pg-database.js';
import { PgliteThreadDatabase } from './pglite-thread-database.js';
import { Statements } from './statements.js';

export interface EngineOptions {
  /**
   * A PostgreSQL connection string. When given, the engine uses that server ("external" mode);
   * otherwise it runs PGlite in `dataDir` ("embedded" mode).
   */
  databaseUrl?: string | undefined;
  /** Where embedded mode keeps its database and lock file. @defaultValue `./data` */
  dataDir?: string | undefined;
  /** The PostgreSQL schema for Drover's tables. @defaultValue `drover` */
  schema?: string | undefined;
  /**
   * Apply missing migrations on open. Embedded mode owns its database and migrates by default; a
   * shared server is migrated by `drover migrate`, and opening only checks the schema.
   * @defaultValue true when embedded, false when external
   */
  migrate?: boolean | undefined;
  /** Connections to an external server. @defaultValue 10 */
  poolSize?: number | undefined;
  /**
   * How often to vacuum and analyze the busy tables, in milliseconds; 0 never. PGlite has no
   * autovacuum, and without it dead rows pile up and claims slow down for the life of the data
   * directory. A PostgreSQL server's autovacuum does this for external mode.
   * @defaultValue 60,000 when embedded, 0 when external
   */
  maintenanceIntervalMs?: number | undefined;
}

/** Opens the engine on PGlite in a data directory, or on a PostgreSQL server. */
export async function openEngine(options: EngineOptions = {}): Promise<Engine> {
  const schema = options.schema ?? 'drover';
  const sql = new Statements();
  if (options.databaseUrl) {
    const db = await PgDatabase.open(options.databaseUrl, schema, options.poolSize);
    try {
      const migration = options.migrate ? await migrate(db) : undefined;
      if (!migration) await checkSchema(db);
      return new Engine(db, sql, undefined, migration, options.maintenanceIntervalMs ?? 0);
    } catch (error) {
      await db.close();
      throw error;
    }
  }
  const dataDir = resolve(options.dataDir ?? 'data');
  mkdirSync(dataDir, { recursive: true });
  const lock = LockFile.acquire(join(dataDir, 'drover.lock'));
  try {
    const db = await PgliteThreadDatabase.open(join(dataDir, 'pg'), schema);
    try {
      const migration = options.migrate === false ? undefined : await migrate(db);
      if (!migration) await checkSchema(db);
      return new Engine(db, sql, lock, migration, options.maintenanceIntervalMs ?? 60_000, dataDir);
    } catch (error) {
      await db.close();
      throw error;
    }
  } catch (error) {
    lock.release();
    throw error;
  }
}
