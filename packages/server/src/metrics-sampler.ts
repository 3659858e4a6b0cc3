import type { Engine } from '@drover/engine';

export interface SamplerOptions {
  /** The sampling interval, in ms; 0 records nothing. @defaultValue 10,000 */
  sampleMs?: number;
  /** How long samples are kept, in ms. @defaultValue 7 days */
  keepMs?: number;
  onError?: ((error: unknown, where: string) => void) | undefined;
}

export const DEFAULT_SAMPLE_MS = 10_000;
export const DEFAULT_KEEP_MS = 7 * 24 * 3_600_000;

/**
 * Records the farm's history (decision 0037): shortly after each interval ends, this server asks
 * the engine for the interval's sample. Every server of a farm does so; the samples table keeps
 * the first, and the others compute nothing, so a farm has one sample per interval however many
 * replicas it runs and keeps its history while any one of them is up.
 */
export class MetricsSampler {
  readonly #engine: Engine;
  readonly #sampleMs: number;
  readonly #keepMs: number;
  readonly #onError: (error: unknown, where: string) => void;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #closed = false;

  constructor(engine: Engine, options: SamplerOptions = {}) {
    this.#engine = engine;
    this.#sampleMs = options.sampleMs ?? DEFAULT_SAMPLE_MS;
    this.#keepMs = options.keepMs ?? DEFAULT_KEEP_MS;
    this.#onError = options.onError ?? (() => undefined);
  }

  start(): void {
    if (this.#sampleMs > 0) this.#schedule();
  }

  /**
   * The next tick: a moment after the interval's end, so that the completions of its last
   * instants have committed, with jitter so that replicas do not all ask at once.
   */
  #schedule(): void {
    if (this.#closed) return;
    const step = this.#sampleMs;
    const settle = Math.min(1000, step / 10) + Math.random() * (step / 10);
    const wait = step - (Date.now() % step) + settle;
    this.#timer = setTimeout(() => {
      this.#running = this.sample()
        .then(() => undefined)
        .finally(() => {
          this.#running = undefined;
          this.#schedule();
        });
    }, wait);
    this.#timer.unref();
  }

  /** Records the last interval's sample now, unless a server did; never rejects. */
  async sample(): Promise<void> {
    try {
      await this.#engine.recordSample(this.#sampleMs, this.#keepMs);
    } catch (error) {
      // The next interval tries again; a gap in the history is all a failure costs.
      this.#onError(error, "recording the farm's sample");
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    await this.#running;
  }
}
