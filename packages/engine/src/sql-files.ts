import { readFileSync, readdirSync } from 'node:fs';

// This module runs from dist/src/; migrations/ and sql/ ship in the package beside dist/.
function packageDir(): URL {
  return new URL('../../', import.meta.url);
}

export interface Migration {
  /** The number in the file name: 1 for 0001_init.sql. */
  id: number;
  name: string;
  sql: string;
}

/** The numbered migrations, in order. Numbers must run 1, 2, 3... without a gap. */
export function loadMigrations(): Migration[] {
  const dir = new URL('migrations/', packageDir());
  const migrations = readdirSync(dir)
    .filter((file) => file.endsWith('.sql'))
    .sort()
    .map((file) => {
      const match = /^(\d{4})_([a-z0-9_]+)\.sql$/.exec(file);
      if (!match?.[1] || !match[2])
        throw new Error(`migration file name ${file} is not NNNN_name.sql`);
      return {
        id: Number(match[1]),
        name: match[2],
        sql: readFileSync(new URL(file, dir), 'utf8'),
      };
    });
  migrations.forEach((m, i) => {
    if (m.id !== i + 1)
      throw new Error(`migration ${m.id}_${m.name} is out of sequence; expected ${i + 1}`);
  });
  return migrations;
}

/** The hot statements, one per file in sql/, by file name without `.sql`. */
export function loadStatements(): ReadonlyMap<string, string> {
  const dir = new URL('sql/', packageDir());
  return new Map(
    readdirSync(dir)
      .filter((file) => file.endsWith('.sql'))
      .map((file) => [file.slice(0, -4), readFileSync(new URL(file, dir), 'utf8')]),
  );
}
