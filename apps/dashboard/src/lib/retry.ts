import { backoffMs, isDroverError } from '@drover/protocol';

/** Whether sending the same call again later may succeed: a lost connection, a busy server. */
export function isRetryable(error: unknown): boolean {
  return isDroverError(error) && error.retryable;
}

/**
 * Runs `fn` until it succeeds, waiting between tries (250 ms doubling to 5 s, ±20% jitter) as long
 * as its errors are retryable, such as a connection lost mid-call; other errors are thrown.
 * Rejects with the signal's reason once `signal` aborts.
 */
export async function untilDone<T>(fn: () => Promise<T>, signal: AbortSignal): Promise<T> {
  for (let failures = 0; ; failures++) {
    signal.throwIfAborted();
    try {
      return await fn();
    } catch (error) {
      if (!isRetryable(error) || signal.aborted) throw error;
      await sleep(backoffMs(failures, { initialMs: 250, maxMs: 5000 }), signal);
    }
  }
}

export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        reject(signal.reason as Error);
      },
      { once: true },
    );
  });
}

/** The message of an error for a person, with its code when it has one. */
export function describeError(error: unknown): string {
  if (isDroverError(error)) return `${error.message} (${error.code})`;
  return error instanceof Error ? error.message : String(error);
}
