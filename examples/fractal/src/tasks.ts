import { performance } from 'node:perf_hooks';
import { z } from 'zod';
import { defineTask } from '@drover/worker';
import type { TaskDefinition } from '@drover/worker';
import { sha256Hex } from './checksum.js';
import { JuliaParams, renderJulia } from './julia.js';
import { contactSheet } from './contact-sheet.js';
import { PNG } from 'pngjs';

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
  // CPU-bound: rendered in a worker thread, so the worker's heartbeats never wait on it.
  thread: import.meta.url,
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

/**
 * One frame of an animation: the Julia set whose c goes once around a circle of `radius` over
 * `frames` frames. A frame-range job renders them all; its last stage makes the contact sheet.
 */
export const frameTask = defineTask({
  name: 'fractal.frame',
  thread: import.meta.url,
  params: z.object({
    frame: z.int().min(0).max(100_000),
    frames: z.int().min(1).max(100_000).default(24),
    width: z.int().min(16).max(2048).default(320),
    height: z.int().min(16).max(2048).default(240),
    iterations: z.int().min(16).max(2000).default(256),
    radius: z.number().min(0.1).max(2).default(0.7885),
  }),
  result: JuliaResult,
  async run(ctx, p) {
    const angle = (2 * Math.PI * p.frame) / p.frames;
    const started = performance.now();
    const image = renderJulia({
      width: p.width,
      height: p.height,
      iterations: p.iterations,
      xa: -1.6,
      xb: 1.6,
      ya: -1.2,
      yb: 1.2,
      cr: p.radius * Math.cos(angle),
      ci: p.radius * Math.sin(angle),
    });
    const durationMs = Math.round((performance.now() - started) * 1000) / 1000;
    await ctx.artifact(`frame-${String(p.frame).padStart(5, '0')}.png`, image.png, 'image/png');
    return { sha256: sha256Hex(image.png), durationMs, width: image.width, height: image.height };
  },
});

/**
 * The last stage of a frame-range job: every frame's PNG on one sheet, in frame order. Decoding
 * hundreds of frames is CPU-bound: it runs in a thread, so the worker's heartbeats keep going.
 */
export const contactSheetTask = defineTask({
  name: 'fractal.contact-sheet',
  thread: import.meta.url,
  params: z.object({
    columns: z.int().min(1).max(64).optional(),
    thumbWidth: z.int().min(16).max(1024).default(160),
  }),
  result: z.object({
    frames: z.int(),
    sha256: z.string(),
    width: z.int(),
    height: z.int(),
    /** The sheet's artifact id: the dashboard shows the image the result names. */
    image: z.string(),
  }),
  async run(ctx, p) {
    const frames = (await ctx.jobArtifacts())
      .filter((a) => /^frame-\d+\.png$/.test(a.name))
      .sort((a, b) => a.name.localeCompare(b.name));
    if (frames.length === 0) throw new Error('The job has no rendered frames to put on a sheet.');
    const pngs: Buffer[] = [];
    for (const [i, frame] of frames.entries()) {
      ctx.signal.throwIfAborted();
      pngs.push(await frame.read());
      ctx.progress((i + 1) / (frames.length + 1), `fetched ${i + 1} of ${frames.length} frames`);
    }
    const sheet = contactSheet(pngs, {
      thumbWidth: p.thumbWidth,
      ...(p.columns && { columns: p.columns }),
    });
    const { width, height } = PNG.sync.read(sheet);
    const stored = await ctx.artifact('contact-sheet.png', sheet, 'image/png');
    return { frames: pngs.length, sha256: sha256Hex(sheet), width, height, image: stored.id };
  },
});

/** The task types a demo worker runs. */
export const demoTasks: readonly TaskDefinition[] = [
  juliaTask,
  helloTask,
  frameTask,
  contactSheetTask,
];
