// The commands a user drives a farm with, run as they are run: the drover process against a real
// server, its output read the way a terminal, a pipe or a script reads it.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { backend, openTestEngine, tokenFor } from '@drover/engine/testing';
import type { TestEngine } from '@drover/engine/testing';
import { startServer } from '@drover/server';
import type { DroverServer } from '@drover/server';

const cli = new URL('../src/main.js', import.meta.url).pathname;

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

describe(`drover commands against a farm (${backend})`, () => {
  let t: TestEngine;
  let server: DroverServer;
  let dir: string;
  let env: NodeJS.ProcessEnv;

  before(async () => {
    t = await openTestEngine();
    dir = mkdtempSync(join(tmpdir(), 'drover-commands-'));
    writeFileSync(join(dir, 'drover.json'), '{}');
    env = { DROVER_TOKEN: await tokenFor(t.engine), DROVER_DATA_DIR: join(dir, 'data') };
    server = await startServer({ engine: t.engine, port: 0, pollMs: 500 });
  });
  after(async () => {
    await server.close();
    await t.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('writes all of a long --json answer to a pipe that reads slowly', async () => {
    const { job } = await t.engine.submit({
      group: 'pipes',
      taskType: 'nobody.runs.this',
      items: Array.from({ length: 600 }, (_, i) => ({ i, padding: 'x'.repeat(100) })),
    });
    // The reader starts a second late: everything written after the pipe's 64 KiB must wait.
    const piped = await drover([], {
      env,
      cwd: dir,
      shell: `drover tasks ${job.id} --json --server ${server.url} | (sleep 1; cat)`,
    });
    assert.equal(piped.code, 0, piped.stderr);
    assert.ok(piped.stdout.length > 256 * 1024, `${piped.stdout.length} bytes; ${piped.stderr}`);
    const tasks = JSON.parse(piped.stdout) as unknown[];
    assert.equal(tasks.length, 600);
  });
});
