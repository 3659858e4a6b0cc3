// `drover server --tls-cert --tls-key` serves HTTPS; commands reach it with --ca-file, and say
// what to do without it.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ChildProcess } from 'node:child_process';

const cli = new URL('../src/main.js', import.meta.url).pathname;
const fixtures = new URL('../../../server/test/fixtures/', import.meta.url).pathname;
const cert = `${fixtures}localhost-cert.pem`;
const key = `${fixtures}localhost-key.pem`;

function drover(args: string[]) {
  return spawnSync(process.execPath, [cli, ...args], {
    encoding: 'utf8',
    timeout: 30_000,
    env: { ...process.env, DROVER_TOKEN: '' },
  });
}

describe('drover over HTTPS', { timeout: 120_000 }, () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'drover-tls-'));
  let server: ChildProcess;
  let url = '';
  before(async () => {
    server = spawn(
      process.execPath,
      [cli, 'server', '--port', '0', '--data-dir', dataDir, '--tls-cert', cert, '--tls-key', key],
      { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, DROVER_TOKEN: '' } },
    );
    url = await new Promise<string>((resolve, reject) => {
      let out = '';
      server.stdout?.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        const at = /Drover server at (\S+)/.exec(out);
        if (at?.[1] && out.includes('open the dashboard')) resolve(at[1]);
      });
      server.once('exit', (code) => reject(new Error(`the server exited ${code}`)));
    });
  });
  after(() => {
    server.kill('SIGTERM');
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('serves https and prints an https sign-in link', () => {
    assert.match(url, /^https:\/\/127\.0\.0\.1:\d+$/);
  });

  it('answers a command given the certificate authority', () => {
    const listed = drover(['groups', '--server', url, '--data-dir', dataDir, '--ca-file', cert]);
    assert.equal(listed.status, 0, listed.stderr);
  });

  it('tells a command without it what to give', () => {
    const refused = drover(['groups', '--server', url, '--data-dir', dataDir]);
    assert.equal(refused.status, 1);
    assert.match(refused.stderr, /needs --ca-file FILE/);
  });

  it('refuses half a TLS configuration, and a CA file that is not one', () => {
    const half = drover(['server', '--port', '0', '--data-dir', dataDir, '--tls-cert', cert]);
    assert.equal(half.status, 1);
    assert.match(half.stderr, /both --tls-cert FILE and --tls-key FILE/);
    const notCa = drover(['groups', '--server', url, '--data-dir', dataDir, '--ca-file', cli]);
    assert.equal(notCa.status, 1);
    assert.match(notCa.stderr, /holds no PEM certificate/);
  });
});
