// A farm's replicas given to the drover command: `--server URL1,URL2`, `DROVER_SERVER`, or an
// array in drover.json. Commands reach whichever answers; bad lists are refused before anything
// is sent.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DroverError } from '@drover/protocol';
import { backend, openTestEngine, tokenFor } from '@drover/engine/testing';
import type { TestEngine } from '@drover/engine/testing';
import { startServer } from '@drover/server';
import type { DroverServer } from '@drover/server';
import { loadConfig } from '../src/config.js';
import { drover } from './run-drover.js';

/** The URL of a port nobody listens on. */
async function deadUrl(): Promise<string> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return `http://127.0.0.1:${port}`;
}

describe('several servers for one farm', () => {
  const dir = mkdtempSync(join(tmpdir(), 'drover-servers-'));
  const noFile = join(dir, 'empty.json');
  writeFileSync(noFile, '{}');
  after(() => rmSync(dir, { recursive: true, force: true }));
  const load = (flags: Record<string, unknown>, env: NodeJS.ProcessEnv = {}, file = noFile) =>
    loadConfig({ flags, env, file });

  it('takes them comma-separated from --server or DROVER_SERVER, or as an array in the file', () => {
    const expected = ['http://a.example:7400', 'https://b.example:7401'];
    assert.deepEqual(load({ server: 'a.example:7400, https://b.example:7401' }).server, expected);
    assert.deepEqual(
      load({}, { DROVER_SERVER: 'a.example:7400,https://b.example:7401' }).server,
      expected,
    );
    const file = join(dir, 'drover.json');
    writeFileSync(file, JSON.stringify({ server: ['a.example:7400', 'https://b.example:7401'] }));
    assert.deepEqual(load({}, {}, file).server, expected);
    assert.equal(load({}, {}, file).serverFrom, 'given');
    // One is a list of one, as it always was; the same twice is one.
    assert.deepEqual(load({ server: 'a.example:7400' }).server, ['http://a.example:7400']);
    assert.deepEqual(load({ server: 'a.example:7400,a.example:7400' }).server, [
      'http://a.example:7400',
    ]);
  });

  it('refuses a list with a bad URL or an empty entry, naming what it wants', () => {
    for (const server of [
      'a.example:7400,ftp://b.example',
      'a.example:7400,,b.example:7400',
      ',',
    ]) {
      assert.throws(
        () => load({ server }),
        (error: unknown) =>
          error instanceof DroverError &&
          error.code === 'DROVER_E_INVALID_PARAMS' &&
          /a server URL such as http:\/\/farm:7400/.test(error.message),
        server,
      );
    }
  });
});

describe(`drover commands given several servers (${backend})`, () => {
  let t: TestEngine;
  let server: DroverServer;
  let dir: string;
  let env: NodeJS.ProcessEnv;
  before(async () => {
    t = await openTestEngine();
    dir = mkdtempSync(join(tmpdir(), 'drover-servers-cli-'));
    writeFileSync(join(dir, 'drover.json'), '{}');
    env = { DROVER_TOKEN: await tokenFor(t.engine), DROVER_DATA_DIR: join(dir, 'data') };
    server = await startServer({ engine: t.engine, port: 0 });
  });
  after(async () => {
    await server.close();
    await t.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reaches the farm through a live server when the first given does not answer', async () => {
    const dead = await deadUrl();
    const run = await drover(['groups', '--json', '--server', `${dead},${server.url}`], {
      env,
      cwd: dir,
    });
    assert.equal(run.code, 0, run.stderr);
    assert.ok(Array.isArray(JSON.parse(run.stdout)), run.stdout);
  });

  it('names every server it tried when none answers', async () => {
    const one = await deadUrl();
    const two = await deadUrl();
    const run = await drover(['groups', '--server', `${one},${two}`], { env, cwd: dir });
    assert.equal(run.code, 1);
    assert.match(run.stderr, new RegExp(`^No Drover server answers at ${one} or ${two}\\.`));
  });
});
