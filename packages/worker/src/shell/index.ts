export {
  MAX_GRACE_MS,
  OUT_DIR_PLACEHOLDER,
  ParamSpec,
  ShellTaskTemplate,
  expandArgv,
  paramsSchema,
} from './template.js';
export type { ParamValue, ShellParams, ShellTaskTemplateInput } from './template.js';
export { ShellStartError, runShellTask } from './run-shell-task.js';
export type { OutputStream, RunShellTaskOptions, ShellTaskResult } from './run-shell-task.js';
export type { OutputFile } from './list-files.js';
export { LineSplitter, MAX_LINE_BYTES } from './line-splitter.js';
