export { startServer } from './http-server.js';
export type { DroverServer, ServerOptions } from './http-server.js';
export { createRpcDispatcher } from './rpc.js';
export type { RpcDispatcher } from './rpc.js';
export { engineHandlers } from './handlers.js';
export type { Handlers, StopTasks } from './handlers.js';
