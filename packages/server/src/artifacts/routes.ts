import type { FastifyPluginCallback, FastifyReply, FastifyRequest } from 'fastify';
import type { Engine } from '@drover/engine';
import {
  ArtifactId,
  ArtifactName,
  AttemptId,
  ContentType,
  DroverError,
  LeaseToken,
  Sha256,
  artifactHttp,
  isDroverError,
  parseOrThrow,
} from '@drover/protocol';
import type { ArtifactRecord, ErrorCode } from '@drover/protocol';
import { contentDisposition, mayShowInline, parseRange } from './http-headers.js';
import type { ArtifactStore } from './store.js';

export interface ArtifactRouteOptions {
  engine: Engine;
  store: ArtifactStore;
  /** The largest artifact accepted, in bytes. */
  maxArtifactBytes: number;
  /**
   * The artifact `find` finds, once the request's caller (token, session or lease) is known and
   * may read it; throws otherwise. The caller is known before anything is looked up.
   */
  authorizeDownload: (
    request: FastifyRequest,
    find: () => Promise<ArtifactRecord>,
  ) => Promise<ArtifactRecord>;
  onError: (error: unknown, where: string) => void;
  /**
   * Serves an artifact whose bytes are elsewhere (a site job's, at its site), once the caller
   * may read it; resolves to undefined for one in this farm's store.
   */
  proxyDownload?: (
    artifact: ArtifactRecord,
    request: FastifyRequest,
    reply: FastifyReply,
  ) => Promise<FastifyReply | undefined>;
}

const STATUS: Partial<Record<ErrorCode, number>> = {
  DROVER_E_INVALID_PARAMS: 400,
  DROVER_E_CHECKSUM_MISMATCH: 400,
  DROVER_E_UNAUTHORIZED: 401,
  DROVER_E_FORBIDDEN: 403,
  DROVER_E_STALE_LEASE: 401,
  DROVER_E_NOT_FOUND: 404,
  DROVER_E_ARTIFACT_EXISTS: 409,
  DROVER_E_TOO_LARGE: 413,
  DROVER_E_RATE_LIMITED: 429,
  DROVER_E_DATABASE_UNAVAILABLE: 503,
  DROVER_E_ARTIFACT_UNAVAILABLE: 503,
  DROVER_E_SITE_UNREACHABLE: 502,
};

/**
 * `PUT /artifacts/upload?name=...`: a worker stores a file its attempt produced, the body being
 * the bytes, streamed to the store and never buffered whole. `GET /artifacts/:id` (and HEAD):
 * whoever may read the artifact's group downloads it by id, with Range support.
 *
 * A plugin of its own, so that its body parser (none: the handler reads the raw stream) stays
 * apart from the string parser the JSON-RPC route uses.
 */
export function artifactRoutes(options: ArtifactRouteOptions): FastifyPluginCallback {
  return (scope, _options, done) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', (_request, _payload, done) => done(null));
    // What fastify itself refuses (a malformed Content-Type, say) is answered like the rest.
    scope.setErrorHandler((error: Error & { statusCode?: number }, request, reply) => {
      const status = error.statusCode ?? 500;
      const refusal =
        status < 500
          ? new DroverError('DROVER_E_INVALID_PARAMS', `Invalid request: ${error.message}`)
          : error;
      return sendError(reply, refusal, options.onError, request.url, !request.raw.complete);
    });
    scope.put(artifactHttp.uploadPath, (request, reply) => upload(options, request, reply));
    scope.route({
      method: ['GET', 'HEAD'],
      url: '/artifacts/:id',
      exposeHeadRoute: false,
      handler: (request, reply) => download(options, request, reply),
    });
    done();
  };
}

