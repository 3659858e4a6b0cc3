// The worker token never travels on a command line, where every user of the machine can read it
// (ps, /proc/<pid>/cmdline): --token is refused with advice, --token-file and DROVER_TOKEN work.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { DroverError } from '@drover/protocol';
import { loadConfig } from '../src/config.js';

const cli = new URL('../src/main.js', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'drover-token-'));
/** An empty config file, so that no drover.json of whoever runs the tests is read. */
const noFile = join(dir, 'empty.json');
writeFileSync(noFile, '{}');

describe('the worker token', () => {
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('is refused on the command line, with what to do instead', () => {
    assert.throws(
      () => loadConfig({ flags: { token: 'a-secret-token' }, env: {}, file: noFile }),
      (error: unknown) =>
        error instanceof DroverError &&
        error.code === 'DROVER_E_INVALID_PARAMS' &&
        /--token-file/.test(error.message) &&
        /DROVER_TOKEN/.test(error.message) &&
        !error.message.includes('a-secret-token'),
    );
  });

  it('comes from DROVER_TOKEN or from the first line of --token-file', () => {
    const fromEnv = loadConfig({ flags: {}, env: { DROVER_TOKEN: 'from-the-env' }, file: noFile });
    assert.equal(fromEnv.token, 'from-the-env');
    const file = join(dir, 'worker-token');
    writeFileSync(file, 'from-the-file\nignored\n', { mode: 0o600 });
    const fromFile = loadConfig({ flags: { 'token-file': file }, env: {}, file: noFile });
    assert.equal(fromFile.token, 'from-the-file');
  });

  it('says so when the token file is missing or holds no token', () => {
    assert.throws(
      () => loadConfig({ flags: { 'token-file': join(dir, 'nope') }, env: {}, file: noFile }),
      /Cannot read the token file/,
    );
    const empty = join(dir, 'empty');
    writeFileSync(empty, '\n');
    assert.throws(
      () => loadConfig({ flags: { 'token-file': empty }, env: {}, file: noFile }),
      /does not start with a token/,
    );
  });

  it('makes `drover worker --token` exit with that advice, before connecting anywhere', () => {
    const run = spawnSync(
      process.execPath,
      [cli, 'worker', '--server', 'http://127.0.0.1:9', '--token', 'a-secret-token'],
      { encoding: 'utf8', cwd: dir, timeout: 30_000 },
    );
    assert.notEqual(run.status, 0);
    assert.match(run.stderr, /--token-file FILE or the DROVER_TOKEN environment variable/);
  });
});
