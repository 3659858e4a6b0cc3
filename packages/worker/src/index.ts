export { Worker } from './worker.js';
export type { WorkerOptions } from './worker.js';
export { defineTask } from './define-task.js';
export type { TaskContext, TaskDefinition } from './define-task.js';
