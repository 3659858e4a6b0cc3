import type { JobSubmission } from '@drover/protocol';
import { randomJuliaParams, randomTaskCount } from './producer-params.js';
import type { RandomSource } from './producer-params.js';

export interface ProducerOptions {
  /** Submits a job and resolves with its id. */
  submit: (job: JobSubmission) => Promise<string>;
  /** Seconds between rounds; the first round starts at once. */
  intervalSeconds: number;
  group?: string;
  random?: RandomSource;
  onSubmitted?: (jobId: string, tasks: number) => void;
  onError?: (error: unknown) => void;
}

/**
 * The OpenStack tutorial's producer: every interval, a job of 1 to 10 random Julia renders.
 * Returns a function that stops it.
 */
export function startProducer(options: ProducerOptions): () => void {
  const random = options.random ?? Math.random;
  let stopped = false;
  const round = async () => {
    const count = randomTaskCount(random);
    const items = Array.from({ length: count }, () => randomJuliaParams(random));
    const jobId = await options.submit({
      group: options.group ?? 'fractals',
      name: `${count} Julia set${count === 1 ? '' : 's'}`,
      taskType: 'fractal.julia',
      items,
    });
    options.onSubmitted?.(jobId, count);
  };
  const tick = () => {
    if (stopped) return;
    round()
      .catch((error: unknown) => options.onError?.(error))
      .finally(() => {
        if (!stopped) timer = setTimeout(tick, options.intervalSeconds * 1000);
      });
  };
  let timer: NodeJS.Timeout = setTimeout(tick, 0);
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
