// `drover worker` without --name: each process on a host its own name, kept across restarts; a
// second worker under a name that is connected is refused instead of knocking the first off.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { backend, openTestEngine, sleep, tokenFor } from '@drover/engine/testing';
import type { TestEngine } from '@drover/engine/testing';
import { startServer } from '@drover/server';
import type { DroverServer } from '@drover/server';

const cli = new URL('../src/main.js', import.meta.url).pathname;

describe(`worker identity (${backend})`, { timeout: 120_000 }, () => {
  const stateDir = mkdtempSync(join(tmpdir(), 'drover-worker-state-'));
  let t: TestEngine;
  let server: DroverServer;
  let token: string;
  const children: ChildProcess[] = [];

  before(async () => {
    t = await openTestEngine();
    token = await tokenFor(t.engine, { name: 'identity workers', role: 'worker' });
    server = await startServer({ engine: t.engine, port: 0 });
  });
  after(async () => {
    for (const child of children) child.kill('SIGKILL');
    await server.close();
    await t.close();
    rmSync(stateDir, { recursive: true, force: true });
  });

  const args = (...more: string[]) => [cli, 'worker', '--server', server.url, ...more];
  const env = () => ({ ...process.env, DROVER_TOKEN: token });

  /** Starts a worker; resolves with its process, its name and how many times it said hello. */
  async function start(...more: string[]) {
    const child = spawn(process.execPath, args(...more), {
      env: env(),
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    children.push(child);
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    const name = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', () => {
        const joined = /worker (\S+) \(\S+\) joined/.exec(out);
        if (joined?.[1]) resolve(joined[1]);
      });
      child.once('exit', (code) => reject(new Error(`the worker exited (${code}): ${out}`)));
    });
    return { child, name, hellos: () => out.split('registered as').length - 1 };
  }

  it('gives two workers on one host two names, and each keeps its connection', async () => {
    const a = await start('--state-dir', stateDir);
    const b = await start('--state-dir', stateDir);
    assert.notEqual(a.name, b.name);
    await sleep(1500);
    assert.deepEqual([a.hellos(), b.hellos()], [1, 1], 'neither knocked the other off');
    const online = (await t.engine.listWorkers()).filter((w) => w.state === 'online');
    assert.deepEqual(online.map((w) => w.name).sort(), [a.name, b.name].sort());
  });

  it('refuses a second worker under a connected name, and lets the same one restart', async () => {
    const [first] = (await t.engine.listWorkers()).filter((w) => w.state === 'online');
    assert.ok(first);
    // Another machine (another state directory) asking for that name.
    const other = mkdtempSync(join(tmpdir(), 'drover-worker-other-'));
    // (Not spawnSync: the server runs in this process.)
    const intruder = spawn(process.execPath, args('--name', first.name, '--state-dir', other), {
      env: env(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(intruder);
    let said = '';
    intruder.stderr.setEncoding('utf8').on('data', (chunk: string) => (said += chunk));
    const status = await new Promise((resolve) => intruder.once('exit', resolve));
    rmSync(other, { recursive: true, force: true });
    assert.equal(status, 1, said);
    assert.match(said, new RegExp(`A worker named ${first.name} is connected already`));

    // The worker itself, killed and started again at once: the same name and record.
    const victim = children.find((c) => c.exitCode === null && c.signalCode === null);
    assert.ok(victim);
    victim.kill('SIGKILL');
    await new Promise((resolve) => victim.once('exit', resolve));
    const names = new Set((await t.engine.listWorkers()).map((w) => w.name));
    const back = await start('--state-dir', stateDir);
    assert.ok(names.has(back.name), `${back.name} is one of the names from before`);
    const workers = await t.engine.listWorkers();
    assert.equal(workers.length, 2, 'no third worker record');
  });
});
