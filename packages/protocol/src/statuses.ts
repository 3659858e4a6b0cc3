import { z } from 'zod';

/** A job's status, aggregated from its tasks. */
export const JobStatus = z.enum(['queued', 'running', 'succeeded', 'failed', 'cancelled']);
export type JobStatus = z.infer<typeof JobStatus>;

/**
 * A task's status. `blocked` waits on the tasks of the previous stage; `leased` is claimed by a
 * worker that has not yet said it started; a failed attempt with retries left returns the task to
 * `queued` with a back-off run-at time.
 */
export const TaskStatus = z.enum([
  'queued',
  'blocked',
  'leased',
  'running',
  'succeeded',
  'failed',
  'cancelled',
]);
export type TaskStatus = z.infer<typeof TaskStatus>;

/**
 * An attempt's status: `active` while it holds the lease, then how it ended. `released`: its
 * worker gave it back unfinished as it shut down in an orderly way; it is not counted against the
 * task's attempts.
 */
export const AttemptStatus = z.enum([
  'active',
  'succeeded',
  'failed',
  'lost',
  'timed_out',
  'cancelled',
  'released',
]);
export type AttemptStatus = z.infer<typeof AttemptStatus>;

/** A worker's state. `draining` finishes its tasks and takes no more; `disabled` takes none. */
/**
 * `online` takes tasks; `draining` finishes what it runs and takes nothing new; `disabled` takes
 * nothing (an operator's order); `unresponsive` is connected but its heartbeats stopped, so it is
 * offered nothing until they resume; `offline` is not connected.
 */
export const WorkerState = z.enum(['online', 'offline', 'disabled', 'draining', 'unresponsive']);
/** An operator's standing order for a worker, kept across its reconnects and server restarts. */
export const WorkerHold = z.enum(['draining', 'disabled']);
export type WorkerHold = z.infer<typeof WorkerHold>;
export type WorkerState = z.infer<typeof WorkerState>;

export const TERMINAL_TASK_STATUSES: readonly TaskStatus[] = ['succeeded', 'failed', 'cancelled'];
export const TERMINAL_JOB_STATUSES: readonly JobStatus[] = ['succeeded', 'failed', 'cancelled'];

export function isTerminalTaskStatus(status: TaskStatus): boolean {
  return TERMINAL_TASK_STATUSES.includes(status);
}

export function isTerminalJobStatus(status: JobStatus): boolean {
  return TERMINAL_JOB_STATUSES.includes(status);
}
