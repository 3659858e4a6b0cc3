// The code each worker thread runs: it imports the module that defines a task type, finds the
// definition by name, and runs it with a context whose calls go back to the main thread.
import type { MessagePort } from 'node:worker_threads';
import type { ArtifactRecord } from '@drover/protocol';
import type { TaskContext, TaskDefinition } from './define-task.js';

export interface ThreadTask {
  module: string;
  name: string;
  params: unknown;
  attempt: number;
  taskId: string;
  jobId: string;
  port: MessagePort;
}

export type ThreadMessage =
  | { kind: 'end' }
  | { kind: 'progress'; fraction: number; message?: string | undefined }
  | { kind: 'log'; line: string }
  | {
      kind: 'artifact';
      id: number;
      name: string;
      data: Uint8Array;
      contentType?: string | undefined;
    }
  | { kind: 'jobArtifacts'; id: number }
  | { kind: 'read'; id: number; artifactId: string };

export type ThreadReply =
  | { id: number; record: ArtifactRecord }
  | { id: number; records: ArtifactRecord[] }
  | { id: number; bytes: Uint8Array }
  | { id: number; error: string };

function isDefinition(value: unknown, name: string): value is TaskDefinition {
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as TaskDefinition).name === name &&
    typeof (value as TaskDefinition).run === 'function'
  );
}

export default async function runInThread(task: ThreadTask): Promise<unknown> {
  const exports = (await import(task.module)) as Record<string, unknown>;
  const definition = Object.values(exports).find((v) => isDefinition(v, task.name));
  if (!definition) throw new Error(`${task.module} exports no task type named ${task.name}.`);
  const port = task.port;
  const pending = new Map<
    number,
    { resolve: (r: ThreadReply) => void; reject: (e: Error) => void }
  >();
  let nextId = 1;
  port.on('message', (reply: ThreadReply) => {
    const waiting = pending.get(reply.id);
    pending.delete(reply.id);
    if ('error' in reply) waiting?.reject(new Error(reply.error));
    else waiting?.resolve(reply);
  });
  /** Asks the main thread for something and waits for its answer. */
  const ask = (message: ThreadMessage & { id: number }) =>
    new Promise<ThreadReply>((resolve, reject) => {
      pending.set(message.id, { resolve, reject });
      port.postMessage(message);
    });
  const send = (message: ThreadMessage) => port.postMessage(message);
  // Cancelling ends the whole thread, so this signal never fires in here.
  const signal = new AbortController().signal;
  const ctx: TaskContext = {
    progress: (fraction, message) => send({ kind: 'progress', fraction, message }),
    log: (line) => send({ kind: 'log', line }),
    artifact: async (name, data, contentType) => {
      const bytes =
        typeof data === 'string' ? new TextEncoder().encode(data) : new Uint8Array(data);
      const reply = await ask({ kind: 'artifact', id: nextId++, name, data: bytes, contentType });
      if (!('record' in reply)) throw new Error('the main thread answered an artifact amiss');
      return reply.record;
    },
    // The job's artifacts are listed and read by the main thread, which holds the connection.
    jobArtifacts: async () => {
      const reply = await ask({ kind: 'jobArtifacts', id: nextId++ });
      if (!('records' in reply)) throw new Error('the main thread answered a listing amiss');
      return reply.records.map((record) => ({
        ...record,
        read: async () => {
          const read = await ask({ kind: 'read', id: nextId++, artifactId: record.id });
          if (!('bytes' in read)) throw new Error('the main thread answered a read amiss');
          return Buffer.from(read.bytes.buffer, read.bytes.byteOffset, read.bytes.byteLength);
        },
      }));
    },
    signal,
    attempt: task.attempt,
    taskId: task.taskId,
    jobId: task.jobId,
  };
  try {
    return await definition.run(ctx, task.params);
  } finally {
    // Last on the port, so the main thread knows every message before it has arrived. The main
    // side closes the port.
    send({ kind: 'end' });
  }
}
