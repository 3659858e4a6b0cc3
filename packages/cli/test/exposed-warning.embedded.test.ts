// A server that other machines can reach says that its tokens and cookies cross the network in
// the clear until HTTPS is in front of it; one on 127.0.0.1 does not.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';

const cli = new URL('../src/main.js', import.meta.url).pathname;
const dirs: string[] = [];

/** Starts `drover server` on `host`; resolves with its stderr once it listens, then stops it. */
async function stderrOf(host: string, extra: string[] = []): Promise<string> {
  const dataDir = mkdtempSync(join(tmpdir(), 'drover-exposed-'));
  dirs.push(dataDir);
  const child = spawn(
    process.execPath,
    [cli, 'server', '--host', host, '--port', '0', '--data-dir', dataDir, ...extra],
    { cwd: dataDir, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, DROVER_TOKEN: '' } },
  );
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (stdout.includes('Drover server at')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`exited ${code}: ${stderr}`)));
  });
  child.kill('SIGTERM');
  await exited;
  return stderr;
}

describe('drover server on an address other machines reach', { timeout: 120_000 }, () => {
  after(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('warns that tokens and session cookies cross the network in the clear without HTTPS', async () => {
    const stderr = await stderrOf('0.0.0.0');
    assert.match(stderr, /warning: listening on 0\.0\.0\.0, where other machines can reach/);
    assert.match(stderr, /tokens and session cookies cross the network in the clear/);
    assert.match(stderr, /serve HTTPS/);
    assert.match(stderr, /docs\/security\.md/);
    assert.doesNotMatch(stderr, /no login/, 'every call needs a token now');
  });

  it('says nothing of the kind when it serves HTTPS itself', async () => {
    const fixtures = new URL('../../../server/test/fixtures/', import.meta.url).pathname;
    const tls = [
      '--tls-cert',
      `${fixtures}localhost-cert.pem`,
      '--tls-key',
      `${fixtures}localhost-key.pem`,
    ];
    assert.doesNotMatch(await stderrOf('0.0.0.0', tls), /warning/);
  });

  it('says nothing of the kind on 127.0.0.1', async () => {
    assert.doesNotMatch(await stderrOf('127.0.0.1'), /warning/);
  });
});
