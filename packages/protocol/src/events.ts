import { z } from 'zod';
import { ArtifactRecord } from './artifacts.js';
import { AttemptId, Cursor, GroupName, JobId, TaskId } from './ids.js';
import { JobRecord, LogLine, TasksUpdated, Time, WorkerRecord } from './records.js';
import { WorkerBlocked } from './limits.js';

/** The data of a `task.log` event: one batch of an attempt's log lines. */
export const TaskLog = z.object({ taskId: TaskId, attempt: z.int(), lines: z.array(LogLine) });
export type TaskLog = z.infer<typeof TaskLog>;

/** The data of a `job.removed` event: which job left which group's list. */
export const JobRemoved = z.object({ id: JobId, group: GroupName });
export type JobRemoved = z.infer<typeof JobRemoved>;

/**
 * The data of a `report.refused` event (on the `refusals` topic): a worker reported on an attempt
 * whose lease it no longer held, and the report was not applied.
 */
export const ReportRefused = z.object({
  report: z.enum(['progress', 'log', 'result', 'failure', 'artifact']),
  attemptId: AttemptId,
});
export type ReportRefused = z.infer<typeof ReportRefused>;

/** An event of one kind, with the data that kind carries. */
function eventOf<K extends string, D extends z.ZodType>(kind: K, data: D) {
  return z.object({
    /** Read on from here to get only what came after this event. */
    cursor: Cursor,
    topic: z.string(),
    kind: z.literal(kind),
    /** The id of the job, task or worker the event is about. */
    subject: z.string(),
    data,
    at: Time,
  });
}

/**
 * Something that happened, on a topic: told by its kind, whose data is declared here. Switching
 * on `kind` narrows `data` (a `job.updated` event's data is a `JobRecord`).
 */
export const EventRecord = z.discriminatedUnion('kind', [
  eventOf('job.added', JobRecord),
  eventOf('job.updated', JobRecord),
  eventOf('job.removed', JobRemoved),
  // One event per job and change, listing every task it touched (moi's "update: list of objects").
  eventOf('tasks.updated', TasksUpdated),
  eventOf('task.log', TaskLog),
  eventOf('worker.added', WorkerRecord),
  eventOf('worker.updated', WorkerRecord),
  eventOf('report.refused', ReportRefused),
  // A task stored a file; on its job's topic.
  eventOf('artifact.added', ArtifactRecord),
  // A worker failed the job's tasks often enough to be offered no more of them; on its topic.
  eventOf('job.worker_blocked', WorkerBlocked),
]);
export type EventRecord = z.infer<typeof EventRecord>;

/** What an event says happened to its subject. */
export type EventKind = EventRecord['kind'];
export const EventKind = z.enum(
  EventRecord.options.map((option) => option.shape.kind.value) as [EventKind, ...EventKind[]],
);

/** The events of one kind: `EventOf<'task.log'>['data']` is a `TaskLog`. */
export type EventOf<K extends EventKind> = Extract<EventRecord, { kind: K }>;
