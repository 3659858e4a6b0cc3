import type { Engine, TaskToStop } from '@drover/engine';
import type { JobRecord } from '@drover/protocol';

export interface ScheduleTickerOptions {
  /** Jobs the ticks submitted: the dispatcher (or a site's link) looks for work now. */
  submitted: (jobs: JobRecord[]) => void;
  /** Tasks of jobs an `overlap: cancel` tick cancelled that workers hold: stop them. */
  stopTasks: (tasks: TaskToStop[], reason: string) => void;
  onError: (error: unknown, where: string) => void;
  /**
   * The longest the ticker sleeps without looking, in ms: its safety net, should a wake-up from
   * another server be lost. A schedule's tick is never later than its time by this: the ticker
   * sleeps until the earliest next tick. @defaultValue 30,000
   */
  maxSleepMs?: number;
}

/** Back-off after a failed pass (the database away), in ms. */
const RETRY_MS = 1000;

/**
 * This server's schedule ticker. It sleeps until the earliest schedule's next tick, handles the
 * ticks that came (the engine makes each submit once, whichever server's ticker claims it), and
 * sleeps again. Adding, changing or resuming a schedule on any server wakes every ticker through
 * the database's notification, so a new earlier tick is not slept through.
 */
export class ScheduleTicker {
  readonly #engine: Engine;
  readonly #options: ScheduleTickerOptions;
  #timer: NodeJS.Timeout | undefined;
  #pass: Promise<void> | undefined;
  #again = false;
  #closed = false;
  #unlisten: (() => Promise<void>) | undefined;

  constructor(engine: Engine, options: ScheduleTickerOptions) {
    this.#engine = engine;
    this.#options = options;
  }

  async start(): Promise<void> {
    this.#unlisten = await this.#engine.listen((payload) => {
      if (payload === 'schedules') this.wake();
    });
    this.wake();
  }

  /** Looks at the schedules now (one changed here, or on another server). */
  wake(): void {
    if (this.#closed) return;
    if (this.#pass) {
      this.#again = true;
      return;
    }
    clearTimeout(this.#timer);
    this.#pass = this.#run()
      .catch((error: unknown) => {
        this.#options.onError(error, 'ticking schedules');
        this.#sleep(RETRY_MS);
      })
      .finally(() => {
        this.#pass = undefined;
        if (this.#again) {
          this.#again = false;
          this.wake();
        }
      });
  }

  async #run(): Promise<void> {
    for (;;) {
      if (this.#closed) return;
      const result = await this.#engine.schedules.tick();
      if (result.submitted.length > 0) this.#options.submitted(result.submitted);
      if (result.toStop.length > 0)
        this.#options.stopTasks(result.toStop, 'Cancelled by its schedule: its next run began.');
      // A full batch may leave more due at once; otherwise sleep until the next tick.
      if (result.handled === 0) break;
    }
    const until = await this.#engine.schedules.untilNextTick();
    const maxSleep = this.#options.maxSleepMs ?? 30_000;
    this.#sleep(until === null ? maxSleep : Math.min(maxSleep, until));
  }

  #sleep(ms: number): void {
    if (this.#closed) return;
    clearTimeout(this.#timer);
    // A tick due but claimed by another server's ticker: look again shortly.
    this.#timer = setTimeout(() => this.wake(), Math.max(5, ms));
    this.#timer.unref();
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    await this.#pass;
    await this.#unlisten?.();
  }
}
