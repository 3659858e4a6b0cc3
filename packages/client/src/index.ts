export { DroverClient } from './client.js';
export type {
  ClientOptions,
  ConnectionState,
  SubscribeOptions,
  Submission,
  Subscription,
  TaskTypeRef,
  TypedTask,
  WebSocketConstructor,
  WebSocketLike,
} from './options.js';
export { compareCursors } from '@drover/protocol';
