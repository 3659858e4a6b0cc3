// The embedded database's own thread: PGlite runs here, off the server's event loop, and answers
// the messages of `PgliteThreadDatabase` (pglite-thread-database.ts). Started by that class only.
import { parentPort, workerData } from 'node:worker_threads';
import type { Queryable } from './database.js';
import { PgliteDatabase } from './pglite-database.js';
import type { FromThread, ToThread } from './pglite-thread-messages.js';
import { errorToMessage } from './pglite-thread-messages.js';

const port = parentPort;
if (!port) throw new Error('pglite-thread runs only as a worker thread');
const { dir, schema } = workerData as { dir: string; schema: string };

function send(message: FromThread): void {
  port?.postMessage(message);
}

/** Rolls back the transaction it is thrown in: the other side asked for it. */
const ROLLBACK = new Error("rolled back at the caller's request");

/** An open transaction: the messages for it, waiting for the loop that runs them. */
interface OpenTransaction {
  inbox: ToThread[];
  wake: (() => void) | undefined;
}

const transactions = new Map<number, OpenTransaction>();
const unlisteners = new Map<number, () => Promise<void>>();

async function run(tx: Queryable, message: ToThread & { op: 'query' | 'exec' }): Promise<void> {
  try {
    if (message.op === 'query') {
      send({ id: message.id, ok: true, value: await tx.query(message.sql, message.params) });
    } else {
      await tx.exec(message.sql);
      send({ id: message.id, ok: true, value: undefined });
    }
  } catch (error) {
    send({ id: message.id, ok: false, error: errorToMessage(error) });
  }
}

/** Runs a transaction's statements as they arrive until the other side commits or rolls back. */
function begin(db: PgliteDatabase, id: number): void {
  const open: OpenTransaction = { inbox: [], wake: undefined };
  transactions.set(id, open);
  let end: ToThread | undefined;
  db.transaction(async (tx) => {
    send({ id, ok: true, value: undefined });
    for (;;) {
      const message = open.inbox.shift();
      if (!message) {
        await new Promise<void>((resolve) => (open.wake = resolve));
        open.wake = undefined;
        continue;
      }
      if (message.op === 'query' || message.op === 'exec') await run(tx, message);
      else {
        end = message;
        if (message.op === 'rollback') throw ROLLBACK;
        return;
      }
    }
  })
    .then(
      () => end && send({ id: end.id, ok: true, value: undefined }),
      (error: unknown) => {
        if (!end) send({ id, ok: false, error: errorToMessage(error) });
        else if (error === ROLLBACK) send({ id: end.id, ok: true, value: undefined });
        else send({ id: end.id, ok: false, error: errorToMessage(error) });
      },
    )
    .finally(() => transactions.delete(id));
}

async function serve(db: PgliteDatabase, message: ToThread): Promise<void> {
  if ('tx' in message && message.tx !== undefined) {
    const open = transactions.get(message.tx);
    if (!open) {
      send({ id: message.id, ok: false, error: { message: 'The transaction is over.' } });
      return;
    }
    open.inbox.push(message);
    open.wake?.();
    return;
  }
  switch (message.op) {
    case 'query':
    case 'exec':
      return run(db, message);
    case 'begin':
      return begin(db, message.id);
    case 'listen': {
      try {
        const stop = await db.listen(message.channel, (payload) =>
          send({ notify: message.id, payload }),
        );
        unlisteners.set(message.id, stop);
        send({ id: message.id, ok: true, value: undefined });
      } catch (error) {
        send({ id: message.id, ok: false, error: errorToMessage(error) });
      }
      return;
    }
    case 'unlisten': {
      const stop = unlisteners.get(message.listener);
      unlisteners.delete(message.listener);
      await stop?.().catch(() => undefined);
      send({ id: message.id, ok: true, value: undefined });
      return;
    }
    case 'close':
      await db.close();
      send({ id: message.id, ok: true, value: undefined });
      port?.close();
      return;
    default:
      send({ id: message.id, ok: false, error: { message: `unknown message ${message.op}` } });
  }
}

try {
  const db = await PgliteDatabase.open(dir, schema);
  port.on('message', (message: ToThread) => void serve(db, message));
  send({ ready: true });
} catch (error) {
  send({ ready: false, error: errorToMessage(error) });
}
