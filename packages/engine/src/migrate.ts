import { DroverError } from '@drover/protocol';
import type { Database } from './database.js';
import { loadMigrations } from './sql-files.js';

export interface MigrationReport {
  /** The schema version before and after. */
  from: number;
  to: number;
  applied: string[];
}

/**
 * Applies the migrations the database lacks, each in its own transaction, under an advisory lock
 * so that servers starting together migrate once. Applying twice changes nothing.
 */
export async function migrate(db: Database): Promise<MigrationReport> {
  const migrations = loadMigrations();
  const latest = migrations.length;
  return db.transaction(async (tx) => {
    // Must come first: it serialises concurrent migrators before either reads the version.
    await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`drover.migrate.${db.schema}`]);
    await tx.exec(`CREATE SCHEMA IF NOT EXISTS ${db.schema}`);
    await tx.query(
      `CREATE TABLE IF NOT EXISTS migrations (
         id int PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
    );
    const rows = await tx.query<{ version: number | null }>(
      'SELECT max(id) AS version FROM migrations',
    );
    const from = rows[0]?.version ?? 0;
    if (from > latest) throw schemaTooNew(from, latest);
    const applied: string[] = [];
    for (const migration of migrations.slice(from)) {
      await tx.exec(migration.sql);
      await tx.query('INSERT INTO migrations (id, name) VALUES ($1, $2)', [
        migration.id,
        migration.name,
      ]);
      applied.push(`${String(migration.id).padStart(4, '0')}_${migration.name}`);
    }
    return { from, to: latest, applied };
  });
}

/** The schema version the database is at, and the one this engine needs. */
export async function schemaVersion(
  db: Database,
): Promise<{ current: number; required: number; applied: number }> {
  const required = loadMigrations().length;
  const exists = await db.query<{ present: boolean }>(
    `SELECT to_regclass('migrations') IS NOT NULL AS present`,
  );
  if (!exists[0]?.present) return { current: 0, required, applied: 0 };
  const rows = await db.query<{ version: number | null; applied: number }>(
    'SELECT max(id) AS version, count(*)::int AS applied FROM migrations',
  );
  return { current: rows[0]?.version ?? 0, required, applied: rows[0]?.applied ?? 0 };
}

/** Refuses to start on a schema that is older or newer than this engine. */
export async function checkSchema(db: Database): Promise<void> {
  const { current, required } = await schemaVersion(db);
  if (current > required) throw schemaTooNew(current, required);
  if (current < required) {
    throw new DroverError(
      'DROVER_E_SCHEMA_TOO_OLD',
      `The database schema is at version ${current}; this Drover needs ${required}. Run \`drover migrate\`, then start again.`,
    );
  }
}

function schemaTooNew(current: number, latest: number): DroverError {
  return new DroverError(
    'DROVER_E_SCHEMA_TOO_NEW',
    `The database schema is at version ${current}, newer than this Drover knows (${latest}). Upgrade Drover to the version that migrated it.`,
  );
}
