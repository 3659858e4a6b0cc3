import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PNG } from 'pngjs';
import { JuliaParams, juliaPixels, renderJulia, sha256Hex } from '../src/index.js';

/** A small render around the classic c = -0.8 + 0.156i, which has plenty of structure. */
const SMALL: JuliaParams = {
  width: 64,
  height: 48,
  iterations: 200,
  xa: -2,
  xb: 2,
  ya: -1.5,
  yb: 1.5,
  cr: -0.8,
  ci: 0.156,
};

function rgbAt(png: Buffer, x: number, y: number): [number, number, number] {
  const image = PNG.sync.read(png);
  const at = (y * image.width + x) * 4;
  return [image.data[at] ?? -1, image.data[at + 1] ?? -1, image.data[at + 2] ?? -1];
}

/** The recipe's colour for iteration index i. */
function colour(i: number): [number, number, number] {
  return [(i % 8) * 32, (i % 16) * 16, (i % 32) * 8];
}

/** The recipe's loop written out plainly: the last index reached before |z| > 2. */
function lastIndex(zr: number, zi: number, cr: number, ci: number, iterations: number): number {
  let re = zr;
  let im = zi;
  let i = 0;
  for (i = 0; i < iterations; i++) {
    if (Math.sqrt(re * re + im * im) > 2) break;
    [re, im] = [re * re - im * im + cr, 2 * re * im + ci];
  }
  return Math.min(i, iterations - 1);
}

describe('renderJulia', () => {
  it('produces a PNG of the requested size', () => {
    const rendered = renderJulia(SMALL);
    assert.equal(rendered.width, 64);
    assert.equal(rendered.height, 48);
    const image = PNG.sync.read(rendered.png);
    assert.equal(image.width, 64);
    assert.equal(image.height, 48);
  });

  it('is deterministic: the same params give the same bytes and the same sha256', () => {
    const first = renderJulia(SMALL).png;
    const second = renderJulia({ ...SMALL }).png;
    assert.ok(first.equals(second));
    assert.equal(sha256Hex(first), sha256Hex(second));
  });

  it('gives a different image for a different c', () => {
    const first = renderJulia(SMALL).png;
    const other = renderJulia({ ...SMALL, cr: 0.285, ci: 0.01 }).png;
    assert.ok(!first.equals(other));
    assert.notEqual(sha256Hex(first), sha256Hex(other));
  });

  it('colours pixels by the recipe, hand-checked with c = 0', () => {
    // An 8x8 image over [-2, 2]^2: pixel (x, y) is z = (-2 + x / 2) + (-2 + y / 2)i.
    const png = renderJulia({
      width: 8,
      height: 8,
      iterations: 200,
      xa: -2,
      xb: 2,
      ya: -2,
      yb: 2,
      cr: 0,
      ci: 0,
    }).png;
    // z = -2 - 2i: |z| > 2 before any step, i = 0.
    assert.deepEqual(rgbAt(png, 0, 0), [0, 0, 0]);
    // z = 1.5: |z| <= 2, then z = 2.25 > 2 at i = 1.
    assert.deepEqual(rgbAt(png, 7, 4), [32, 16, 8]);
    // z = -2 is on the circle, not outside it: z = 4 > 2 at i = 1.
    assert.deepEqual(rgbAt(png, 0, 4), [32, 16, 8]);
    // z = 0 stays 0: it never escapes, so i is the last index, 199 (199 % 32 = 7).
    assert.deepEqual(rgbAt(png, 4, 4), [224, 112, 56]);
  });

  it('colours every pixel by the recipe, checked against a plain loop', () => {
    const image = PNG.sync.read(renderJulia(SMALL).png);
    const { width, height, iterations, xa, xb, ya, yb, cr, ci } = SMALL;
    const indices = new Set<number>();
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const zr = xa + ((xb - xa) * x) / width;
        const zi = ya + ((yb - ya) * y) / height;
        const i = lastIndex(zr, zi, cr, ci, iterations);
        indices.add(i % 32);
        const at = (y * width + x) * 4;
        const actual = [image.data[at], image.data[at + 1], image.data[at + 2]];
        assert.deepEqual(actual, colour(i), `pixel (${x}, ${y}), i = ${i}`);
      }
    }
    // Enough distinct i % 32 for every channel's remainder to have been exercised.
    assert.ok(indices.size >= 20, `only ${indices.size} distinct i % 32`);
  });

  it('encodes exactly the pixels juliaPixels returns', () => {
    const rgb = juliaPixels(SMALL);
    assert.equal(rgb.length, 64 * 48 * 3);
    const image = PNG.sync.read(renderJulia(SMALL).png);
    for (let p = 0; p < 64 * 48; p++) {
      const fromPng = [image.data[p * 4], image.data[p * 4 + 1], image.data[p * 4 + 2]];
      assert.deepEqual(fromPng, [rgb[p * 3], rgb[p * 3 + 1], rgb[p * 3 + 2]], `pixel ${p}`);
    }
  });

  it('rejects invalid params instead of rendering them', () => {
    assert.throws(() => renderJulia({ ...SMALL, xa: 3 }), /xa must be less than xb/);
    assert.throws(() => juliaPixels({ ...SMALL, width: 0 }), /width/);
  });
});

describe('JuliaParams', () => {
  function issues(input: unknown): { path: string; message: string }[] {
    const result = JuliaParams.safeParse(input);
    assert.equal(result.success, false, 'expected the params to be rejected');
    return (result.error?.issues ?? []).map((issue) => ({
      path: issue.path.join('.'),
      message: issue.message,
    }));
  }

  it('accepts valid params and drops unknown keys', () => {
    assert.deepEqual(JuliaParams.parse({ ...SMALL, frame: 7 }), SMALL);
  });

  it('rejects xa >= xb and ya >= yb, saying which', () => {
    assert.deepEqual(issues({ ...SMALL, xa: 2, xb: 2 }), [
      { path: 'xb', message: 'xa must be less than xb' },
    ]);
    assert.deepEqual(issues({ ...SMALL, ya: 1, yb: -1 }), [
      { path: 'yb', message: 'ya must be less than yb' },
    ]);
  });

  it('rejects a width of 0 and a fractional or huge size', () => {
    const [zero] = issues({ ...SMALL, width: 0 });
    assert.equal(zero?.path, 'width');
    assert.match(zero?.message ?? '', />=1/);
    assert.equal(issues({ ...SMALL, height: 1.5 })[0]?.path, 'height');
    assert.equal(issues({ ...SMALL, width: 4097 })[0]?.path, 'width');
    assert.equal(issues({ ...SMALL, iterations: 0 })[0]?.path, 'iterations');
  });

  it('rejects NaN and infinities', () => {
    const [nan] = issues({ ...SMALL, cr: Number.NaN });
    assert.equal(nan?.path, 'cr');
    assert.match(nan?.message ?? '', /NaN/);
    assert.equal(issues({ ...SMALL, xb: Number.POSITIVE_INFINITY })[0]?.path, 'xb');
    assert.equal(issues({ ...SMALL, width: Number.NaN })[0]?.path, 'width');
  });
});

describe('sha256Hex', () => {
  it('is the standard SHA-256, in lowercase hex', () => {
    assert.equal(
      sha256Hex(Buffer.from('abc')),
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    );
  });
});
