import { JuliaParams, escapeIndex } from './julia.js';

/** A source of uniform numbers in [0, 1), like Math.random. */
export type RandomSource = () => number;

// The recipe's ranges: integers inclusive at both ends, reals drawn from [lo, hi).
const WIDTH = [256, 1024] as const;
const HEIGHT = [256, 1024] as const;
const ITERATIONS = [128, 512] as const;
const XA = [-4, -1] as const;
const XB = [1, 4] as const;
const YA = [-3, -0.5] as const;
const YB = [0.5, 3] as const;
const TASKS = [1, 10] as const;
/** Where c is drawn from: the square holds the whole Mandelbrot set, whose edge c must be near. */
const C_RANGE = [-1.5, 1.5] as const;
/** c's own escape iteration must lie in this range, inclusive: near the set, but not in it. */
const C_ESCAPE = [10, 100] as const;
/**
 * A guard against a broken random source (a constant, say): a uniform one finds a c within
 * tens of draws, so this many failures means it never will.
 */
const MAX_C_DRAWS = 100_000;

function randomInt(random: RandomSource, [lo, hi]: readonly [number, number]): number {
  // min() keeps a source that returns exactly 1 inside the range.
  return Math.min(hi, lo + Math.floor(random() * (hi - lo + 1)));
}

function randomReal(random: RandomSource, [lo, hi]: readonly [number, number]): number {
  return lo + random() * (hi - lo);
}

/**
 * Draws the constant c = cr + i*ci until c's own escape iteration (z = z*z + c from z = 0) is in
 * 10..100, which keeps the Julia set interesting: c in the Mandelbrot set gives a blob, c far from
 * it gives dust. `iterations` caps the count, as in the render; it is at least 128 here, so the cap
 * never decides.
 */
function randomC(random: RandomSource, iterations: number): { cr: number; ci: number } {
  for (let draw = 0; draw < MAX_C_DRAWS; draw++) {
    const cr = randomReal(random, C_RANGE);
    const ci = randomReal(random, C_RANGE);
    const escape = escapeIndex(0, 0, cr, ci, iterations);
    if (escape >= C_ESCAPE[0] && escape <= C_ESCAPE[1]) return { cr, ci };
  }
  throw new Error(
    `no c with an escape iteration in ${C_ESCAPE[0]}..${C_ESCAPE[1]} after ${MAX_C_DRAWS} draws: ` +
      'is the random source uniform on [0, 1)?',
  );
}

/**
 * One Julia render's params drawn as the producer of the OpenStack tutorial app draws them.
 * The same random source, in the same state, gives the same params: the draws are made in a fixed
 * order (width, height, iterations, xa, xb, ya, yb, then c until it qualifies).
 */
export function randomJuliaParams(random: RandomSource = Math.random): JuliaParams {
  const width = randomInt(random, WIDTH);
  const height = randomInt(random, HEIGHT);
  const iterations = randomInt(random, ITERATIONS);
  const xa = randomReal(random, XA);
  const xb = randomReal(random, XB);
  const ya = randomReal(random, YA);
  const yb = randomReal(random, YB);
  const { cr, ci } = randomC(random, iterations);
  // Parsed so that a source returning NaN or values outside [0, 1) fails here, not in a worker.
  return JuliaParams.parse({ width, height, iterations, xa, xb, ya, yb, cr, ci });
}

/** How many renders the producer submits in one interval: 1..10, uniformly. */
export function randomTaskCount(random: RandomSource = Math.random): number {
  return randomInt(random, TASKS);
}