async function upload(
  { engine, store, maxArtifactBytes, onError }: ArtifactRouteOptions,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<FastifyReply> {
  try {
    const lease = leaseCredential(request.headers.authorization);
    const query = request.query as Record<string, unknown>;
    const name = parseOrThrow(ArtifactName, query.name, 'artifact name (the name query parameter)');
    const contentType = parseOrThrow(
      ContentType,
      request.headers['content-type'] ?? 'application/octet-stream',
      'Content-Type',
    );
    const declared = request.headers[artifactHttp.sha256Header];
    const sha256 = parseOrThrow(
      Sha256,
      typeof declared === 'string' ? declared.toLowerCase() : declared,
      `${artifactHttp.sha256Header} header`,
    );
    const length = Number(request.headers['content-length'] ?? 0);
    if (length > maxArtifactBytes) throw tooLarge(maxArtifactBytes);
    // Before a byte is read: a stale or forged credential costs the server no upload.
    await engine.authorizeArtifact(lease);
    const body = request.raw.iterator({ destroyOnReturn: false });
    const blob = await store.put(body, { sha256, maxBytes: maxArtifactBytes });
    const { artifact, created } = await engine.recordArtifact({
      ...lease,
      name,
      contentType,
      size: blob.size,
      sha256: blob.sha256,
    });
    return reply.code(created ? 201 : 200).send(artifact);
  } catch (error) {
    // A client that went away mid-upload is no server error; nobody reads the answer.
    const gone = request.raw.destroyed && !isDroverError(error);
    const log = gone ? () => undefined : onError;
    return sendError(reply, error, log, 'uploading an artifact', !request.raw.complete);
  }
}

async function download(
  { engine, store, authorizeDownload, proxyDownload, onError }: ArtifactRouteOptions,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<FastifyReply> {
  try {
    const { id } = request.params as { id: string };
    if (!ArtifactId.safeParse(id).success)
      throw new DroverError('DROVER_E_NOT_FOUND', `There is no artifact ${id}.`);
    const artifact = await authorizeDownload(request, () => engine.getArtifact(id));
    const proxied = await proxyDownload?.(artifact, request, reply);
    if (proxied) return proxied;
    const blob = await store.open(artifact.sha256);
    if (!blob) {
      onError(new Error(`artifact ${id}: blob ${artifact.sha256} is missing`), 'downloading');
      throw new DroverError(
        'DROVER_E_NOT_FOUND',
        `The bytes of artifact ${id} are missing from the store.`,
      );
    }
    const etag = `"${artifact.sha256}"`;
    const query = request.query as Record<string, unknown>;
    const inline = query.inline === '1' && mayShowInline(artifact.contentType);
    reply
      .header('accept-ranges', 'bytes')
      .header('etag', etag)
      .header('x-content-type-options', 'nosniff')
      // Whatever a task wrote, it never runs as a page of this origin.
      .header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'; sandbox");
    // The bytes behind an id never change.
    const cacheControl = 'private, max-age=31536000, immutable';
    if (matches(request.headers['if-none-match'], etag)) {
      await blob.close();
      return reply.code(304).header('cache-control', cacheControl).send();
    }
    const ifRange = request.headers['if-range'];
    const range =
      ifRange === undefined || ifRange === etag
        ? parseRange(request.headers.range, blob.size)
        : undefined;
    if (range === 'unsatisfiable') {
      await blob.close();
      reply.header('content-range', `bytes */${blob.size}`);
      const outside = new DroverError(
        'DROVER_E_INVALID_PARAMS',
        `The range ${request.headers.range ?? ''} is outside the ${blob.size} bytes of artifact ${id}.`,
      );
      return sendError(reply, outside, onError, 'downloading an artifact', false, 416);
    }
    reply
      .header('cache-control', cacheControl)
      .header('content-type', artifact.contentType)
      .header('content-disposition', contentDisposition(artifact.name, inline))
      .header('content-length', String(range ? range.end - range.start + 1 : blob.size));
    if (range) {
      reply.code(206).header('content-range', `bytes ${range.start}-${range.end}/${blob.size}`);
    }
    if (request.method === 'HEAD') {
      await blob.close();
      return reply.send();
    }
    return reply.send(blob.stream(range));
  } catch (error) {
    return sendError(reply, error, onError, 'downloading an artifact', false);
  }
}

/** `Authorization: Bearer <attemptId>.<leaseToken>`: the attempt's own lease, nothing more. */
export function leaseCredential(header: string | undefined): { attemptId: string; token: string } {
  const match = /^Bearer\s+([^.\s]+)\.(\S+)$/i.exec(header ?? '');
  const attemptId = match?.[1];
  const token = match?.[2];
  if (
    !attemptId ||
    !token ||
    !AttemptId.safeParse(attemptId).success ||
    !LeaseToken.safeParse(token).success
  ) {
    throw new DroverError(
      'DROVER_E_UNAUTHORIZED',
      'An upload needs Authorization: Bearer <attemptId>.<leaseToken>, the lease of the attempt that made the file.',
    );
  }
  return { attemptId, token };
}

function tooLarge(maxBytes: number): DroverError {
  return new DroverError(
    'DROVER_E_TOO_LARGE',
    `The upload is larger than the ${maxBytes} bytes this server accepts.`,
    { details: { maxBytes } },
  );
}

function matches(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  return header.trim() === '*' || header.split(',').some((tag) => tag.trim() === etag);
}

/** `{ error: { code, message, retryable } }` with the status that fits the code. */
function sendError(
  reply: FastifyReply,
  error: unknown,
  onError: (error: unknown, where: string) => void,
  where: string,
  bodyUnread: boolean,
  status?: number,
): FastifyReply {
  if (!isDroverError(error)) onError(error, where);
  const drover = isDroverError(error)
    ? error
    : new DroverError('DROVER_E_INTERNAL', undefined, { cause: error });
  // What is left of an upload refused midway is not worth reading: the connection goes.
  if (bodyUnread) reply.header('connection', 'close');
  const code = status ?? STATUS[drover.code] ?? 500;
  if (code === 401) reply.header('www-authenticate', 'Bearer');
  return reply
    .code(code)
    .type('application/json; charset=utf-8')
    .send({
      error: {
        code: drover.code,
        message: drover.message,
        retryable: drover.retryable,
        ...(drover.details !== undefined && { details: drover.details }),
      },
    });
}
