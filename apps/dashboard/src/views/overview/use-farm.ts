import { useCallback, useEffect, useRef, useState } from 'react';
import { topics } from '@drover/protocol';
import type { FarmOverview, FarmSample } from '@drover/protocol';
import { useDrover } from '../../lib/drover.js';
import { useLiveTopic } from '../../lib/live.js';
import { untilDone } from '../../lib/retry.js';

/** How often the farm's live figures are read again, in ms; less often on a farm of many workers. */
const OVERVIEW_MS = 2000;
const BIG_FARM_MS = 5000;
const BIG_FARM_WORKERS = 200;

/**
 * The farm now, kept current: read at once, again on every change of a worker (the `workers`
 * topic) and every 2 s for what no topic carries (the queue, the tasks' progress).
 */
export function useOverview(): { overview: FarmOverview | undefined; error: unknown } {
  const client = useDrover();
  const [overview, setOverview] = useState<FarmOverview>();
  const [error, setError] = useState<unknown>();
  const reading = useRef(false);

  const refresh = useCallback(() => {
    // One read at a time: a slow server is not asked again before it answered.
    if (reading.current) return;
    reading.current = true;
    client
      .call('farm.overview', {})
      .then(
        (next) => {
          setOverview(next);
          setError(undefined);
        },
        (e: unknown) => setError(e),
      )
      .finally(() => {
        reading.current = false;
      });
  }, [client]);

  useLiveTopic({
    topic: topics.workers,
    load: async (signal) => {
      setOverview(await untilDone(() => client.call('farm.overview', {}), signal));
    },
    onEvents: () => refresh(),
  });

  const big = (overview?.workers.length ?? 0) > BIG_FARM_WORKERS;
  useEffect(() => {
    const timer = setInterval(refresh, big ? BIG_FARM_MS : OVERVIEW_MS);
    return () => clearInterval(timer);
  }, [refresh, big]);

  return { overview, error };
}

/** The ranges the charts offer, with the bucket each reads. */
export const RANGES = [
  { key: '5m', label: '5 min', ms: 5 * 60_000, stepMs: 1000 },
  { key: '15m', label: '15 min', ms: 15 * 60_000, stepMs: 10_000 },
  { key: '1h', label: '1 h', ms: 3_600_000, stepMs: 10_000 },
  { key: '6h', label: '6 h', ms: 6 * 3_600_000, stepMs: 60_000 },
  { key: '24h', label: '24 h', ms: 24 * 3_600_000, stepMs: 300_000 },
  { key: '7d', label: '7 d', ms: 7 * 24 * 3_600_000, stepMs: 1_800_000 },
] as const;
export type Range = (typeof RANGES)[number];
/** The hour: long enough to see a trend, short enough to see a job. */
export const DEFAULT_RANGE: Range = RANGES[2];

/**
 * The farm's history over `range`, read again as the servers record new samples (every bucket
 * at most, every 5 s at least): whole, since the last bucket grows as samples join it.
 */
export function useHistory(range: Range): {
  samples: FarmSample[];
  step: number;
  error: unknown;
} {
  const client = useDrover();
  const [state, setState] = useState<{ samples: FarmSample[]; step: number; error: unknown }>({
    samples: [],
    step: range.stepMs,
    error: undefined,
  });
  useEffect(() => {
    const controller = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const read = async () => {
      try {
        const history = await untilDone(
          () =>
            client.call('farm.history', {
              since: new Date(Date.now() - range.ms).toISOString(),
              step: range.stepMs,
            }),
          controller.signal,
        );
        setState({ samples: history.samples, step: history.step, error: undefined });
      } catch (error) {
        if (controller.signal.aborted) return;
        setState((s) => ({ ...s, error }));
      }
      if (!controller.signal.aborted)
        timer = setTimeout(() => void read(), Math.min(60_000, Math.max(5000, range.stepMs)));
    };
    void read();
    return () => {
      controller.abort();
      clearTimeout(timer);
    };
  }, [client, range]);
  return state;
}
