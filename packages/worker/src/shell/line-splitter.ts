/** The longest line delivered, in bytes; a longer one arrives as several. */
export const MAX_LINE_BYTES = 64 * 1024;

const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;

/**
 * Turns a byte stream into lines: split on `\n` (a `\r` before it is dropped too), a partial line
 * held until its end arrives or `flush()`. A line is cut every `maxBytes`, at a UTF-8 character
 * boundary, so a program that never writes a newline cannot make the worker buffer without bound.
 */
export class LineSplitter {
  readonly #onLine: (line: string) => void;
  readonly #maxBytes: number;
  // Never longer than maxBytes between calls.
  #pending: Buffer = Buffer.alloc(0);

  constructor(onLine: (line: string) => void, maxBytes = MAX_LINE_BYTES) {
    if (maxBytes < 4) throw new RangeError('maxBytes must hold at least one UTF-8 character');
    this.#onLine = onLine;
    this.#maxBytes = maxBytes;
  }

  push(chunk: Buffer): void {
    const data = this.#pending.length > 0 ? Buffer.concat([this.#pending, chunk]) : chunk;
    let start = 0;
    for (let end = data.indexOf(NEWLINE); end !== -1; end = data.indexOf(NEWLINE, start)) {
      const stop = end > start && data[end - 1] === CARRIAGE_RETURN ? end - 1 : end;
      this.#emit(data.subarray(start, stop), true);
      start = end + 1;
    }
    // Copied, so that one short partial line does not keep a large chunk alive.
    this.#pending = Buffer.from(this.#emit(data.subarray(start), false));
  }

  /** Delivers the partial line held, if any: the end of the stream is the end of a line. */
  flush(): void {
    const rest = this.#pending;
    this.#pending = Buffer.alloc(0);
    if (rest.length > 0) this.#emit(rest, true);
  }

  /** Delivers `bytes` in pieces of at most maxBytes; returns what is left undelivered. */
  #emit(bytes: Buffer, complete: boolean): Buffer {
    let rest = bytes;
    while (rest.length > this.#maxBytes) {
      const cut = utf8Boundary(rest, this.#maxBytes);
      this.#onLine(rest.subarray(0, cut).toString('utf8'));
      rest = rest.subarray(cut);
    }
    if (!complete) return rest;
    this.#onLine(rest.toString('utf8'));
    return Buffer.alloc(0);
  }
}

/** The largest cut at or before `max` that does not split a UTF-8 character. */
function utf8Boundary(bytes: Buffer, max: number): number {
  let cut = max;
  // A continuation byte (10xxxxxx) belongs to the character that starts before it.
  while (cut > max - 3 && ((bytes[cut] ?? 0) & 0xc0) === 0x80) cut -= 1;
  return ((bytes[cut] ?? 0) & 0xc0) === 0x80 ? max : cut;
}
