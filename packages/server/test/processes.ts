import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import type { RetentionOptions } from '../src/index.js';

const workerFixture = new URL('./fixtures/worker-process.js', import.meta.url).pathname;
const replicaFixture = new URL('./fixtures/replica-process.js', import.meta.url).pathname;

/** A process of a test, with what it printed. */
export interface TestProcess {
  child: ChildProcess;
  output: string[];
  /** What the line the process was waited for said after its first word. */
  said: string;
}

/** Starts `node fixture args...` and resolves once it prints a line starting with `word `. */
function startProcess(
  fixture: string,
  args: string[],
  word: string,
  env: NodeJS.ProcessEnv = {},
): Promise<TestProcess> {
  const child = spawn(process.execPath, [fixture, ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, ...env },
  });
  const output: string[] = [];
  return new Promise((resolve, reject) => {
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      for (const line of chunk.split('\n').filter(Boolean)) {
        output.push(line);
        if (line.startsWith(`${word} `))
          resolve({ child, output, said: line.slice(word.length + 1) });
      }
    });
    child.once('exit', (code, signal) =>
      reject(
        new Error(`${fixture} ended (${code ?? signal}) before "${word}": ${output.join('\n')}`),
      ),
    );
  });
}

/** A worker process (fixtures/worker-process) of `slots` slots; `said` is its worker id. */
export function spawnWorker(
  serverUrl: string,
  token: string,
  name: string,
  slots = 1,
): Promise<TestProcess> {
  // The token goes in the environment: argv is visible to every local user.
  return startProcess(workerFixture, [serverUrl, name, String(slots)], 'ready', {
    DROVER_TOKEN: token,
  });
}

/** A server replica process on a test schema of PostgreSQL; `said` is its URL. */
export function spawnReplica(
  schema: string,
  leaseMs: number,
  retention?: RetentionOptions,
): Promise<TestProcess> {
  const args = [schema, String(leaseMs), ...(retention ? [JSON.stringify(retention)] : [])];
  return startProcess(replicaFixture, args, 'listening');
}

/**
 * A server process whose webhooks give a receiver 1 s (fixtures/webhook-server-process), on a
 * PGlite data directory or a PostgreSQL schema; `said` is its URL.
 */
export function spawnWebhookServer(where: string, port = 0): Promise<TestProcess> {
  const fixture = new URL('./fixtures/webhook-server-process.js', import.meta.url).pathname;
  return startProcess(fixture, [where, String(port)], 'listening');
}
