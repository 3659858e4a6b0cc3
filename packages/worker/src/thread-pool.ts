import { availableParallelism } from 'node:os';
import { MessageChannel } from 'node:worker_threads';
import { Piscina } from 'piscina';
import type { ArtifactRecord } from '@drover/protocol';
import type { JobArtifact, TaskContext, TaskDefinition } from './define-task.js';
import type { ThreadMessage, ThreadReply, ThreadTask } from './thread-entry.js';

/**
 * Runs task handlers marked `thread` in worker threads, so a CPU-bound handler never holds up the
 * worker's event loop: heartbeats keep renewing leases, reports keep flowing. Progress, log lines
 * and artifacts come back to the main thread over a message port; cancelling ends the thread.
 */
export class ThreadPool {
  readonly #pool: Piscina;

  constructor(maxThreads = availableParallelism()) {
    this.#pool = new Piscina({
      filename: new URL('./thread-entry.js', import.meta.url).href,
      maxThreads,
      idleTimeout: 60_000,
    });
  }

  async run(definition: TaskDefinition, ctx: TaskContext, params: unknown): Promise<unknown> {
    if (!definition.thread)
      throw new Error(`Task type ${definition.name} does not run in a thread.`);
    const { port1, port2 } = new MessageChannel();
    let ended = () => undefined as void;
    const end = new Promise<void>((resolve) => (ended = resolve));
    // The job's artifacts the thread has listed, by id, for it to read.
    const listed = new Map<string, JobArtifact>();
    const reply = (r: ThreadReply, transfer: ArrayBuffer[] = []) => port1.postMessage(r, transfer);
    const failed = (id: number) => (error: unknown) =>
      reply({ id, error: error instanceof Error ? error.message : String(error) });
    port1.on('message', (message: ThreadMessage) => {
      if (message.kind === 'end') ended();
      else if (message.kind === 'progress') ctx.progress(message.fraction, message.message);
      else if (message.kind === 'log') ctx.log(message.line);
      else if (message.kind === 'artifact') {
        ctx
          .artifact(message.name, Buffer.from(message.data), message.contentType)
          .then((record) => reply({ id: message.id, record }), failed(message.id));
      } else if (message.kind === 'jobArtifacts') {
        ctx.jobArtifacts().then((artifacts) => {
          for (const a of artifacts) listed.set(a.id, a);
          const records = artifacts.map((a) => {
            const record: Partial<JobArtifact> = { ...a };
            delete record.read;
            return record as ArtifactRecord;
          });
          reply({ id: message.id, records });
        }, failed(message.id));
      } else {
        const artifact = listed.get(message.artifactId);
        if (!artifact) {
          failed(message.id)(new Error(`artifact ${message.artifactId} was not listed`));
          return;
        }
        artifact.read().then((buffer) => {
          const bytes = new Uint8Array(buffer);
          reply({ id: message.id, bytes }, [bytes.buffer]);
        }, failed(message.id));
      }
    });
    const task: ThreadTask = {
      module: String(definition.thread),
      name: definition.name,
      params,
      attempt: ctx.attempt,
      taskId: ctx.taskId,
      jobId: ctx.jobId,
      port: port2,
    };
    try {
      const result: unknown = await this.#pool.run(task, {
        transferList: [port2],
        signal: ctx.signal,
      });
      // The result can overtake the handler's last messages: wait for them before closing.
      let guard: NodeJS.Timeout | undefined;
      await Promise.race([end, new Promise((resolve) => (guard = setTimeout(resolve, 5000)))]);
      clearTimeout(guard);
      return result;
    } finally {
      port1.close();
    }
  }

  close(): Promise<void> {
    return this.#pool.destroy();
  }
}
