import { checkWorkerRegistration } from '@drover/engine';
import type { Engine, Registered, WorkerRegistration } from '@drover/engine';

interface Waiter {
  input: WorkerRegistration;
  resolve: (registered: Registered) => void;
  reject: (error: unknown) => void;
}

/**
 * Registers the workers saying hello to this server, many in one statement: the hellos that
 * arrive while a registration is under way share the next one. A fleet reconnecting together
 * after a restart is admitted in a few statements, not one transaction per worker.
 */
export class WorkerRegistrar {
  readonly #engine: Engine;
  readonly #serverId: string;
  readonly #maxPerWrite: number;
  #waiting: Waiter[] = [];
  #writing: Promise<void> | undefined;
  #scheduled = false;

  constructor(engine: Engine, serverId: string, maxPerWrite = 256) {
    this.#engine = engine;
    this.#serverId = serverId;
    this.#maxPerWrite = maxPerWrite;
  }

  /**
   * Registers one worker as connected to this server; a bad registration is refused on its own,
   * before any batch.
   */
  register(input: WorkerRegistration): Promise<Registered> {
    checkWorkerRegistration(input);
    return new Promise((resolve, reject) => {
      this.#waiting.push({ input, resolve, reject });
      this.#schedule();
    });
  }

  #schedule(): void {
    if (this.#scheduled || this.#writing) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      this.#writing = this.#write().finally(() => {
        this.#writing = undefined;
        if (this.#waiting.length > 0) this.#schedule();
      });
    });
  }

  async #write(): Promise<void> {
    // One hello per name in a statement; a second under the same name waits for the next.
    const taken: Waiter[] = [];
    const names = new Set<string>();
    const rest: Waiter[] = [];
    for (const waiter of this.#waiting) {
      if (taken.length < this.#maxPerWrite && !names.has(waiter.input.name)) {
        names.add(waiter.input.name);
        taken.push(waiter);
      } else {
        rest.push(waiter);
      }
    }
    this.#waiting = rest;
    try {
      const registered = await this.#engine.registerWorkers(
        taken.map((w) => w.input),
        this.#serverId,
      );
      taken.forEach((waiter, i) => {
        const result = registered[i];
        if (result) waiter.resolve(result);
        else waiter.reject(new Error(`no registration came back for ${waiter.input.name}`));
      });
    } catch (error) {
      for (const waiter of taken) waiter.reject(error);
    }
  }
}
