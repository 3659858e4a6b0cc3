import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PNG } from 'pngjs';
import { contactSheet, juliaPixels, renderJulia } from '../src/index.js';
import type { JuliaParams } from '../src/index.js';

type Rgb = readonly [number, number, number];

/** An opaque PNG of one colour. */
function solid(width: number, height: number, [r, g, b]: Rgb): Buffer {
  const image = new PNG({ width, height });
  for (let at = 0; at < image.data.length; at += 4) {
    image.data[at] = r;
    image.data[at + 1] = g;
    image.data[at + 2] = b;
    image.data[at + 3] = 255;
  }
  return PNG.sync.write(image);
}

function rgbaAt(image: PNG, x: number, y: number): number[] {
  const at = (y * image.width + x) * 4;
  return [...image.data.subarray(at, at + 4)];
}

/** Asserts that every pixel of the w x h region at (left, top) is the given opaque colour. */
function assertRegion(
  image: PNG,
  [left, top, w, h]: readonly [number, number, number, number],
  [r, g, b]: Rgb,
  name: string,
): void {
  for (let y = top; y < top + h; y++) {
    for (let x = left; x < left + w; x++) {
      assert.deepEqual(rgbaAt(image, x, y), [r, g, b, 255], `${name} at (${x}, ${y})`);
    }
  }
}

const COLOURS: Rgb[] = [
  [255, 0, 0],
  [0, 255, 0],
  [0, 0, 255],
  [255, 255, 0],
  [0, 255, 255],
];

function smallRender(cr: number): JuliaParams {
  return { width: 40, height: 30, iterations: 100, xa: -2, xb: 2, ya: -1.5, yb: 1.5, cr, ci: 0.2 };
}

describe('contactSheet', () => {
  it('lays 5 renders out 3 columns by 2 rows', () => {
    const pngs = [-0.8, -0.7, -0.6, -0.5, 0.3].map((cr) => renderJulia(smallRender(cr)).png);
    const sheet = PNG.sync.read(contactSheet(pngs, { columns: 3, thumbWidth: 20 }));
    // 40x30 images at 20 wide are 20x15 thumbnails.
    assert.equal(sheet.width, 3 * 20);
    assert.equal(sheet.height, 2 * 15);
  });

  it('samples each thumbnail from its own render, nearest-neighbour', () => {
    const params = [-0.8, -0.7, -0.6, -0.5, 0.3].map(smallRender);
    const sheet = PNG.sync.read(
      contactSheet(
        params.map((p) => renderJulia(p).png),
        { columns: 3, thumbWidth: 20 },
      ),
    );
    for (const [index, p] of params.entries()) {
      const rgb = juliaPixels(p);
      const left = (index % 3) * 20;
      const top = Math.floor(index / 3) * 15;
      for (let ty = 0; ty < 15; ty++) {
        for (let tx = 0; tx < 20; tx++) {
          // Halving samples each 2x2 block at its centre, which rounds to its bottom-right pixel.
          const from = ((2 * ty + 1) * 40 + (2 * tx + 1)) * 3;
          const expected = [rgb[from], rgb[from + 1], rgb[from + 2], 255];
          assert.deepEqual(rgbaAt(sheet, left + tx, top + ty), expected, `image ${index}`);
        }
      }
    }
  });

  it('puts solid inputs in order, defaults to ceil(sqrt(n)) columns, and leaves the rest black', () => {
    const pngs = COLOURS.map((colour) => solid(16, 8, colour));
    const sheet = PNG.sync.read(contactSheet(pngs, { thumbWidth: 8 }));
    assert.equal(sheet.width, 3 * 8);
    assert.equal(sheet.height, 2 * 4);
    for (const [index, colour] of COLOURS.entries()) {
      const region = [(index % 3) * 8, Math.floor(index / 3) * 4, 8, 4] as const;
      assertRegion(sheet, region, colour, `image ${index}`);
    }
    assertRegion(sheet, [16, 4, 8, 4], [0, 0, 0], 'the empty cell');
  });

  it('keeps aspect ratios, centring shorter thumbnails in taller cells', () => {
    const wide = solid(16, 8, [255, 0, 0]);
    const tall = solid(8, 16, [0, 255, 0]);
    const sheet = PNG.sync.read(contactSheet([wide, tall], { columns: 2, thumbWidth: 8 }));
    assert.equal(sheet.width, 16);
    assert.equal(sheet.height, 16);
    assertRegion(sheet, [0, 0, 8, 6], [0, 0, 0], 'above the wide one');
    assertRegion(sheet, [0, 6, 8, 4], [255, 0, 0], 'the wide one');
    assertRegion(sheet, [0, 10, 8, 6], [0, 0, 0], 'below the wide one');
    assertRegion(sheet, [8, 0, 8, 16], [0, 255, 0], 'the tall one');
  });

  it('scales up as well as down, and uses the default thumbnail width of 256', () => {
    const sheet = PNG.sync.read(contactSheet([solid(4, 2, [9, 8, 7])]));
    assert.equal(sheet.width, 256);
    assert.equal(sheet.height, 128);
    assertRegion(sheet, [0, 0, 256, 128], [9, 8, 7], 'the only image');
  });

  it('uses no more columns than there are images', () => {
    const sheet = PNG.sync.read(
      contactSheet([solid(8, 8, [1, 2, 3])], { columns: 4, thumbWidth: 8 }),
    );
    assert.equal(sheet.width, 8);
  });

  it('rejects no images, bad options and non-PNG input', () => {
    assert.throws(() => contactSheet([]), /at least one image/);
    assert.throws(() => contactSheet([solid(2, 2, [0, 0, 0])], { columns: 0 }), /columns/);
    assert.throws(
      () => contactSheet([solid(2, 2, [0, 0, 0]), Buffer.from('GIF89a not a png at all')]),
      /image 1 is not a PNG/,
    );
  });
});
