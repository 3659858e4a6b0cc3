import type {
  ArtifactRecord,
  EventRecord,
  JobRecord,
  TaskRecord,
  TaskSummary,
} from '@drover/protocol';
import { VersionedStore } from '../../lib/store.js';

/** A task as the job view shows it: its summary, and its type once the list has been read. */
export type TaskRow = TaskSummary & { taskType?: string; maxAttempts?: number };

/**
 * One job, its tasks and its artifacts: read once, then kept current by the job's topic. Task
 * rows are replaced, never mutated, so a table row re-renders only when its task changed.
 */
export class JobStore extends VersionedStore {
  job: JobRecord | undefined;
  /** The job was removed (here or anywhere else): there is nothing more to show. */
  removed = false;
  /** By index in the job. */
  tasks: TaskRow[] = [];
  readonly #indexById = new Map<string, number>();
  artifacts: ArtifactRecord[] = [];
  readonly #artifactIds = new Set<string>();

  setJob(job: JobRecord): void {
    if (this.#setJob(job)) this.changed();
  }

  addTasks(records: TaskRecord[]): void {
    for (const t of records) this.#setTask(t);
    this.tasks = [...this.tasks];
    this.changed();
  }

  addArtifacts(records: ArtifactRecord[]): void {
    if (this.#addArtifacts(records)) this.changed();
  }

  taskById(id: string): TaskRow | undefined {
    const index = this.#indexById.get(id);
    return index === undefined ? undefined : this.tasks[index];
  }

  /** Applies a batch of `job/<id>` events. */
  apply(events: EventRecord[]): void {
    let touched = false;
    let tasks = false;
    for (const event of events) {
      switch (event.kind) {
        case 'job.added':
        case 'job.updated':
          touched = this.#setJob(event.data) || touched;
          break;
        case 'tasks.updated':
          for (const t of event.data.tasks) this.#setTask(t);
          tasks = true;
          break;
        case 'artifact.added':
          touched = this.#addArtifacts([event.data]) || touched;
          break;
        case 'job.removed':
          this.removed = true;
          touched = true;
          break;
        default:
          break;
      }
    }
    if (tasks) this.tasks = [...this.tasks];
    if (touched || tasks) this.changed();
  }

  #setJob(job: JobRecord): boolean {
    // Events replayed from the head cursor may be older than what was read.
    if (this.job && this.job.updatedAt > job.updatedAt) return false;
    this.job = job;
    return true;
  }

  #setTask(task: TaskSummary | TaskRecord): void {
    const known = this.tasks[task.index];
    const row: TaskRow = {
      id: task.id,
      index: task.index,
      stage: task.stage,
      status: task.status,
      attempt: task.attempt,
      progress: task.progress,
      message: task.message,
      result: task.result,
      error: task.error,
      cancelRequested: task.cancelRequested,
      workerId: task.workerId,
      runAt: task.runAt,
      startedAt: task.startedAt,
      finishedAt: task.finishedAt,
      taskType: 'taskType' in task ? task.taskType : known?.taskType,
      maxAttempts: 'maxAttempts' in task ? task.maxAttempts : known?.maxAttempts,
    };
    this.tasks[task.index] = row;
    this.#indexById.set(task.id, task.index);
  }

  #addArtifacts(records: ArtifactRecord[]): boolean {
    const fresh = records.filter((a) => !this.#artifactIds.has(a.id));
    if (fresh.length === 0) return false;
    for (const a of fresh) this.#artifactIds.add(a.id);
    this.artifacts = [...this.artifacts, ...fresh];
    return true;
  }
}
