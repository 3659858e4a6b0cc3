import { PNG } from 'pngjs';
import { z } from 'zod';

/**
 * What one Julia render needs: the image size in pixels, the iteration cap, the window of the
 * complex plane [xa, xb] x [ya, yb] the image covers, and the constant c = cr + i*ci.
 * Unknown keys (a frame number, say) are dropped, so task params can be parsed as they come.
 */
export const JuliaParams = z
  .object({
    width: z.int().min(1).max(4096),
    height: z.int().min(1).max(4096),
    iterations: z.int().min(1).max(10_000),
    // zod 4's z.number() already rejects NaN and the infinities.
    xa: z.number(),
    xb: z.number(),
    ya: z.number(),
    yb: z.number(),
    cr: z.number(),
    ci: z.number(),
  })
  .refine((p) => p.xa < p.xb, { message: 'xa must be less than xb', path: ['xb'] })
  .refine((p) => p.ya < p.yb, { message: 'ya must be less than yb', path: ['yb'] });
export type JuliaParams = z.infer<typeof JuliaParams>;

/** A rendered image: the PNG file's bytes and its size in pixels. */
export interface RenderedImage {
  png: Buffer;
  width: number;
  height: number;
}

/**
 * The index of the iteration at which z escapes (|z| > 2) when iterating z = z*z + c from
 * z = zr + i*zi, as the recipe's `for i in range(iterations): if abs(z) > 2: break; z = z*z + c`
 * leaves it: 0 if z starts outside the radius-2 disc, and `iterations - 1` (the last index reached)
 * if it never escapes. Mandelbrot-style, with z = 0, this is c's own escape iteration.
 */
export function escapeIndex(
  zr: number,
  zi: number,
  cr: number,
  ci: number,
  iterations: number,
): number {
  let x = zr;
  let y = zi;
  for (let i = 0; i < iterations; i++) {
    const x2 = x * x;
    const y2 = y * y;
    // |z| > 2 compared squared: no square root in the hot loop.
    if (x2 + y2 > 4) return i;
    y = 2 * x * y + ci;
    x = x2 - y2 + cr;
  }
  return iterations - 1;
}

// The colour (i % 8 * 32, i % 16 * 16, i % 32 * 8) depends on i only through i % 32, since 8
// and 16 divide 32: one 32-entry RGB table replaces three remainders per pixel.
const PALETTE = new Uint8Array(32 * 3);
for (let i = 0; i < 32; i++) {
  PALETTE[i * 3] = (i % 8) * 32;
  PALETTE[i * 3 + 1] = (i % 16) * 16;
  PALETTE[i * 3 + 2] = (i % 32) * 8;
}

/** Renders into a fresh RGB buffer (3 bytes a pixel, rows top to bottom); params are valid. */
function renderRgb(p: JuliaParams): Buffer {
  const { width, height, iterations, xa, xb, ya, yb, cr, ci } = p;
  const rgb = Buffer.alloc(width * height * 3);
  let at = 0;
  for (let y = 0; y < height; y++) {
    const zi = ya + ((yb - ya) * y) / height;
    for (let x = 0; x < width; x++) {
      const zr = xa + ((xb - xa) * x) / width;
      // `& 31` is `% 32` for the non-negative index; the table always has the entry.
      const entry = (escapeIndex(zr, zi, cr, ci, iterations) & 31) * 3;
      rgb[at] = PALETTE[entry] as number;
      rgb[at + 1] = PALETTE[entry + 1] as number;
      rgb[at + 2] = PALETTE[entry + 2] as number;
      at += 3;
    }
  }
  return rgb;
}

/**
 * The Julia set's pixels, raw: RGB, 3 bytes a pixel, row by row from the top. Pixel (x, y) is the
 * point zx = xa + (xb - xa) * x / width, zy = ya + (yb - ya) * y / height, so row 0 is at ya.
 * Throws a ZodError if the params are invalid.
 */
export function juliaPixels(params: JuliaParams): Uint8Array {
  return renderRgb(JuliaParams.parse(params));
}

/**
 * Renders the Julia set to an RGB PNG. The same params always give the same bytes (for a given
 * pngjs and zlib), so a render's sha256 identifies it. Throws a ZodError if the params are invalid.
 */
export function renderJulia(params: JuliaParams): RenderedImage {
  const p = JuliaParams.parse(params);
  // Built empty and filled in, so pngjs does not allocate an RGBA buffer it would not use.
  const image = new PNG();
  image.width = p.width;
  image.height = p.height;
  image.data = renderRgb(p);
  const png = PNG.sync.write(image, { colorType: 2, inputColorType: 2, inputHasAlpha: false });
  return { png, width: p.width, height: p.height };
}
