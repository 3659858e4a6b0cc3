import type { Assignment, WorkerRecord } from '@drover/protocol';
import type { ClaimGroup, Engine } from '@drover/engine';

/** What the dispatcher needs of a connected worker. */
export interface Seat {
  readonly worker: WorkerRecord | undefined;
  /** Slots the worker may fill now: none unless it is online and its socket open. */
  readonly freeSlots: number;
  /** Whether this seat is still the worker's live connection. */
  readonly live: boolean;
  assign(assignments: Assignment[]): void;
}

export interface DispatcherOptions {
  leaseMs: number;
  /**
   * At most this many slots are offered in one pass; the rest wait for the next pass, which
   * starts with the workers this one left out. Bounds how long one claim holds an embedded
   * database, a single backend that other statements wait for. @defaultValue 256
   */
  maxSlotsPerPass?: number;
  /**
   * Tasks claimed for a worker that left (or began to leave) meanwhile are given back at once,
   * unstarted: the attempts are released, not charged.
   */
  giveBack: (leases: { attemptId: string; token: string }[]) => Promise<void>;
  /** Tasks were claimed (before they are handed out). */
  onClaimed?: (assignments: readonly Assignment[]) => void;
  onError?: (error: unknown, where: string) => void;
}

/**
 * The one dispatcher of a server: each pass claims, in one statement, tasks for the free slots
 * of every connected worker, grouped by what they can run (task types and tags), then hands them
 * out in memory.
 *
 * Fairness: within a group, slots are offered one per worker before any worker's second, starting
 * each pass one worker further along, so no worker is always first; the groups take turns at
 * being first the same way. A worker with free slots is offered in every pass until it has work.
 */
export class Dispatcher {
  readonly #engine: Engine;
  readonly #seats: () => Iterable<Seat>;
  readonly #options: Required<Omit<DispatcherOptions, 'onError' | 'onClaimed'>> &
    Pick<DispatcherOptions, 'onError' | 'onClaimed'>;
  #running: Promise<void> | undefined;
  #again = false;
  #closed = false;
  #turn = 0;
  /**
   * Groups (by what they can run) whose last claim came back short: the queue has nothing for
   * them until a wake-up says tasks became claimable. New free slots in such a group cost no
   * statement, so a fleet connecting to an empty queue is not a claim per hello.
   */
  readonly #drained = new Set<string>();

  constructor(engine: Engine, seats: () => Iterable<Seat>, options: DispatcherOptions) {
    this.#engine = engine;
    this.#seats = seats;
    this.#options = { maxSlotsPerPass: 256, ...options };
  }

  /** Tasks may have become claimable (a notification, a submission, the safety poll): a pass. */
  wake(): void {
    this.#drained.clear();
    this.soon();
  }

  /**
   * Slots were freed or added: a pass as soon as the current one ends, for the groups whose
   * queue is not known to be drained; calls in between coalesce into one.
   */
  soon(): void {
    if (this.#closed) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = this.#pass()
      .then((more) => {
        if (more) this.#again = true;
      })
      .catch((error: unknown) => this.#options.onError?.(error, 'dispatching'))
      .finally(() => {
        this.#running = undefined;
        if (this.#again) {
          this.#again = false;
          this.soon();
        }
      });
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#running;
  }

  /** One pass; true when it filled every slot it offered, so the queue may hold more. */
  async #pass(): Promise<boolean> {
    const groups = this.#groups();
    const offered = groups.reduce((n, g) => n + g.slots.length, 0);
    if (offered === 0) return false;
    this.#turn++;
    const assignments = await this.#engine.claimBatch({
      groups: groups.map(({ taskTypes, tags, slots }) => ({ taskTypes, tags, slots })),
      leaseMs: this.#options.leaseMs,
    });
    if (assignments.length > 0) this.#options.onClaimed?.(assignments);
    const got = new Map<string, number>();
    for (const a of assignments) {
      const workerId = a.task.workerId ?? '';
      got.set(workerId, (got.get(workerId) ?? 0) + 1);
    }
    // A group given fewer tasks than it had slots took all its queue holds now. (Rarely, a group
    // whose tasks another group also runs was left short by it: the safety poll wakes it.)
    for (const group of groups) {
      const workers = new Set(group.slots);
      let filled = 0;
      for (const id of workers) filled += got.get(id) ?? 0;
      if (filled < group.slots.length) this.#drained.add(group.key);
    }
    this.#handOut(assignments);
    return assignments.length === offered;
  }

  /** The free slots of every seat, by group, in the order they are to be filled. */
  #groups(): (ClaimGroup & { key: string })[] {
    const byKey = new Map<string, { taskTypes: string[]; tags: string[]; seats: Seat[] }>();
    for (const seat of this.#seats()) {
      const worker = seat.worker;
      if (!worker || seat.freeSlots === 0) continue;
      const taskTypes = [...worker.taskTypes].sort();
      const tags = [...worker.tags].sort();
      const key = JSON.stringify([taskTypes, tags]);
      if (this.#drained.has(key)) continue;
      const group = byKey.get(key) ?? { taskTypes, tags, seats: [] };
      group.seats.push(seat);
      byKey.set(key, group);
    }
    let budget = this.#options.maxSlotsPerPass;
    const groups: (ClaimGroup & { key: string })[] = [];
    for (const [key, group] of rotate([...byKey.entries()], this.#turn)) {
      const seats = rotate(group.seats, this.#turn);
      const slots: string[] = [];
      const deepest = Math.max(...seats.map((s) => s.freeSlots));
      for (let depth = 0; depth < deepest && budget > 0; depth++) {
        for (const seat of seats) {
          if (budget === 0) break;
          if (seat.freeSlots > depth && seat.worker) {
            slots.push(seat.worker.id);
            budget--;
          }
        }
      }
      if (slots.length > 0)
        groups.push({ key, taskTypes: group.taskTypes, tags: group.tags, slots });
    }
    return groups;
  }

  #handOut(assignments: Assignment[]): void {
    if (assignments.length === 0) return;
    const byWorker = new Map<string, Assignment[]>();
    for (const a of assignments) {
      const workerId = a.task.workerId ?? '';
      const mine = byWorker.get(workerId);
      if (mine) mine.push(a);
      else byWorker.set(workerId, [a]);
    }
    const seats = new Map<string, Seat>();
    for (const seat of this.#seats()) if (seat.worker) seats.set(seat.worker.id, seat);
    for (const [workerId, mine] of byWorker) {
      const seat = seats.get(workerId);
      if (seat?.live && seat.worker?.state === 'online') {
        seat.assign(mine);
        continue;
      }
      // The worker left, or began to drain, while its tasks were being claimed: they go back to
      // the queue now rather than when their leases run out, and cost them no attempt.
      this.#options
        .giveBack(mine.map((a) => ({ attemptId: a.attemptId, token: a.token })))
        .catch((error: unknown) => this.#options.onError?.(error, 'giving back tasks'));
    }
  }
}

/** The items starting at `turn` (modulo their number), wrapping round. */
function rotate<T>(items: T[], turn: number): T[] {
  if (items.length < 2) return items;
  const start = turn % items.length;
  return [...items.slice(start), ...items.slice(0, start)];
}
