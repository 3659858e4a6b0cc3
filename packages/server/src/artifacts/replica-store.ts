import type { Engine } from '@drover/engine';
import { PeerArtifactStore } from './peer-store.js';
import type { BlobLocations } from './peer-store.js';
import type { ArtifactStore } from './store.js';

export interface ReplicaStoreOptions {
  engine: Engine;
  /** This server among the farm's replicas (`hub.serverId`). */
  serverId: string;
  /** Its own store: what it stores, it records as held here. */
  local: ArtifactStore;
  /** The farm's replica secret (`engine.replicaSecret()`). */
  secret: string;
  /** @defaultValue true */
  keepCopies?: boolean | undefined;
  onError: (error: unknown, where: string) => void;
}

/**
 * A replica's artifact store: its own, and through it every other replica's, their blobs found
 * by the locations the farm's database records and fetched with the farm's replica secret.
 */
export function replicaStore(options: ReplicaStoreOptions): PeerArtifactStore {
  const { engine, serverId } = options;
  const locations: BlobLocations = {
    record: (sha256s) => engine.recordBlobLocations(serverId, sha256s),
    forget: (sha256, storedBefore) => engine.forgetBlobLocations(sha256, storedBefore),
    holders: (sha256) => engine.blobHolders(sha256, serverId),
  };
  return new PeerArtifactStore({
    local: options.local,
    locations,
    secret: options.secret,
    ...(options.keepCopies !== undefined && { keepCopies: options.keepCopies }),
    onError: options.onError,
  });
}
