import { performance } from 'node:perf_hooks';
import { z } from 'zod';
import { defineTask } from '@drover/worker';
import type { TaskDefinition } from '@drover/worker';
import { sha256Hex } from './checksum.js';
import { JuliaParams, renderJulia } from './julia.js';

/** The tracker's record of a render: the image's checksum and how long it took. */
export const JuliaResult = z.object({
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  durationMs: z.number().min(0),
  width: z.int(),
  height: z.int(),
});

/** Renders one Julia set to a PNG and stores it: the OpenStack tutorial's worker. */
export const juliaTask = defineTask({
  name: 'fractal.julia',
  params: JuliaParams,
  result: JuliaResult,
  async run(ctx, params) {
    ctx.progress(0, `rendering ${params.width}x${params.height}, ${params.iterations} iterations`);
    const started = performance.now();
    const image = renderJulia(params);
    const durationMs = Math.round((performance.now() - started) * 1000) / 1000;
    const sha256 = sha256Hex(image.png);
    ctx.progress(0.9, 'storing the image');
    // The image itself goes to the farm's file store; the result is the tracker's record of it.
    await ctx.artifact(`julia-${ctx.taskId}.png`, image.png, 'image/png');
    ctx.log(`rendered ${image.width}x${image.height} in ${durationMs} ms, sha256 ${sha256}`);
    return { sha256, durationMs, width: image.width, height: image.height };
  },
});

/** moi's hello job: a status update from inside, then "hi!". */
export const helloTask = defineTask({
  name: 'hello',
  params: z.object({}),
  result: z.string(),
  run(ctx) {
    ctx.progress(0.5, "I'm about to say hello");
    return 'hi!';
  },
});

/** The task types a demo worker runs. */
export const demoTasks: readonly TaskDefinition[] = [juliaTask, helloTask];
