import { DroverError } from '@drover/protocol';

/** What the limiter needs of the database: add counts to this window's, and read the totals. */
export interface RateCounts {
  /**
   * Adds each token's calls to its count for the window starting at `windowStart` (ms since the
   * epoch) and returns every token's total for it, its own and other servers' calls included.
   */
  addRequests(
    windowStart: number,
    counts: readonly { tokenId: string; calls: number }[],
  ): Promise<{ tokenId: string; calls: number }[]>;
}

interface TokenWindow {
  window: number;
  /** Calls counted in the database at the last sync, every server's. */
  shared: number;
  /** Calls admitted here since the last sync. */
  pending: number;
}

const WINDOW_MS = 60_000;

/**
 * Calls per token per minute, counted across every server of a farm: each server admits a call
 * when the farm's count at its last sync plus its own calls since then stay under the limit, and
 * adds its calls to the database's count every `syncMs`. Servers can together overshoot by what
 * they admit between two syncs; fixed windows let a client spend a minute's calls across a
 * window's end. A database that does not answer leaves each server counting alone.
 */
export class RateLimiter {
  readonly #counts: RateCounts;
  readonly #perMinute: number;
  readonly #tokens = new Map<string, TokenWindow>();
  readonly #timer: NodeJS.Timeout;
  readonly #onError: (error: unknown) => void;
  readonly #loading = new Map<string, Promise<TokenWindow>>();
  #syncing: Promise<void> | undefined;

  constructor(
    counts: RateCounts,
    options: { perMinute: number; syncMs?: number; onError: (error: unknown) => void },
  ) {
    this.#counts = counts;
    this.#perMinute = options.perMinute;
    this.#onError = options.onError;
    this.#timer = setInterval(() => void this.sync(), options.syncMs ?? 1000);
    this.#timer.unref();
  }

  /** How long until the token may call again, when it has no calls left this minute. */
  retryAfterMs(tokenId: string, now = Date.now()): number | undefined {
    const window = Math.floor(now / WINDOW_MS) * WINDOW_MS;
    const state = this.#tokens.get(tokenId);
    if (!state || state.window !== window) return undefined;
    return state.shared + state.pending >= this.#perMinute ? window + WINDOW_MS - now : undefined;
  }

  /**
   * Counts one call of a token, or refuses it with DROVER_E_RATE_LIMITED and when to retry. A
   * token's first call of a minute on this server first learns what the others counted.
   */
  async take(tokenId: string, now = Date.now()): Promise<void> {
    const window = Math.floor(now / WINDOW_MS) * WINDOW_MS;
    let state = this.#tokens.get(tokenId);
    if (!state || state.window !== window) state = await this.#load(tokenId, window);
    if (state.shared + state.pending >= this.#perMinute) {
      const retryAfterMs = window + WINDOW_MS - now;
      throw new DroverError(
        'DROVER_E_RATE_LIMITED',
        `This token made its ${this.#perMinute} calls of this minute: try again in ${Math.ceil(retryAfterMs / 1000)} s.`,
        { details: { retryAfterMs, limitPerMinute: this.#perMinute } },
      );
    }
    state.pending += 1;
  }

  /** A token's state for a window, with the farm's count so far (one load at a time). */
  #load(tokenId: string, window: number): Promise<TokenWindow> {
    const key = `${tokenId} ${window}`;
    let loading = this.#loading.get(key);
    if (!loading) {
      loading = this.#counts
        .addRequests(window, [{ tokenId, calls: 0 }])
        .then(
          (totals) => totals[0]?.calls ?? 0,
          (error: unknown) => {
            this.#onError(error);
            return 0;
          },
        )
        .then((shared) => {
          this.#loading.delete(key);
          const current = this.#tokens.get(tokenId);
          if (current && current.window === window) return current;
          const state = { window, shared, pending: 0 };
          this.#tokens.set(tokenId, state);
          return state;
        });
      this.#loading.set(key, loading);
    }
    return loading;
  }

  /** Adds this server's calls to the farm's counts and learns the others'. */
  async sync(now = Date.now()): Promise<void> {
    if (this.#syncing) return this.#syncing;
    this.#syncing = this.#sync(now).finally(() => (this.#syncing = undefined));
    return this.#syncing;
  }

  async #sync(now: number): Promise<void> {
    const window = Math.floor(now / WINDOW_MS) * WINDOW_MS;
    const sent = new Map<string, number>();
    for (const [tokenId, state] of this.#tokens) {
      if (state.window !== window) this.#tokens.delete(tokenId);
      // Idle tokens far from their limit need not learn what the others count.
      else if (state.pending > 0 || state.shared >= this.#perMinute / 2)
        sent.set(tokenId, state.pending);
    }
    if (sent.size === 0) return;
    try {
      const totals = await this.#counts.addRequests(
        window,
        [...sent].map(([tokenId, calls]) => ({ tokenId, calls })),
      );
      for (const { tokenId, calls } of totals) {
        const state = this.#tokens.get(tokenId);
        if (!state || state.window !== window) continue;
        state.pending -= sent.get(tokenId) ?? 0;
        state.shared = calls;
      }
    } catch (error) {
      // Counted again at the next sync; meanwhile this server's own calls still count.
      this.#onError(error);
    }
  }

  close(): void {
    clearInterval(this.#timer);
  }
}

/**
 * Failed sign-ins per remote address per minute, on this server: past the limit, an address's
 * next tries are refused without asking the database, so that guessing tokens (hopeless at 256
 * bits) cannot become a flood of lookups.
 */
export class SignInFailures {
  readonly #perMinute: number;
  readonly #failures = new Map<string, { window: number; count: number }>();

  constructor(perMinute = 30) {
    this.#perMinute = perMinute;
  }

  /** Refuses an address that failed too often this minute. */
  check(address: string, now = Date.now()): void {
    const window = Math.floor(now / WINDOW_MS) * WINDOW_MS;
    const state = this.#failures.get(address);
    if (state && state.window === window && state.count >= this.#perMinute) {
      const retryAfterMs = window + WINDOW_MS - now;
      throw new DroverError(
        'DROVER_E_RATE_LIMITED',
        `Too many failed sign-ins from this address: try again in ${Math.ceil(retryAfterMs / 1000)} s.`,
        { details: { retryAfterMs } },
      );
    }
  }

  failed(address: string, now = Date.now()): void {
    const window = Math.floor(now / WINDOW_MS) * WINDOW_MS;
    const state = this.#failures.get(address);
    if (state && state.window === window) state.count += 1;
    else {
      if (this.#failures.size > 10_000) this.#failures.clear();
      this.#failures.set(address, { window, count: 1 });
    }
  }
}
