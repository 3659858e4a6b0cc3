// A token (a worker's or any command's, to sign in with) never travels on a command line, where
// every user of the machine can read it (ps, /proc/<pid>/cmdline): --token is refused with
// advice, --token-file and DROVER_TOKEN work. Without one, a command on the farm's own machine
// signs in with the local admin credential in the data directory, and sends it nowhere else.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { DroverError } from '@drover/protocol';
import { loadConfig } from '../src/config.js';
import { clientToken } from '../src/credentials.js';

const cli = new URL('../src/main.js', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'drover-token-'));
/** An empty config file, so that no drover.json of whoever runs the tests is read. */
const noFile = join(dir, 'empty.json');
writeFileSync(noFile, '{}');

describe('the token a command or worker signs in with', () => {
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

  it('makes `drover worker --token` and `drover jobs --token` exit with that advice, before connecting anywhere', () => {
    for (const command of ['worker', 'jobs']) {
      const run = spawnSync(
        process.execPath,
        [cli, command, '--server', 'http://127.0.0.1:9', '--token', 'a-secret-token'],
        { encoding: 'utf8', cwd: dir, timeout: 30_000 },
      );
      assert.notEqual(run.status, 0, command);
      assert.match(run.stderr, /--token-file FILE or the DROVER_TOKEN environment variable/);
      assert.doesNotMatch(run.stderr, /No Drover server answers/, `${command} connected nowhere`);
    }
  });

  it('is, when none is given, the local admin credential for a server on this machine only', () => {
    const dataDir = join(dir, 'farm');
    const local = { server: ['http://127.0.0.1:7400'], dataDir };
    assert.equal(clientToken(local), undefined, 'no credential kept yet');
    mkdirSync(dataDir);
    writeFileSync(join(dataDir, 'admin-token'), 'the-local-admin\n', { mode: 0o600 });
    assert.equal(clientToken(local), 'the-local-admin');
    assert.equal(clientToken({ ...local, server: ['http://localhost:7400'] }), 'the-local-admin');
    assert.equal(
      clientToken({ ...local, server: ['http://[::1]:7400', 'http://127.0.0.1:7401'] }),
      'the-local-admin',
    );
    assert.equal(
      clientToken({ ...local, server: ['http://farm.example:7400'] }),
      undefined,
      'never sent to another machine',
    );
    assert.equal(
      clientToken({ ...local, server: ['http://127.0.0.1:7400', 'http://farm.example:7400'] }),
      undefined,
      'nor to a farm one of whose servers is on another machine',
    );
    assert.equal(
      clientToken({ ...local, token: 'given-token' }),
      'given-token',
      'a given one wins',
    );
    assert.equal(
      clientToken({ server: ['http://farm.example:7400'], dataDir, token: 'given-token' }),
      'given-token',
    );
  });
});
