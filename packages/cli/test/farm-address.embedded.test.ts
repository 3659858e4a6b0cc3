// Commands find the farm of their data directory whatever port it serves on: `drover up` and
// `drover server` write the address they serve on there, and commands without --server read it.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { drover } from './run-drover.js';

const cli = new URL('../src/main.js', import.meta.url).pathname;

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('finding the farm of a data directory', () => {
  let dir: string;
  let dataDir: string;
  let port: number;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'drover-address-'));
    dataDir = join(dir, 'data');
    writeFileSync(join(dir, 'drover.json'), '{}');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('reaches a server moved with DROVER_PORT without being told where, until it stops', async () => {
    port = await freePort();
    const server = spawn(process.execPath, [cli, 'server', '--data-dir', dataDir], {
      cwd: dir,
      env: { ...process.env, DROVER_PORT: String(port) },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = new Promise((resolve) => server.once('exit', resolve));
    try {
      await new Promise<void>((resolve, reject) => {
        server.stdout.setEncoding('utf8').on('data', (chunk: string) => {
          if (chunk.includes('Drover server at')) resolve();
        });
        server.once('exit', (code) => reject(new Error(`drover server exited with ${code}`)));
      });
      const address = JSON.parse(readFileSync(join(dataDir, 'server.json'), 'utf8')) as {
        url: string;
      };
      assert.equal(address.url, `http://127.0.0.1:${port}`);

      const found = await drover(['workers', 'ls', '--data-dir', dataDir], { cwd: dir });
      assert.equal(found.code, 0, found.stderr);
      assert.match(found.stdout, /no workers have joined/);

      const noScheme = await drover(
        ['workers', 'ls', '--data-dir', dataDir, '--server', `127.0.0.1:${port}`],
        { cwd: dir },
      );
      assert.equal(noScheme.code, 0, noScheme.stderr);
    } finally {
      server.kill('SIGINT');
      await exited;
    }
    assert.equal(existsSync(join(dataDir, 'server.json')), false, 'removed when it stopped');
    // With no farm's address, the default: this port on this machine, where none answers now.
    const gone = await drover(['workers', 'ls', '--data-dir', dataDir], {
      cwd: dir,
      env: { DROVER_PORT: String(port) },
    });
    assert.equal(gone.code, 1);
    assert.match(
      gone.stderr,
      new RegExp(
        `^No Drover server answers at http://127\\.0\\.0\\.1:${port} \\(no farm has written its address in `,
        'm',
      ),
    );
  });

  it('says a host name is unknown, rather than that no server answers there', async () => {
    const run = await drover(
      ['workers', 'ls', '--data-dir', dataDir, '--server', 'no-such-host.invalid:7400'],
      { cwd: dir },
    );
    assert.equal(run.code, 1);
    assert.match(run.stderr, /host name "no-such-host\.invalid" .* is not known here/);
  });
});
