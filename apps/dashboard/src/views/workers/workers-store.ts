import { workerActionApplies } from '@drover/protocol';
import type { EventRecord, WorkerRecord, WorkerState } from '@drover/protocol';
import { VersionedStore } from '../../lib/store.js';

/** Every worker of the farm, by name, kept current by the `workers` topic. */
export class WorkersStore extends VersionedStore {
  readonly #byId = new Map<string, WorkerRecord>();
  #sorted: WorkerRecord[] = [];

  /** By name. */
  get all(): readonly WorkerRecord[] {
    return this.#sorted;
  }

  set(workers: WorkerRecord[]): void {
    for (const w of workers) this.#byId.set(w.id, w);
    this.#sort();
  }

  apply(events: EventRecord[]): void {
    let touched = false;
    for (const event of events) {
      if (event.kind !== 'worker.added' && event.kind !== 'worker.updated') continue;
      this.#byId.set(event.subject, event.data);
      touched = true;
    }
    if (touched) this.#sort();
  }

  #sort(): void {
    this.#sorted = [...this.#byId.values()].sort((a, b) =>
      a.name.localeCompare(b.name, undefined, { numeric: true }),
    );
    this.changed();
  }
}

/** Which workers a bulk action applies to: every condition set must hold. */
export interface WorkerFilter {
  state: WorkerState | '';
  tag: string;
  /** Matched against the name and the host, case-insensitively. */
  text: string;
}

export function workerMatches(worker: WorkerRecord, filter: WorkerFilter): boolean {
  if (filter.state !== '' && worker.state !== filter.state) return false;
  if (filter.tag !== '' && !worker.tags.includes(filter.tag)) return false;
  const text = filter.text.toLowerCase();
  return (
    text === '' ||
    worker.name.toLowerCase().includes(text) ||
    worker.host.toLowerCase().includes(text)
  );
}

export type WorkerAction = 'disable' | 'enable' | 'drain';

/** Whether an action changes anything for a worker: as the server decides. */
export const actionApplies = workerActionApplies;
