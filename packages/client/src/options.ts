import type { EventRecord, MethodParams, TaskRecord, Topic } from '@drover/protocol';
import type { z } from 'zod';

/**
 * A WebSocket class: the browser's `WebSocket`, or `ws`'s. Typed loosely because the two declare
 * their event types differently; the client uses only what `WebSocketLike` lists.
 */
export type WebSocketConstructor = new (url: string) => object;

export interface ClientOptions {
  /**
   * The server's base URL, such as `http://127.0.0.1:7400`; or several, the replicas of one farm:
   * the client connects to the first, and when its server goes away it moves on to the next
   * (round the list, with back-off and jitter), resuming its subscriptions there.
   */
  url: string | readonly string[];
  /** @defaultValue `globalThis.WebSocket` (browsers, Node 22+); pass `ws`'s in Node 20. */
  WebSocket?: WebSocketConstructor;
  /**
   * Back-off before each reconnect: doubles from `initialMs` to `maxMs`, once per round of the
   * servers, with ±20% jitter.
   */
  reconnect?: { initialMs?: number; maxMs?: number };
  /**
   * A call made while the connection is down waits at most this long for it before rejecting
   * with `DROVER_E_CONNECTION_LOST`: for command-line tools. @defaultValue no limit
   */
  connectTimeoutMs?: number;
  /**
   * The token to sign in with (`auth.login`), on every connection before anything else. A
   * browser page leaves it out: its session cookie signs it in. A token the server refuses ends
   * the client: calls reject with `DROVER_E_UNAUTHORIZED`.
   */
  token?: string;
}

/**
 * A task type as `defineTask` describes it: submitting it checks the params' type, and its
 * `result` schema (when it has one) types and checks the results read back.
 */
export interface TaskTypeRef<P extends z.ZodType = z.ZodType, R extends z.ZodType = z.ZodType> {
  readonly name: string;
  readonly params: P;
  readonly result?: R;
}

/** A task with its result as its type declares it: `null` until the task has succeeded. */
export type TypedTask<R extends z.ZodType = z.ZodType> = Omit<TaskRecord, 'result'> & {
  result: z.output<R> | null;
};

export type Submission = Omit<MethodParams<'jobs.submit'>, 'taskType' | 'params'>;

export interface SubscribeOptions {
  /** Deliver what came after this cursor first; `''` replays every event still kept. */
  cursor?: string;
  /** Called with each batch, in order, never twice for one event, across reconnects. */
  onEvents(events: EventRecord[], cursor: string): void;
  /**
   * Called when the subscription ends for good: the server refused it (a bad topic or cursor),
   * the client was closed, or `onEvents` threw (the error is passed on). Without it, a refusal
   * or a throw surfaces as an uncaught error.
   */
  onError?(error: Error): void;
}

export interface Subscription {
  readonly topic: Topic;
  /** The cursor after the last event delivered: where a new subscription would resume. */
  readonly cursor: string;
  close(): void;
}

/** A subscription as the client keeps it (not part of the public API). */
export interface LiveSubscription {
  id: string;
  topic: Topic;
  cursor: string;
  onEvents: SubscribeOptions['onEvents'];
  /**
   * Ends the subscription with an error: the server refused it, `onEvents` threw, or the client
   * closed (`unhandled: false`: then only `onError` hears of it, nothing is thrown).
   */
  fail(error: Error, unhandled?: boolean): void;
  closed: boolean;
}
