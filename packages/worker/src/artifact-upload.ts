import { createHash } from 'node:crypto';
import {
  ArtifactRecord,
  DroverError,
  HttpErrorBody,
  artifactHttp,
  backoffMs,
  errorCatalogue,
  uploadCredential,
} from '@drover/protocol';
import type { ErrorCode, LeaseRef } from '@drover/protocol';

export interface ArtifactUpload {
  /**
   * The server's base URL, such as `http://farm.example:7400`; or several, replicas of one farm
   * sharing their artifact store: the first is tried first, and each try after a failure goes
   * to the next, round the list.
   */
  serverUrl: string | readonly string[];
  /** The attempt's lease: the only credential an upload needs, valid while the attempt is. */
  lease: LeaseRef;
  /** A relative path such as `frames/0001.png`. */
  name: string;
  data: Buffer | Uint8Array | string;
  /** @defaultValue from the name's extension; `text/plain` for a string; else octet-stream */
  contentType?: string | undefined;
  /** Aborted when the attempt is stopped or its lease is gone: the upload stops trying. */
  signal?: AbortSignal | undefined;
  /**
   * First wait before sending again; doubles to `maxBackoffMs` once per round of the servers,
   * ±20% jitter. @defaultValue 200
   */
  initialBackoffMs?: number;
  /** @defaultValue 10,000 */
  maxBackoffMs?: number;
  /** The fetch to send with: one that trusts a private authority (`trustFor`). @defaultValue fetch */
  fetch?: typeof globalThis.fetch;
}

/** Statuses that say the credential is refused: sending the same again cannot help. */
const REFUSED = new Set([401, 403, 409]);

/**
 * Uploads a file an attempt produced, over plain HTTP, with its sha256 computed here for the
 * server to check. While the server cannot be reached (or answers that it may succeed later) it
 * sends again with back-off, for as long as `signal` holds: the worker aborts it when the lease
 * is known to be gone. A refused credential or a file the server will never take ends it with
 * the server's `DroverError`.
 */
export async function uploadArtifact(upload: ArtifactUpload): Promise<ArtifactRecord> {
  const body = typeof upload.data === 'string' ? Buffer.from(upload.data, 'utf8') : upload.data;
  const sha256 = createHash('sha256').update(body).digest('hex');
  const contentType = upload.contentType ?? contentTypeOf(upload.name, upload.data);
  const servers = typeof upload.serverUrl === 'string' ? [upload.serverUrl] : upload.serverUrl;
  if (servers.length === 0) throw new TypeError('uploadArtifact needs at least one server URL.');
  const initial = upload.initialBackoffMs ?? 200;
  const max = upload.maxBackoffMs ?? 10_000;
  for (let attempt = 0; ; attempt++) {
    upload.signal?.throwIfAborted();
    // The same bytes under the same name again are stored once (the first record comes back),
    // so a try whose answer was lost with its server is safe to repeat on another.
    const url = new URL(artifactHttp.uploadPath, servers[attempt % servers.length]);
    url.searchParams.set('name', upload.name);
    let outcome: ArtifactRecord | DroverError;
    try {
      const response = await (upload.fetch ?? fetch)(url, {
        method: 'PUT',
        headers: {
          authorization: `Bearer ${uploadCredential(upload.lease)}`,
          'content-type': contentType,
          [artifactHttp.sha256Header]: sha256,
        },
        body,
        ...(upload.signal && { signal: upload.signal }),
      });
      const text = await response.text();
      outcome = response.ok ? recordOf(text) : errorOf(response.status, text);
    } catch (error) {
      if (upload.signal?.aborted) throw error;
      // The server is unreachable or the connection broke: the lease may still hold.
      outcome = new DroverError('DROVER_E_INTERNAL', `Uploading ${upload.name} failed.`, {
        cause: error,
      });
    }
    if (!(outcome instanceof DroverError)) return outcome;
    if (!outcome.retryable) throw outcome;
    const round = Math.floor(attempt / servers.length);
    await sleep(backoffMs(round, { initialMs: initial, maxMs: max }), upload.signal);
  }
}

function recordOf(text: string): ArtifactRecord | DroverError {
  try {
    return ArtifactRecord.parse(JSON.parse(text));
  } catch (error) {
    return new DroverError(
      'DROVER_E_INVALID_REQUEST',
      'The server answered an upload with no artifact record.',
      { cause: error },
    );
  }
}

function errorOf(status: number, text: string): DroverError {
  let parsed: HttpErrorBody | undefined;
  try {
    parsed = HttpErrorBody.parse(JSON.parse(text));
  } catch {
    parsed = undefined;
  }
  const code = parsed?.error.code;
  const message = parsed?.error.message ?? `The upload got HTTP ${status}: ${text.slice(0, 200)}`;
  const details = parsed?.error.details;
  const known = code !== undefined && Object.hasOwn(errorCatalogue, code);
  if (REFUSED.has(status)) {
    // The credential is refused or the name taken: sending the same again cannot help.
    const refusal = known && !errorCatalogue[code as ErrorCode].retryable;
    return new DroverError(refusal ? (code as ErrorCode) : 'DROVER_E_STALE_LEASE', message, {
      details,
    });
  }
  if (known) return new DroverError(code as ErrorCode, message, { details });
  // Not a Drover server's answer (a proxy's, say): worth another try only for a server's or a
  // gateway's trouble.
  const later = status >= 500 || status === 408 || status === 429;
  return new DroverError(later ? 'DROVER_E_INTERNAL' : 'DROVER_E_INVALID_PARAMS', message);
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason as Error);
      return;
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason as Error);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

const TYPES: Record<string, string> = {
  txt: 'text/plain; charset=utf-8',
  log: 'text/plain; charset=utf-8',
  md: 'text/markdown; charset=utf-8',
  csv: 'text/csv; charset=utf-8',
  html: 'text/html; charset=utf-8',
  json: 'application/json',
  xml: 'application/xml',
  pdf: 'application/pdf',
  zip: 'application/zip',
  gz: 'application/gzip',
  tar: 'application/x-tar',
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  webp: 'image/webp',
  svg: 'image/svg+xml',
  exr: 'image/x-exr',
  mp4: 'video/mp4',
  webm: 'video/webm',
  wav: 'audio/wav',
  mp3: 'audio/mpeg',
};

/** A content type from the name's extension; text for a string, bytes for anything else. */
export function contentTypeOf(name: string, data: unknown): string {
  const dot = name.lastIndexOf('.');
  const extension = dot > name.lastIndexOf('/') ? name.slice(dot + 1).toLowerCase() : '';
  return (
    TYPES[extension] ??
    (typeof data === 'string' ? 'text/plain; charset=utf-8' : 'application/octet-stream')
  );
}
