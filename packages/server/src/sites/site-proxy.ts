import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { DroverError } from '@drover/protocol';
import type { RemoteArtifact } from '@drover/engine';

/** The request headers a download passes on to the site: ranges and validators. */
const FORWARDED = ['range', 'if-range', 'if-none-match', 'if-modified-since'] as const;
/** The site's response headers passed back. */
const RETURNED = [
  'accept-ranges',
  'cache-control',
  'content-disposition',
  'content-length',
  'content-range',
  'content-security-policy',
  'content-type',
  'etag',
  'x-content-type-options',
] as const;

/**
 * Serves a site job's file from its site: the request's range and validators go to the site with
 * the site's token, and the site's answer (status, headers, bytes) comes back streamed, never
 * buffered whole. The caller has already checked that the requester may read the artifact.
 */
export async function proxySiteArtifact(
  remote: RemoteArtifact,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<FastifyReply> {
  const query = request.query as Record<string, unknown>;
  const url = new URL(`${remote.url}/artifacts/${remote.remoteId}`);
  if (query.inline === '1') url.searchParams.set('inline', '1');
  const headers: Record<string, string> = { authorization: `Bearer ${remote.token}` };
  for (const name of FORWARDED) {
    const value = request.headers[name];
    if (typeof value === 'string') headers[name] = value;
  }
  const controller = new AbortController();
  request.raw.once('close', () => controller.abort());
  let response: Response;
  try {
    response = await fetch(url, {
      method: request.method === 'HEAD' ? 'HEAD' : 'GET',
      headers,
      signal: controller.signal,
    });
  } catch (error) {
    throw new DroverError(
      'DROVER_E_SITE_UNREACHABLE',
      `The site that holds this file does not answer (${url.host}); try again later.`,
      { cause: error },
    );
  }
  if (response.status === 401 || response.status === 403) {
    await response.body?.cancel();
    throw new DroverError(
      'DROVER_E_NOT_FOUND',
      'The site that holds this file refused this farm its token: an admin must add the site again with a valid one.',
    );
  }
  reply.code(response.status);
  for (const name of RETURNED) {
    const value = response.headers.get(name);
    if (value !== null) reply.header(name, value);
  }
  if (request.method === 'HEAD' || response.body === null) return reply.send();
  return reply.send(Readable.fromWeb(response.body as WebReadableStream<Uint8Array>));
}
