export { startServer } from './http-server.js';
export type { DroverServer, ServerOptions } from './http-server.js';
export { createRpcDispatcher } from './rpc.js';
export type { RpcDispatcher } from './rpc.js';
export { engineHandlers } from './handlers.js';
export type { HandlerHooks, Handlers, StopTasks } from './handlers.js';
export { WorkerHub } from './worker-hub.js';
export { DEFAULT_RETENTION_MS, Retention } from './retention.js';
export type { RetentionOptions } from './retention.js';
export type { HubOptions } from './worker-hub.js';
export {
  DEFAULT_MAX_ARTIFACT_BYTES,
  FileArtifactStore,
  registerArtifacts,
  sweepArtifacts,
} from './artifacts/index.js';
// Files from anywhere: a replica's store reaching the bytes the others hold.
export {
  PeerArtifactStore,
  fetchBlob,
  replicaHttp,
  replicaStore,
  verifyingSha256,
} from './artifacts/index.js';
export type {
  BlobLocations,
  PeerStoreOptions,
  RemoteBlob,
  RemoteBlobRequest,
} from './artifacts/index.js';
export type {
  ArtifactOptions,
  ArtifactStore,
  ByteRange,
  OpenBlob,
  StoredBlob,
  SweepOptions,
} from './artifacts/index.js';
export { LOG_LEVELS } from './logging.js';
export type { LogLevel } from './logging.js';
