export { Worker } from './worker.js';
export type { WorkerOptions } from './worker.js';
export { defineTask } from './define-task.js';
export type { JobArtifact, TaskContext, TaskDefinition } from './define-task.js';
export { contentTypeOf, uploadArtifact } from './artifact-upload.js';
export type { ArtifactUpload } from './artifact-upload.js';
export { ShellTaskOutcome, shellTask } from './shell-task.js';
export { ShellTaskTemplate } from './shell/index.js';
export type { ShellTaskTemplateInput } from './shell/index.js';
