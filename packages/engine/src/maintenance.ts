import type { Database } from './database.js';
import type { Statements } from './statements.js';

/**
 * Vacuums and analyzes the busy tables (sql/maintain.sql). VACUUM cannot run inside a transaction
 * block, so the file's statements are sent one by one.
 */
export async function runMaintenance(db: Database, sql: Statements): Promise<void> {
  for (const statement of splitStatements(sql.get('maintain'))) await db.exec(statement);
}

/** The statements of a file, without its comments. */
function splitStatements(text: string): string[] {
  return text
    .split('\n')
    .filter((line) => !line.trimStart().startsWith('--'))
    .join('\n')
    .split(';')
    .map((statement) => statement.trim())
    .filter((statement) => statement.length > 0);
}
