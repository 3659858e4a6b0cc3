export { startServer } from './http-server.js';
export type { DroverServer, ServerOptions } from './http-server.js';
export { createRpcDispatcher } from './rpc.js';
export type { RpcDispatcher } from './rpc.js';
export { engineHandlers } from './handlers.js';
export type { HandlerHooks, Handlers, StopTasks } from './handlers.js';
export { WorkerHub } from './worker-hub.js';
export type { HubOptions } from './worker-hub.js';
export {
  DEFAULT_MAX_ARTIFACT_BYTES,
  FileArtifactStore,
  registerArtifacts,
  sweepArtifacts,
} from './artifacts/index.js';
export type {
  ArtifactOptions,
  ArtifactStore,
  ByteRange,
  OpenBlob,
  StoredBlob,
  SweepOptions,
} from './artifacts/index.js';
