// The no-op task type of the benchmark: params `{ i, t? }`, where `i` is the task's key and `t`
// (latency phase only) the submitter's performance.now() at submission. The handler does nothing
// but tell `onRun` the key and the moment it began.
import { performance } from 'node:perf_hooks';
import { z } from 'zod';
import { defineTask } from '@drover/worker';

/** @param {string} name @param {(key: number, startedAt: number, params: { t?: number }) => void} onRun */
export function noopTask(name, onRun) {
  return defineTask({
    name,
    params: z.object({ i: z.int().min(0), t: z.number().optional() }),
    run(_ctx, params) {
      onRun(params.i, performance.now(), params);
      return null;
    },
  });
}
