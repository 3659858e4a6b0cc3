import { spawn } from 'node:child_process';

const cli = new URL('../src/main.js', import.meta.url).pathname;

/** How a drover command ended, and what it wrote. */
export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `drover <args>` in `cwd` (where no drover.json is), without blocking this process's event
 * loop (the server under test runs on it). `shell` replaces the command line with a shell's, in
 * which `drover` is the drover command.
 */
export function drover(
  args: string[],
  options: { env?: NodeJS.ProcessEnv; cwd: string; shell?: string },
): Promise<Run> {
  const env = { ...process.env, ...options.env, NODE_BIN: process.execPath, DROVER_CLI: cli };
  const child = options.shell
    ? spawn('sh', ['-c', `drover() { "$NODE_BIN" "$DROVER_CLI" "$@"; }; ${options.shell}`], {
        cwd: options.cwd,
        env,
      })
    : spawn(process.execPath, [cli, ...args], { cwd: options.cwd, env });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
}
