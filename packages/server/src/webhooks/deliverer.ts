import { backoffMs } from '@drover/protocol';
import type { Engine, DeliveryOutcome, DueDelivery } from '@drover/engine';
import { signWebhook } from './signature.js';

export interface DelivererOptions {
  /** How long a receiver has to answer, in ms. @defaultValue 10,000 */
  timeoutMs?: number;
  /** Tries of one delivery before it is marked failed. @defaultValue 10 */
  maxTries?: number;
  /**
   * The wait after the first failed try, doubled after each (±20% jitter), capped at `maxMs`.
   * @defaultValue 4 minutes; 6 hours (10 tries span about 20 hours)
   */
  backoff?: { initialMs?: number; maxMs?: number };
  /** Deliveries this server sends at once. @defaultValue 16 */
  concurrency?: number;
  /** How often it looks for due deliveries without being woken, in ms. @defaultValue 5,000 */
  pollMs?: number;
  /** How long ended deliveries are kept, in ms. @defaultValue 7 days */
  keepMs?: number;
  onError: (error: unknown, where: string) => void;
}

const USER_AGENT = 'Drover-Webhooks/1';
/** The longest `Retry-After` honoured: a receiver asking for more is tried again after this. */
const MAX_RETRY_AFTER_MS = 6 * 3600_000;

/**
 * Sends the outbox's due deliveries from this server: takes them with SKIP LOCKED (another
 * server never sends the same try), POSTs each signed, and records what the receiver said. Runs
 * beside the dispatcher on the event loop, never in its way: each try is one `fetch`, at most
 * `concurrency` at once.
 */
export class WebhookDeliverer {
  readonly #engine: Engine;
  readonly #timeoutMs: number;
  readonly #maxTries: number;
  readonly #backoff: { initialMs: number; maxMs: number };
  readonly #concurrency: number;
  readonly #pollMs: number;
  readonly #keepMs: number;
  readonly #onError: DelivererOptions['onError'];
  readonly #inFlight = new Set<Promise<void>>();
  #timer: NodeJS.Timeout | undefined;
  #unlisten: (() => Promise<void>) | undefined;
  #running: Promise<void> | undefined;
  #again = false;
  #closed = false;
  #lastPrune = 0;

