import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { LineSplitter } from './line-splitter.js';
import { listFiles } from './list-files.js';
import type { OutputFile } from './list-files.js';
import { stopGroup } from './process-group.js';
import { expandArgv } from './template.js';
import type { ShellTaskTemplate } from './template.js';

export type OutputStream = 'stdout' | 'stderr';

export interface RunShellTaskOptions {
  /** Where the command writes what it produces (`{outDir}`): created if missing. */
  outDir: string;
  /** Aborting it stops the command. */
  signal?: AbortSignal;
  /**
   * Each line the command writes, in order per stream. If it throws, the command is stopped and
   * runShellTask rejects with that error.
   */
  onLine?: (stream: OutputStream, line: string) => void;
  /** Variables set over the template's, such as the task's id. */
  env?: Record<string, string>;
}

export interface ShellTaskResult {
  /** The exit code; null if a signal ended the command. 0 is success. */
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** The template's timeoutMs ran out and the command was stopped. */
  timedOut: boolean;
  /** The abort signal fired and the command was stopped (or never started). */
  cancelled: boolean;
  /** Every regular file left in outDir: the task's artifacts. */
  files: OutputFile[];
  /** From start to the command's exit. */
  durationMs: number;
}

/** The program could not be started: missing, not executable, or its directory is missing. */
export class ShellStartError extends Error {
  override readonly name = 'ShellStartError';
  readonly program: string;

  constructor(program: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.program = program;
  }
}

/** What a command inherits from the worker's environment; the rest of it stays private. */
const INHERITED_ENV = ['PATH', 'HOME', 'LANG'] as const;

/**
 * How long output may keep arriving once the process group is gone. Only a process that left the
 * group (setsid) can still hold the pipes open, and it must not hold the task open with them.
 */
const DRAIN_MS = 1000;

/**
 * Runs one shell-command task: validates `params` against the template (rejecting with
 * `DROVER_E_INVALID_PARAMS` before anything starts), then runs the expanded argv directly, without
 * a shell, in a process group of its own, and resolves once it has exited, whatever its exit code.
 *
 * On timeout or abort the whole group gets SIGTERM, then SIGKILL after the template's graceMs.
 * When the command exits by itself, whatever it left running in its group is stopped the same way,
 * so nothing of a task outlives it. Rejects with ShellStartError if the program cannot be started.
 */
export async function runShellTask(
  template: ShellTaskTemplate,
  params: unknown,
  options: RunShellTaskOptions,
): Promise<ShellTaskResult> {
  const outDir = resolve(options.outDir);
  const [program, ...args] = expandArgv(template, params, { outDir });
  if (program === undefined) throw new ShellStartError('', `${template.name} has an empty argv`);
  const cwd = template.cwd ?? outDir;
  await mkdir(outDir, { recursive: true });
  await checkDirectory(program, cwd);
  if (options.signal?.aborted) {
    const files = await listFiles(outDir);
    return { exitCode: null, signal: null, timedOut: false, cancelled: true, files, durationMs: 0 };
  }

  const env = environment(template, options.env);
  const child = spawn(program, args, {
    cwd,
    env,
    shell: false,
    // Its own process group, so that everything it starts can be stopped with it.
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (child.pid === undefined) {
    const [error] = (await once(child, 'error')) as [NodeJS.ErrnoException];
    throw startError(program, env.PATH, error);
  }
  return supervise(child, child.pid, template, options, outDir);
}

async function supervise(
  child: ChildProcess,
  pgid: number,
  template: ShellTaskTemplate,
  options: RunShellTaskOptions,
  outDir: string,
): Promise<ShellTaskResult> {
  const started = performance.now();
  const exited = new Promise<[number | null, NodeJS.Signals | null]>((done) => {
    child.once('exit', (code, signal) => done([code, signal]));
  });
  const closed = new Promise<void>((done) => child.once('close', () => done()));
  // Once running, the only 'error' left is a failed child.kill(), which is not used here.
  child.on('error', () => {});

  let hasExited = false;
  let cause: 'timeout' | 'abort' | 'callback' | undefined;
  let stopping: Promise<void> | undefined;
  const interrupt = (why: NonNullable<typeof cause>) => {
    if (hasExited) return;
    cause ??= why;
    stopping ??= stopGroup(pgid, template.graceMs);
  };

  let callbackFailed = false;
  let callbackError: unknown;
  const deliver = (stream: OutputStream) => (line: string) => {
    if (!options.onLine || callbackFailed) return;
    try {
      options.onLine(stream, line);
    } catch (error) {
      callbackFailed = true;
      callbackError = error;
      interrupt('callback');
    }
  };
  const stdout = new LineSplitter(deliver('stdout'));
  const stderr = new LineSplitter(deliver('stderr'));
  child.stdout?.on('data', (chunk: Buffer) => stdout.push(chunk));
  child.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk));

  const timer =
    template.timeoutMs === undefined
      ? undefined
      : setTimeout(() => interrupt('timeout'), template.timeoutMs);
  const onAbort = () => interrupt('abort');
  options.signal?.addEventListener('abort', onAbort, { once: true });

  let exitCode: number | null;
  let signal: NodeJS.Signals | null;
  let durationMs: number;
  try {
    [exitCode, signal] = await exited;
    hasExited = true;
    durationMs = Math.round(performance.now() - started);
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener('abort', onAbort);
  }

  // Whatever the command left running in its group (a background job, a daemon) ends with it.
  await (stopping ?? stopGroup(pgid, template.graceMs));
  let drainTimer: NodeJS.Timeout | undefined;
  const drainDeadline = new Promise<void>((done) => (drainTimer = setTimeout(done, DRAIN_MS)));
  await Promise.race([closed, drainDeadline]);
  clearTimeout(drainTimer);
  child.stdout?.destroy();
  child.stderr?.destroy();
  stdout.flush();
  stderr.flush();
  if (callbackFailed) throw callbackError;

  return {
    exitCode,
    signal,
    timedOut: cause === 'timeout',
    cancelled: cause === 'abort',
    files: await listFiles(outDir),
    durationMs,
  };
}

/** PATH, HOME and LANG from the worker, under the template's variables, under the caller's. */
function environment(
  template: ShellTaskTemplate,
  extra: Record<string, string> | undefined,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of INHERITED_ENV) {
    const value = process.env[name];
    if (value !== undefined) env[name] = value;
  }
  return { ...env, ...template.env, ...extra };
}

// spawn() reports a missing cwd as if the program were missing; this says which it is.
async function checkDirectory(program: string, cwd: string): Promise<void> {
  const stats = await stat(cwd).catch(() => undefined);
  if (!stats?.isDirectory()) {
    throw new ShellStartError(
      program,
      `Cannot start "${program}": its working directory ${cwd} does not exist or is not a directory.`,
    );
  }
}

function startError(
  program: string,
  path: string | undefined,
  error: NodeJS.ErrnoException,
): ShellStartError {
  const where = program.includes('/') ? '' : ` on the PATH (${path ?? 'unset'})`;
  const reason =
    error.code === 'ENOENT'
      ? `there is no such program${where}`
      : error.code === 'EACCES'
        ? 'permission denied; is it an executable file?'
        : error.message;
  return new ShellStartError(program, `Cannot start "${program}": ${reason}.`, { cause: error });
}
