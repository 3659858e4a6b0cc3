// A worker's identity from its state directory: a default name per live process that survives
// restarts, and a named one that a second process on the machine cannot take.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { claimIdentity } from '../src/index.js';

const server = 'http://farm.example:7400';

describe('worker identities', () => {
  const stateDir = mkdtempSync(join(tmpdir(), 'drover-identity-'));
  after(() => rmSync(stateDir, { recursive: true, force: true }));

  it('gives workers side by side two names, and a restarted one its own name back', () => {
    const first = claimIdentity({ stateDir, server, host: 'render01' });
    const second = claimIdentity({ stateDir, server, host: 'render01' });
    assert.match(first.name, /^render01-[0-9a-f]{4}$/);
    assert.match(second.name, /^render01-[0-9a-f]{4}$/);
    assert.notEqual(first.name, second.name);
    assert.notEqual(first.instance, second.instance);
    assert.equal(statSync(first.file).mode & 0o777, 0o600, 'the secret is its owner’s only');

    first.release();
    const again = claimIdentity({ stateDir, server, host: 'render01' });
    assert.deepEqual([again.name, again.instance], [first.name, first.instance]);
    again.release();
    second.release();
  });

  it('refuses a name a live process on this machine holds for the same farm', () => {
    const held = claimIdentity({ stateDir, server, name: 'gpu-1' });
    assert.throws(
      () => claimIdentity({ stateDir, server, name: 'gpu-1' }),
      /Another worker on this machine runs as gpu-1 \(pid \d+\)/,
    );
    // Another farm's gpu-1 is another worker.
    const elsewhere = claimIdentity({ stateDir, server: 'http://other:7400', name: 'gpu-1' });
    assert.notEqual(elsewhere.instance, held.instance);
    elsewhere.release();
    held.release();
    const back = claimIdentity({ stateDir, server, name: 'gpu-1' });
    assert.equal(back.instance, held.instance, 'the same worker restarted proves it is itself');
    back.release();
  });

  it('takes over what a process that is gone left locked', () => {
    const held = claimIdentity({ stateDir, server, name: 'crashed' });
    const lockFile = held.file.replace(/\.json$/, '.pid');
    // A pid that was alive and is gone now: as a worker killed with SIGKILL leaves it.
    const gone = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], {
      encoding: 'utf8',
    });
    writeFileSync(lockFile, gone.stdout.trim());
    const back = claimIdentity({ stateDir, server, name: 'crashed' });
    assert.equal(back.instance, held.instance);
    assert.equal(readFileSync(lockFile, 'utf8'), String(process.pid));
    back.release();
  });
});
