import type { ArtifactRecord } from '@drover/protocol';
import type { z } from 'zod';

/** What a running task may do besides computing its result. */
/** An artifact of the task's job, with a way to fetch its bytes. */
export interface JobArtifact extends ArtifactRecord {
  read(): Promise<Buffer>;
}

export interface TaskContext {
  /** 0..1 and a message for people; coalesced, so calling it often is cheap. */
  progress(fraction: number, message?: string): void;
  /** A line for the task's log. */
  log(line: string): void;
  /**
   * Stores a file this attempt produced as an artifact of the task: uploaded over HTTP with its
   * sha256, retried while the server is unreachable and the lease may hold. Resolves to its record
   * once stored; rejects if the server refuses it (lease gone, too large, name already used).
   *
   * @param name A relative path such as `frames/0001.png`, unique within the attempt.
   * @param contentType @defaultValue from the name's extension; text for a string, else bytes
   */
  artifact(
    name: string,
    data: Buffer | Uint8Array | string,
    contentType?: string,
  ): Promise<ArtifactRecord>;
  /**
   * The artifacts stored so far by every task of this job, oldest first: what a later stage
   * works from (a contact sheet of the rendered frames, say). `read()` downloads one.
   */
  jobArtifacts(): Promise<JobArtifact[]>;
  /** Aborted when the task is cancelled, times out or its lease is lost: stop promptly. */
  signal: AbortSignal;
  /** This attempt's number, from 1. */
  attempt: number;
  taskId: string;
  jobId: string;
}

export interface TaskDefinition<P extends z.ZodType = z.ZodType, R extends z.ZodType = z.ZodType> {
  name: string;
  params: P;
  result?: R;
  /**
   * Run in a worker thread, off the worker's event loop: for CPU-bound handlers. The value is the
   * URL of the module that exports this definition (`import.meta.url`); the thread imports it, so
   * it must have no side effects on import.
   */
  thread?: string | URL;
  run(ctx: TaskContext, params: z.output<P>): Promise<z.input<R>> | z.input<R>;
}

/**
 * Defines a task type whose params (and result) are checked by zod schemas, so that submitting it
 * is type-checked end to end.
 *
 * @example
 * export const hello = defineTask({
 *   name: 'hello',
 *   params: z.object({ name: z.string().default('world') }),
 *   result: z.string(),
 *   async run(ctx, { name }) {
 *     ctx.progress(0.5, "I'm about to say hello");
 *     return `hi ${name}!`;
 *   },
 * });
 */
export function defineTask<P extends z.ZodType, R extends z.ZodType>(
  definition: TaskDefinition<P, R>,
): TaskDefinition<P, R> {
  return definition;
}
