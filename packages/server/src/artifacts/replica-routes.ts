import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyPluginCallback, FastifyReply, FastifyRequest } from 'fastify';
import { DroverError, Sha256 } from '@drover/protocol';
import { parseRange } from './http-headers.js';
import type { ArtifactStore } from './store.js';

/** How replicas of one farm fetch blobs from one another; never a route for clients or workers. */
export const replicaHttp = {
  blobPath: (sha256: string): string => `/replicas/blobs/${sha256}`,
  /** Carries the farm's replica secret, which only servers (who read the database) know. */
  secretHeader: 'x-drover-replica-secret',
} as const;

export interface ReplicaRouteOptions {
  /** The store of this replica alone: a blob is never fetched on from a third replica. */
  store: ArtifactStore;
  /** The farm's replica secret (`engine.replicaSecret()`). */
  secret: string;
  onError: (error: unknown, where: string) => void;
}

/**
 * `GET /replicas/blobs/:sha256` (and HEAD): another replica of the farm reads a blob this one
 * holds, whole or one range of it. Only a request carrying the farm's replica secret is served:
 * a client's or a worker's credential is refused like none, and nothing is looked up before.
 */
export function replicaRoutes(options: ReplicaRouteOptions): FastifyPluginCallback {
  const expected = digest(options.secret);
  const isReplica = (request: FastifyRequest): boolean => {
    const given = request.headers[replicaHttp.secretHeader];
    return typeof given === 'string' && timingSafeEqual(digest(given), expected);
  };
  return (scope, _options, done) => {
    scope.route({
      method: ['GET', 'HEAD'],
      url: replicaHttp.blobPath(':sha256'),
      exposeHeadRoute: false,
      handler: async (request, reply) => {
        try {
          return await serveBlob(options.store, isReplica(request), request, reply);
        } catch (error) {
          options.onError(error, 'serving a blob to another replica');
          return refuse(reply, 500, new DroverError('DROVER_E_INTERNAL'));
        }
      },
    });
    done();
  };
}

async function serveBlob(
  store: ArtifactStore,
  isReplica: boolean,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<FastifyReply> {
  if (!isReplica) {
    return refuse(
      reply,
      401,
      new DroverError(
        'DROVER_E_UNAUTHORIZED',
        "This route is for the farm's servers alone. Download files with GET /artifacts/<id>.",
      ),
    );
  }
  const { sha256 } = request.params as { sha256: string };
  const blob = Sha256.safeParse(sha256).success ? await store.open(sha256) : undefined;
  if (!blob) {
    return refuse(reply, 404, new DroverError('DROVER_E_NOT_FOUND', `No blob ${sha256} here.`));
  }
  const range = parseRange(request.headers.range, blob.size);
  if (range === 'unsatisfiable') {
    await blob.close();
    reply.header('content-range', `bytes */${blob.size}`);
    return refuse(reply, 416, new DroverError('DROVER_E_INVALID_PARAMS', 'Outside the blob.'));
  }
  reply
    .header('accept-ranges', 'bytes')
    .header('content-type', 'application/octet-stream')
    .header('content-length', String(range ? range.end - range.start + 1 : blob.size));
  if (range) {
    reply.code(206).header('content-range', `bytes ${range.start}-${range.end}/${blob.size}`);
  }
  if (request.method === 'HEAD') {
    await blob.close();
    return reply.send();
  }
  return reply.send(blob.stream(range));
}

function refuse(reply: FastifyReply, status: number, error: DroverError): FastifyReply {
  return reply
    .code(status)
    .type('application/json; charset=utf-8')
    .send({ error: { code: error.code, message: error.message, retryable: error.retryable } });
}

/** Compared by their digests, so neither the time taken nor a length gives the secret away. */
function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}
