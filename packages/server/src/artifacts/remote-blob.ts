import { createHash } from 'node:crypto';
import { Readable, Transform } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { DroverError } from '@drover/protocol';
import type { ByteRange } from './store.js';

export interface RemoteBlobRequest {
  /** Where the blob's bytes are, such as `https://replica-2:7400/replicas/blobs/<sha256>`. */
  url: string | URL;
  /** The sha256 the bytes must have: a whole blob with any other is never passed on whole. */
  sha256: string;
  /** Sent with the request: the credential the other side asks for. */
  headers?: Readonly<Record<string, string>>;
  /** Only these bytes (a `Range` request, answered 206); a part cannot be checked by sha256. */
  range?: ByteRange | undefined;
  /** `HEAD` learns the size without any bytes. @defaultValue `GET` */
  method?: 'GET' | 'HEAD';
  /** The fetch to send with: one that trusts a private authority, say. @defaultValue fetch */
  fetch?: typeof globalThis.fetch;
  /** How long to wait for the answer's headers; the body then takes as long as it takes. @defaultValue 10,000 */
  timeoutMs?: number;
}

export interface RemoteBlob {
  /** The whole blob's size, in bytes, whatever part was asked for. */
  size: number;
  /**
   * The bytes asked for (none for `HEAD`). For the whole blob, the last chunk is held back until
   * the sha256 of everything before it proves right: other bytes end the stream with
   * `DROVER_E_CHECKSUM_MISMATCH` instead, so that a reader never takes them for the whole file.
   * Destroying it ends the request.
   */
  body: Readable;
}

/**
 * Streams a content-addressed blob from another server over HTTP: the whole blob, checked
 * against its sha256 as it streams, or one range of it passed through. Resolves to undefined
 * when the other side answers 404 (it does not have the blob); rejects when it cannot be reached
 * in time or answers anything else.
 *
 * @example
 * const blob = await fetchBlob({ url, sha256, headers: { authorization: `Bearer ${secret}` } });
 * if (blob) await pipeline(blob.body, createWriteStream(path));
 */
export async function fetchBlob(request: RemoteBlobRequest): Promise<RemoteBlob | undefined> {
  const method = request.method ?? 'GET';
  const controller = new AbortController();
  const timeoutMs = request.timeoutMs ?? 10_000;
  const timer = setTimeout(() => {
    controller.abort(new Error(`no answer from ${String(request.url)} within ${timeoutMs} ms`));
  }, timeoutMs);
  let response: Response;
  try {
    response = await (request.fetch ?? globalThis.fetch)(request.url, {
      method,
      headers: {
        ...request.headers,
        ...(request.range && { range: `bytes=${request.range.start}-${request.range.end}` }),
      },
      signal: controller.signal,
    });
  } finally {
    clearTimeout(timer);
  }
  const bodyOf = () =>
    response.body
      ? Readable.fromWeb(response.body as WebReadableStream<Uint8Array>)
      : Readable.from([]);
  if (response.status === 404) {
    await response.body?.cancel();
    return undefined;
  }
  const expected = request.range ? 206 : 200;
  if (response.status !== expected) {
    const text = method === 'HEAD' ? '' : (await response.text()).slice(0, 500);
    throw new Error(
      `${method} ${String(request.url)} answered ${response.status}, not ${expected}${text && `: ${text}`}`,
    );
  }
  const size = request.range
    ? sizeFromContentRange(response.headers.get('content-range'), request.range)
    : Number(response.headers.get('content-length'));
  if (!Number.isSafeInteger(size) || size < 0) {
    await response.body?.cancel();
    throw new Error(`${method} ${String(request.url)} did not say how large the blob is`);
  }
  if (method === 'HEAD') return { size, body: Readable.from([]) };
  const body = bodyOf();
  if (request.range) return { size, body };
  const checked = verifyingSha256(request.sha256, String(request.url));
  // Either side failing ends both: an error, or the reader going away, ends the request.
  body.on('error', (error) => checked.destroy(error));
  checked.on('close', () => body.destroy());
  return { size, body: body.pipe(checked) };
}

/**
 * Passes bytes through while hashing them, holding the last chunk back until the end: it is
 * passed on only if the sha256 of all of them is `expected`; otherwise the stream fails with
 * `DROVER_E_CHECKSUM_MISMATCH` and its reader has fewer bytes than it was promised.
 */
export function verifyingSha256(expected: string, source = 'the remote server'): Transform {
  const hash = createHash('sha256');
  let held: Buffer | undefined;
  let size = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      size += chunk.byteLength;
      const previous = held;
      held = chunk;
      callback(null, previous);
    },
    flush(callback) {
      const actual = hash.digest('hex');
      if (actual !== expected) {
        callback(
          new DroverError(
            'DROVER_E_CHECKSUM_MISMATCH',
            `The ${size} bytes from ${source} have sha256 ${actual}, not ${expected}: they were not passed on whole.`,
            { details: { expected, received: actual, size } },
          ),
        );
        return;
      }
      callback(null, held);
    },
  });
}

/** The whole size in `bytes a-b/size`, once `a-b` is the range asked for. */
function sizeFromContentRange(header: string | null, range: ByteRange): number {
  const match = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(header ?? '');
  if (!match || Number(match[1]) !== range.start || Number(match[2]) !== range.end) return NaN;
  return Number(match[3]);
}
