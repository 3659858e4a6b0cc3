import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Engine } from '@drover/engine';
import type { ArtifactRecord } from '@drover/protocol';
import { artifactRoutes } from './routes.js';
import { replicaRoutes } from './replica-routes.js';
import type { ArtifactStore } from './store.js';
import type { ArtifactRouteOptions } from './routes.js';
import { scheduleSweep } from './sweep.js';
import type { SweepOptions } from './sweep.js';

export { FileArtifactStore } from './fs-store.js';
export { PeerArtifactStore } from './peer-store.js';
export type { BlobLocations, PeerStoreOptions } from './peer-store.js';
export { replicaStore } from './replica-store.js';
export { fetchBlob, verifyingSha256 } from './remote-blob.js';
export type { RemoteBlob, RemoteBlobRequest } from './remote-blob.js';
export { replicaHttp } from './replica-routes.js';
export { sweepArtifacts } from './sweep.js';
export type { SweepOptions } from './sweep.js';
export type { ArtifactStore, ByteRange, OpenBlob, StoredBlob } from './store.js';

/** 1 GiB. */
export const DEFAULT_MAX_ARTIFACT_BYTES = 1024 ** 3;

export interface ArtifactOptions {
  engine: Engine;
  store: ArtifactStore;
  /** The largest artifact accepted, in bytes; larger uploads get 413. @defaultValue 1 GiB */
  maxArtifactBytes?: number | undefined;
  /** How often to delete blobs no artifact references any more; 0 never. @defaultValue 1 hour */
  sweepIntervalMs?: number | undefined;
  sweep?: SweepOptions | undefined;
  /** The artifact `find` finds, once the request's caller may read it; throws otherwise. */
  authorizeDownload: (
    request: FastifyRequest,
    find: () => Promise<ArtifactRecord>,
  ) => Promise<ArtifactRecord>;
  /** Serves an artifact whose bytes are elsewhere (see `ArtifactRouteOptions`). */
  proxyDownload?: ArtifactRouteOptions['proxyDownload'];
  onError: (error: unknown, where: string) => void;
  /**
   * Serve this replica's own blobs (`local`) to the farm's other replicas, to those that show
   * the farm's replica secret. @defaultValue not served
   */
  replica?: { local: ArtifactStore; secret: string } | undefined;
}

/**
 * Serves artifacts: uploads with a task-scoped credential, downloads by id with Range support,
 * and a periodic sweep of blobs left without artifacts, stopped when the app closes.
 */
export function registerArtifacts(app: FastifyInstance, options: ArtifactOptions): void {
  void app.register(
    artifactRoutes({
      engine: options.engine,
      store: options.store,
      maxArtifactBytes: options.maxArtifactBytes ?? DEFAULT_MAX_ARTIFACT_BYTES,
      authorizeDownload: options.authorizeDownload,
      ...(options.proxyDownload && { proxyDownload: options.proxyDownload }),
      onError: options.onError,
    }),
  );
  if (options.replica) {
    void app.register(
      replicaRoutes({
        store: options.replica.local,
        secret: options.replica.secret,
        onError: options.onError,
      }),
    );
  }
  const intervalMs = options.sweepIntervalMs ?? 3_600_000;
  if (intervalMs > 0) {
    const stop = scheduleSweep(
      options.engine,
      options.store,
      intervalMs,
      (error) => options.onError(error, 'sweeping artifact blobs'),
      options.sweep,
    );
    app.addHook('onClose', stop);
  }
}