  constructor(engine: Engine, options: DelivererOptions) {
    this.#engine = engine;
    this.#timeoutMs = options.timeoutMs ?? 10_000;
    this.#maxTries = options.maxTries ?? 10;
    this.#backoff = {
      initialMs: options.backoff?.initialMs ?? 4 * 60_000,
      maxMs: options.backoff?.maxMs ?? 6 * 3600_000,
    };
    this.#concurrency = options.concurrency ?? 16;
    this.#pollMs = options.pollMs ?? 5000;
    this.#keepMs = options.keepMs ?? 7 * 24 * 3600_000;
    this.#onError = options.onError;
  }

  /**
   * A try's lease: long enough for the receiver's whole timeout and the recording after it, so a
   * live server always settles its try before another may take the delivery again.
   */
  get leaseMs(): number {
    return 2 * this.#timeoutMs + 5000;
  }

  async start(): Promise<void> {
    this.#unlisten = await this.#engine.listen((payload) => {
      if (payload === 'webhooks' || payload === '*') this.wake();
    });
    this.wake();
  }

  /** Looks for due deliveries now. */
  wake(): void {
    if (this.#closed) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    clearTimeout(this.#timer);
    this.#running = this.#round()
      .catch((error: unknown) => this.#onError(error, 'taking webhook deliveries'))
      .finally(() => {
        this.#running = undefined;
        if (this.#again) {
          this.#again = false;
          this.wake();
        }
      });
  }

  async #round(): Promise<void> {
    const free = this.#concurrency - this.#inFlight.size;
    if (free > 0) {
      const due = await this.#engine.webhooks.claimDue(free, this.leaseMs);
      for (const delivery of due) this.#send(delivery);
      // A full batch may leave more behind: look again at once.
      if (due.length === free) this.#again = true;
    }
    if (Date.now() - this.#lastPrune > 3600_000) {
      this.#lastPrune = Date.now();
      await this.#engine.webhooks.prune(this.#keepMs);
    }
    if (this.#closed) return;
    const next = await this.#engine.webhooks.nextDue();
    const wait = next ? Math.max(20, next.getTime() - Date.now()) : this.#pollMs;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.wake(), Math.min(wait, this.#pollMs)).unref();
  }

  #send(delivery: DueDelivery): void {
    const done = this.#deliver(delivery)
      .then((outcome) => this.#engine.webhooks.settle(delivery, outcome))
      .then(
        () => undefined,
        (error: unknown) => this.#onError(error, `recording webhook delivery ${delivery.id}`),
      )
      .finally(() => {
        this.#inFlight.delete(done);
        this.wake();
      });
    this.#inFlight.add(done);
  }

  /** One try: what the receiver said, and whether to try again. Never throws. */
  async #deliver(delivery: DueDelivery): Promise<DeliveryOutcome> {
    const body = JSON.stringify({
      id: delivery.id,
      event: delivery.event,
      at: delivery.at,
      data: delivery.data,
    });
    const signature = signWebhook(delivery.secret, body, Math.floor(Date.now() / 1000));
    let response: Response;
    try {
      response = await fetch(delivery.url, {
        method: 'POST',
        body,
        redirect: 'manual',
        signal: AbortSignal.timeout(this.#timeoutMs),
        headers: {
          'content-type': 'application/json',
          'user-agent': USER_AGENT,
          'drover-event': delivery.event,
          'drover-delivery': delivery.id,
          'drover-signature': signature,
        },
      });
    } catch (error) {
      return this.#retry(delivery, null, describeFailure(error, this.#timeoutMs));
    }
    // The answer's body is not read: only its status counts.
    await response.body?.cancel().catch(() => undefined);
    const status = response.status;
    if (status >= 200 && status < 300) return { state: 'delivered', status, error: null };
    if (status >= 300 && status < 400) {
      // Not followed: a redirect could lead the server anywhere. The URL is to be the final one.
      const to = response.headers.get('location') ?? 'elsewhere';
      return {
        state: 'failed',
        status,
        error: `redirected to ${to.slice(0, 200)}: give the final URL`,
      };
    }
    if (status === 408 || status === 429 || status >= 500) {
      return this.#retry(delivery, status, `HTTP ${status}`, retryAfterMs(response.headers));
    }
    return { state: 'failed', status, error: `HTTP ${status}: refused by the receiver` };
  }

  #retry(
    delivery: DueDelivery,
    status: number | null,
    error: string,
    retryAfter?: number,
  ): DeliveryOutcome {
    if (delivery.tries >= this.#maxTries) {
      return { state: 'failed', status, error: `${error} (gave up after ${delivery.tries} tries)` };
    }
    const wait =
      retryAfter !== undefined
        ? Math.min(retryAfter, MAX_RETRY_AFTER_MS)
        : backoffMs(delivery.tries - 1, this.#backoff);
    return { state: 'pending', status, error, retryInMs: wait };
  }

  /** Stops taking deliveries; waits for the tries under way (each ends within its timeout). */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    await this.#unlisten?.();
    await this.#running;
    await Promise.all([...this.#inFlight]);
  }
}

/** `Retry-After` in ms: seconds, or an HTTP date; undefined when absent or unreadable. */
export function retryAfterMs(headers: Headers): number | undefined {
  const value = headers.get('retry-after');
  if (value === null) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

function describeFailure(error: unknown, timeoutMs: number): string {
  const err = error as {
    name?: string;
    message?: string;
    cause?: { code?: string; message?: string };
  };
  if (err.name === 'TimeoutError' || err.name === 'AbortError')
    return `no answer within ${timeoutMs / 1000} s`;
  const cause = err.cause?.code ?? err.cause?.message;
  return cause ? `${err.message ?? 'failed'}: ${cause}` : (err.message ?? String(error));
}
