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
    };

export type ThreadReply = { id: number; record: ArtifactRecord } | { id: number; error: string };

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
    { resolve: (r: ArtifactRecord) => void; reject: (e: Error) => void }
  >();
  let nextId = 1;
  port.on('message', (reply: ThreadReply) => {
    const waiting = pending.get(reply.id);
    pending.delete(reply.id);
    if ('record' in reply) waiting?.resolve(reply.record);
    else waiting?.reject(new Error(reply.error));
  });
  const send = (message: ThreadMessage) => port.postMessage(message);
  // Cancelling ends the whole thread, so this signal never fires in here.
  const signal = new AbortController().signal;
  const ctx: TaskContext = {
    progress: (fraction, message) => send({ kind: 'progress', fraction, message }),
    log: (line) => send({ kind: 'log', line }),
    artifact: (name, data, contentType) => {
      const id = nextId++;
      const bytes =
        typeof data === 'string' ? new TextEncoder().encode(data) : new Uint8Array(data);
      send({ kind: 'artifact', id, name, data: bytes, contentType });
      return new Promise((resolve, reject) => pending.set(id, { resolve, reject }));
    },
    jobArtifacts: () =>
      Promise.reject(new Error('jobArtifacts is not available to a task that runs in a thread.')),
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
