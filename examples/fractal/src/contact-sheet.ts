import { PNG } from 'pngjs';
import { z } from 'zod';

/** How to lay out a contact sheet. */
export const ContactSheetOptions = z.object({
  /** Thumbnails a row. @defaultValue ceil(sqrt(number of images)) */
  columns: z.int().min(1).max(1024).optional(),
  /** Every thumbnail's width in pixels; its height keeps the image's aspect ratio. */
  thumbWidth: z.int().min(1).max(4096).default(256),
});
export type ContactSheetOptions = z.input<typeof ContactSheetOptions>;

/**
 * The largest sheet made, in pixels (256 MiB of RGBA while it is assembled): beyond it, ask for
 * smaller thumbnails or split the frames over several sheets.
 */
export const MAX_SHEET_PIXELS = 64 * 1024 * 1024;

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/**
 * A PNG's size from its header, without decoding it, so that the layout is known before any image
 * is decoded and only one decoded image is held at a time.
 */
function pngSize(png: Buffer, index: number): { width: number; height: number } {
  // Signature (8 bytes), then the IHDR chunk: length (4), type (4), width (4), height (4).
  const valid =
    png.length >= 24 &&
    png.subarray(0, 8).equals(PNG_SIGNATURE) &&
    png.toString('latin1', 12, 16) === 'IHDR';
  if (!valid) throw new Error(`image ${index} is not a PNG`);
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20) };
}

/** Nearest-neighbour source index for each of `to` destination indices over `from` sources. */
function nearest(from: number, to: number): Uint32Array {
  const map = new Uint32Array(to);
  for (let i = 0; i < to; i++) {
    // Sample at the destination pixel's centre; min() guards the last one against rounding.
    map[i] = Math.min(from - 1, Math.floor(((i + 0.5) * from) / to));
  }
  return map;
}

/**
 * One PNG showing every image as a thumbnail, in order, left to right then top to bottom: the last
 * stage of a frame-range render. Every thumbnail is `thumbWidth` wide and as tall as its aspect
 * ratio makes it (scaled nearest-neighbour, up or down); every cell is as tall as the tallest
 * thumbnail, with shorter ones centred in it. The sheet has min(columns, n) columns, so a short
 * list is not padded with empty cells; empty cells and gaps are opaque black. Output is RGBA; alpha
 * in the inputs is kept. Throws if `pngs` is empty, an input is not a valid PNG, or the sheet would
 * exceed MAX_SHEET_PIXELS.
 */
export function contactSheet(pngs: readonly Buffer[], options: ContactSheetOptions = {}): Buffer {
  const { columns: askedColumns, thumbWidth } = ContactSheetOptions.parse(options);
  if (pngs.length === 0) throw new RangeError('a contact sheet needs at least one image');
  const images = pngs.map((png, index) => {
    const { width, height } = pngSize(png, index);
    const thumbHeight = Math.max(1, Math.round((height * thumbWidth) / width));
    return { png, width, height, thumbHeight };
  });
  const columns = Math.min(askedColumns ?? Math.ceil(Math.sqrt(pngs.length)), pngs.length);
  const rows = Math.ceil(pngs.length / columns);
  const cellHeight = Math.max(...images.map((image) => image.thumbHeight));
  const sheetWidth = columns * thumbWidth;
  const sheetHeight = rows * cellHeight;
  if (sheetWidth * sheetHeight > MAX_SHEET_PIXELS) {
    throw new RangeError(
      `a ${sheetWidth}x${sheetHeight} contact sheet is over ${MAX_SHEET_PIXELS} pixels: ` +
        'use a smaller thumbWidth or fewer images a sheet',
    );
  }

  const sheet = new PNG({ width: sheetWidth, height: sheetHeight });
  const out = sheet.data;
  out.fill(0);
  for (let at = 3; at < out.length; at += 4) out[at] = 255;

  for (const [index, { png, width, height, thumbHeight }] of images.entries()) {
    const decoded = PNG.sync.read(png);
    if (decoded.width !== width || decoded.height !== height) {
      throw new Error(`image ${index}'s header and data disagree on its size`);
    }
    const src = decoded.data; // RGBA whatever the file's colour type: pngjs normalises it
    const left = (index % columns) * thumbWidth;
    const top = Math.floor(index / columns) * cellHeight + ((cellHeight - thumbHeight) >> 1);
    const xs = nearest(width, thumbWidth);
    const ys = nearest(height, thumbHeight);
    for (let ty = 0; ty < thumbHeight; ty++) {
      const srcRow = (ys[ty] as number) * width;
      let dst = ((top + ty) * sheetWidth + left) * 4;
      for (let tx = 0; tx < thumbWidth; tx++) {
        const from = (srcRow + (xs[tx] as number)) * 4;
        out[dst] = src[from] as number;
        out[dst + 1] = src[from + 1] as number;
        out[dst + 2] = src[from + 2] as number;
        out[dst + 3] = src[from + 3] as number;
        dst += 4;
      }
    }
  }
  return PNG.sync.write(sheet);
}
