import { Cursor, DroverError, Topic, parseOrThrow } from '@drover/protocol';
import type { EventRecord } from '@drover/protocol';
import type { Database } from './database.js';
import type { Statements } from './statements.js';

export interface ReadEventsRequest {
  topic: string;
  /** Read what came after this cursor; the empty string reads from the beginning. */
  after: string;
  /** @defaultValue 1000 */
  limit?: number;
}

export interface EventPage {
  events: EventRecord[];
  /** Pass this back to read on; it is `after` when nothing new was read. */
  cursor: string;
}

interface EventRow {
  tx: string;
  id: string;
  topic: string;
  kind: EventRecord['kind'];
  subject: string;
  data: unknown;
  at: Date;
}

function decodeCursor(cursor: string): [string, string] {
  if (cursor === '') return ['0', '0'];
  const [tx, id] = cursor.split(':');
  if (tx === undefined || id === undefined)
    throw new DroverError('DROVER_E_INVALID_PARAMS', `Invalid cursor ${cursor}`);
  return [tx, id];
}

/** Events of one topic after a cursor, oldest first; never skips one that commits late. */
export async function readEvents(
  db: Database,
  sql: Statements,
  request: ReadEventsRequest,
): Promise<EventPage> {
  const topic = parseOrThrow(Topic, request.topic, 'topic');
  const after = parseOrThrow(Cursor, request.after, 'cursor');
  const limit = Math.min(Math.max(request.limit ?? 1000, 1), 10_000);
  const [tx, id] = decodeCursor(after);
  const rows = await db.query<EventRow>(sql.get('read-events'), [topic, tx, id, limit]);
  // The engine's own statements write each kind's data as `EventRecord` declares it (the
  // events test checks every kind), so a row is taken as the event it says it is.
  const events = rows.map(
    (row) =>
      ({
        cursor: `${row.tx}:${row.id}`,
        topic: row.topic,
        kind: row.kind,
        subject: row.subject,
        data: row.data,
        at: new Date(row.at).toISOString(),
      }) as EventRecord,
  );
  return { events, cursor: events.at(-1)?.cursor ?? after };
}

/** The cursor after the last visible event of a topic: subscribe from here for what is new. */
export async function headCursor(db: Database, sql: Statements, topic: string): Promise<string> {
  parseOrThrow(Topic, topic, 'topic');
  const [row] = await db.query<{ tx: string; id: string }>(sql.get('head-cursor'), [topic]);
  return row ? `${row.tx}:${row.id}` : '';
}
