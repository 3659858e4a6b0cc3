import { useEffect, useRef, useState } from 'react';
import type { Subscription } from '@drover/client';
import type { EventRecord, Topic } from '@drover/protocol';
import { useDrover } from './drover.js';
import { untilDone } from './retry.js';

export interface LiveTopic {
  /** The topic to follow, such as `jobs/fractals`; undefined follows nothing. */
  topic: Topic | undefined;
  /**
   * Reads the current state; called after the topic's head cursor is taken. Without it the
   * subscription starts from the first event still kept: for topics that are their own state,
   * such as a task's log.
   */
  load?(signal: AbortSignal): Promise<void>;
  /** Each batch of events after that cursor, in order, once each, across reconnects. */
  onEvents(events: EventRecord[]): void;
}

export type LiveStatus = 'loading' | 'live' | 'failed';

/**
 * Keeps a view in step with a topic the way every Drover client does: take the topic's head
 * cursor, read the current state, then subscribe from that cursor. Whatever happened between the
 * head and the read is replayed, so nothing is missed; the client resubscribes from the last
 * cursor after a reconnect, so nothing is lost while the connection is down. `load` and
 * `onEvents` are read at call time, so they may close over fresh state.
 */
export function useLiveTopic(live: LiveTopic): { status: LiveStatus; error: unknown } {
  const client = useDrover();
  const latest = useRef(live);
  latest.current = live;
  const [state, setState] = useState<{ status: LiveStatus; error: unknown }>({
    status: 'loading',
    error: undefined,
  });
  const { topic } = live;

  useEffect(() => {
    if (topic === undefined) return;
    const controller = new AbortController();
    const { signal } = controller;
    let subscription: Subscription | undefined;
    setState({ status: 'loading', error: undefined });
    const start = async () => {
      let cursor = '';
      if (latest.current.load) {
        ({ cursor } = await untilDone(() => client.call('events.head', { topic }), signal));
        await latest.current.load(signal);
      }
      signal.throwIfAborted();
      subscription = client.subscribe(topic, {
        cursor,
        onEvents: (events) => latest.current.onEvents(events),
        // Refused by the server (a topic it does not know), or a view's handler threw.
        onError: (error) => {
          if (!signal.aborted) setState({ status: 'failed', error });
        },
      });
      setState({ status: 'live', error: undefined });
    };
    start().catch((error: unknown) => {
      if (!signal.aborted) setState({ status: 'failed', error });
    });
    return () => {
      controller.abort();
      subscription?.close();
    };
  }, [client, topic]);

  return state;
}

/** The current time, refreshed every `ms` milliseconds: for ages and running durations. */
export function useNow(ms = 1000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(timer);
  }, [ms]);
  return now;
}
