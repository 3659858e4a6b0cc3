import type { EventRecord, JobRecord, JobStatus } from '@drover/protocol';
import { VersionedStore } from '../../lib/store.js';

/** Newest first; ids break ties so the order is total. */
function before(a: JobRecord, b: JobRecord): boolean {
  return a.createdAt === b.createdAt ? a.id > b.id : a.createdAt > b.createdAt;
}

/**
 * The jobs of one group as the page knows them: read a page at a time, then kept current by the
 * group's events. Records are replaced, never mutated, so a row re-renders only when its job
 * changed.
 */
export class JobsStore extends VersionedStore {
  readonly #byId = new Map<string, JobRecord>();
  /** Ids, newest job first. */
  #order: string[] = [];

  get size(): number {
    return this.#order.length;
  }

  get(id: string): JobRecord | undefined {
    return this.#byId.get(id);
  }

  #all: JobRecord[] | undefined;

  /** Every job, newest first: the same array until the next change. */
  all(): JobRecord[] {
    if (this.#all) return this.#all;
    const jobs: JobRecord[] = [];
    for (const id of this.#order) {
      const job = this.#byId.get(id);
      if (job) jobs.push(job);
    }
    return (this.#all = jobs);
  }

  protected override changed(): void {
    this.#all = undefined;
    super.changed();
  }

  /** The oldest job known: where the next page of `jobs.list` starts. */
  oldest(): JobRecord | undefined {
    const id = this.#order.at(-1);
    return id === undefined ? undefined : this.#byId.get(id);
  }

  /** Adds a page read with `jobs.list`. */
  addPage(jobs: JobRecord[]): void {
    let touched = false;
    for (const job of jobs) touched = this.#upsert(job) || touched;
    if (touched) this.changed();
  }

  /** Applies a batch of `jobs/<group>` events. */
  apply(events: EventRecord[]): void {
    let touched = false;
    for (const event of events) {
      if (event.kind === 'job.added' || event.kind === 'job.updated') {
        touched = this.#upsert(event.data) || touched;
      } else if (event.kind === 'job.removed') {
        touched = this.#remove(event.data.id) || touched;
      }
    }
    if (touched) this.changed();
  }

  #upsert(job: JobRecord): boolean {
    const known = this.#byId.get(job.id);
    if (known) {
      // Events replayed from the head cursor may be older than what the list read.
      if (known.updatedAt > job.updatedAt) return false;
      this.#byId.set(job.id, job);
      return true;
    }
    this.#byId.set(job.id, job);
    // New jobs nearly always come first; a binary search places the rest.
    let lo = 0;
    let hi = this.#order.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const other = this.#byId.get(this.#order[mid] ?? '');
      if (other && before(other, job)) lo = mid + 1;
      else hi = mid;
    }
    this.#order.splice(lo, 0, job.id);
    return true;
  }

  #remove(id: string): boolean {
    if (!this.#byId.delete(id)) return false;
    this.#order = this.#order.filter((other) => other !== id);
    return true;
  }
}

export interface JobFilter {
  status: JobStatus | 'all';
  /** Matched against the name, id and task type, case-insensitively. */
  text: string;
}

export function matches(job: JobRecord, filter: JobFilter): boolean {
  if (filter.status !== 'all' && job.status !== filter.status) return false;
  if (filter.text === '') return true;
  const text = filter.text.toLowerCase();
  return (
    job.name.toLowerCase().includes(text) ||
    job.id.startsWith(text) ||
    job.taskType.toLowerCase().includes(text)
  );
}
