// What the embedded database's thread (pglite-thread.ts) and `PgliteThreadDatabase` say to each
// other. Every request has an id and gets one reply with it; notifications name their listener.

/** A request to the thread. `tx` runs it in that open transaction (the id of its `begin`). */
export type ToThread =
  | { id: number; op: 'query'; sql: string; params: unknown[] | undefined; tx?: number }
  | { id: number; op: 'exec'; sql: string; tx?: number }
  | { id: number; op: 'begin' }
  | { id: number; op: 'commit' | 'rollback'; tx: number }
  | { id: number; op: 'listen'; channel: string }
  | { id: number; op: 'unlisten'; listener: number }
  | { id: number; op: 'close' };

/** A database error as plain data: its message and PostgreSQL's fields (code, detail, ...). */
export type ErrorMessage = { message: string } & Record<string, string | number | undefined>;

export type FromThread =
  | { ready: true }
  | { ready: false; error: ErrorMessage }
  | { id: number; ok: true; value: unknown }
  | { id: number; ok: false; error: ErrorMessage }
  | { notify: number; payload: string };

/** An error's message and its own fields that are text or numbers (an Error does not clone). */
export function errorToMessage(error: unknown): ErrorMessage {
  if (!(error instanceof Error)) return { message: String(error) };
  const fields: ErrorMessage = { message: error.message };
  for (const [key, value] of Object.entries(error)) {
    if (typeof value === 'string' || typeof value === 'number') fields[key] = value;
  }
  return fields;
}

/** The error again, with the same message and fields, thrown where the caller awaits it. */
export function messageToError(fields: ErrorMessage): Error {
  return Object.assign(new Error(fields.message), fields);
}
