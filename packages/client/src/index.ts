export { DroverClient } from './client.js';
export type {
  ClientOptions,
  SubscribeOptions,
  Submission,
  Subscription,
  TaskTypeRef,
  TypedTask,
  WebSocketConstructor,
} from './options.js';
export { compareCursors } from '@drover/protocol';
export type { ConnectionState, WebSocketLike } from '@drover/protocol';
