// A real farm for the browser tests and the dashboard benchmark: a `drover server` process on
// PGlite in a fresh data directory, serving the built dashboard, and `drover worker` processes,
// each of which can be killed and started again under the same name.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const CLI = join(ROOT, 'packages/cli/dist/src/main.js');
const SHELL_TASKS = join(ROOT, 'examples/fractal/shell-tasks.json');

/** A port nobody listens on right now. */
export function freePort() {
  return new Promise((resolvePort, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = /** @type {import('node:net').AddressInfo} */ (probe.address());
      probe.close(() => resolvePort(port));
    });
  });
}

/** Resolves once `check` returns a truthy value, polling every 100 ms, or rejects after `ms`. */
export async function until(check, ms, what) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check().catch(() => undefined);
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Starts a farm: the server and `workers` worker processes named `w-1`, `w-2`...
 * @param {{ workers?: number, slots?: number, extraWorkerArgs?: string[], serverArgs?: string[], env?: Record<string, string>, rateLimitPerMinute?: number }} options
 */
export async function startFarm(options = {}) {
  const dataDir = mkdtempSync(join(tmpdir(), 'drover-dashboard-'));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  // The embedded server keeps an admin and a worker token in its data directory.
  const secret = (file) => readFileSync(join(dataDir, file), 'utf8').trim();
  const children = new Set();
  const log = [];

  const run = (args, name) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: ROOT,
      env: {
        ...process.env,
        ...(name !== 'server' && { DROVER_TOKEN: secret('worker-token') }),
        // Worker identities stay with the farm, not in the home directory.
        DROVER_STATE_DIR: join(dataDir, 'state'),
        ...options.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const keep = (chunk) => {
      for (const line of String(chunk).split('\n')) if (line) log.push(`${name}: ${line}`);
      if (log.length > 500) log.splice(0, log.length - 500);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    children.add(child);
    child.once('exit', () => children.delete(child));
    return child;
  };

  let server;
  const startServer = async () => {
    const limit = options.rateLimitPerMinute ?? 3000;
    server = run(
      [
        'server',
        '--data-dir',
        dataDir,
        '--port',
        String(port),
        '--rate-limit-per-minute',
        String(limit),
        ...(options.serverArgs ?? []),
      ],
      'server',
    );
    await until(async () => (await fetch(`${url}/healthz`)).ok, 30_000, 'the server');
  };

  /** @type {Map<string, import('node:child_process').ChildProcess>} */
  const workers = new Map();
  const startWorker = (name) => {
    const args = ['worker', '--server', url, '--name', name, '--slots', String(options.slots ?? 1)];
    workers.set(
      name,
      run([...args, '--shell-tasks', SHELL_TASKS, ...(options.extraWorkerArgs ?? [])], name),
    );
  };

  const rpc = async (method, params) => {
    const response = await fetch(`${url}/rpc`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${secret('admin-token')}`,
      },
      body: JSON.stringify({ jsonrpc: '2.0', method, params, id: 1 }),
    });
    const body = await response.json();
    if (body.error) throw new Error(`${method}: ${body.error.message}`);
    return body.result;
  };

  const online = (n) =>
    until(
      async () =>
        (await rpc('workers.list', {})).workers.filter((w) => w.state === 'online').length >= n,
      30_000,
      `${n} online workers`,
    );

  await startServer();
  for (let i = 1; i <= (options.workers ?? 2); i++) startWorker(`w-${i}`);
  await online(options.workers ?? 2);

  const stopped = (child) =>
    child.exitCode !== null || child.signalCode !== null
      ? Promise.resolve()
      : new Promise((r) => child.once('exit', r));

  return {
    url,
    dataDir,
    rpc,
    /** Signs a browser page in as the farm's admin, with a one-time link. */
    async signIn(page) {
      const { path } = await rpc('auth.loginLink', {});
      await page.goto(`${url}${path}`);
    },
    online,
    startWorker,
    workers,
    log,
    /** SIGKILLs a worker process: no goodbye, its connection simply drops. */
    async killWorker(name) {
      const child = workers.get(name);
      if (!child) throw new Error(`no worker ${name}`);
      child.kill('SIGKILL');
      await stopped(child);
    },
    /** Stops the server (SIGTERM, its clean shutdown) and starts it again on the same port. */
    async restartServer(whileDown = async () => undefined) {
      const down = server;
      down.kill('SIGTERM');
      // A server whose process outlives its clean shutdown is not what these tests are about.
      const lingering = setTimeout(() => {
        console.error('# the server process was still there 15 s after SIGTERM: killed');
        down.kill('SIGKILL');
      }, 15_000);
      await stopped(down);
      clearTimeout(lingering);
      await whileDown();
      await startServer();
    },
    async stop() {
      const all = [...children];
      for (const child of all) child.kill('SIGTERM');
      const deadline = new Promise((r) => setTimeout(r, 12_000).unref());
      await Promise.race([Promise.all(all.map(stopped)), deadline]);
      for (const child of children) child.kill('SIGKILL');
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Chromium from the system, headless, with a profile of its own that is thrown away. */
export async function launchBrowser(viewport = { width: 1440, height: 900 }) {
  const { chromium } = await import('playwright-core');
  const profile = mkdtempSync(join(tmpdir(), 'drover-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport,
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
