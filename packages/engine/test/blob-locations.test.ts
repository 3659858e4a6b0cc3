import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { backend, openTestEngine, sleep } from './harness.js';
import type { TestEngine } from './harness.js';

const sha = (text: string) => createHash('sha256').update(text).digest('hex');

describe(`blob locations (${backend})`, () => {
  let t: TestEngine;
  before(async () => {
    t = await openTestEngine();
  });
  after(async () => {
    await t.close();
  });

  const replica = async (url: string) => {
    const id = randomUUID();
    await t.engine.registerServer({ id, url, host: 'h', pid: 1 });
    return id;
  };

  it('names the other replicas that hold a blob, and forgets those swept as dead or stopped', async () => {
    const [a, b, c] = [await replica('http://a'), await replica('http://b'), await replica('')];
    const blob = sha(randomUUID());
    await t.engine.recordBlobLocations(a, [blob, blob]);
    await t.engine.recordBlobLocations(b, [blob]);
    await t.engine.recordBlobLocations(c, [blob]);
    const holders = await t.engine.blobHolders(blob, b);
    // Not the replica asking, nor one that does not yet know where it listens.
    assert.deepEqual(holders, [{ serverId: a, url: 'http://a' }]);
    assert.deepEqual(
      (await t.engine.blobHolders(blob, c)).map((h) => h.serverId).sort(),
      [a, b].sort(),
    );

    // a and c go silent and are swept by b; then b stops in order.
    await sleep(50);
    await t.engine.heartbeatServer(b);
    assert.deepEqual((await t.engine.sweepServers(b, 30)).servers.sort(), ['', 'http://a']);
    assert.deepEqual(await t.engine.blobHolders(blob, b), []);
    assert.deepEqual(
      (await t.engine.blobHolders(blob, randomUUID())).map((h) => h.url),
      ['http://b'],
    );
    await t.engine.unregisterServer(b);
    assert.deepEqual(await t.engine.blobHolders(blob, randomUUID()), []);

    // A replica taken for dead records nothing until it registers again.
    await t.engine.recordBlobLocations(a, [blob]);
    assert.deepEqual(await t.engine.blobHolders(blob, randomUUID()), []);
    await t.engine.registerServer({ id: a, url: 'http://a', host: 'h', pid: 1 });
    await t.engine.recordBlobLocations(a, [blob]);
    assert.deepEqual(
      (await t.engine.blobHolders(blob, randomUUID())).map((h) => h.url),
      ['http://a'],
    );
    await t.engine.unregisterServer(a);
  });

  it('forgets a deleted blob, unless it was stored again since', async () => {
    const [a, b] = [await replica('http://a'), await replica('http://b')];
    const blob = sha(randomUUID());
    await t.engine.recordBlobLocations(a, [blob]);
    await t.engine.recordBlobLocations(b, [blob]);
    // The sweep judged the blob before b stored it again.
    const judged = new Date();
    await sleep(20);
    await t.engine.recordBlobLocations(b, [blob]);
    await t.engine.forgetBlobLocations(blob, judged);
    assert.deepEqual(
      (await t.engine.blobHolders(blob, randomUUID())).map((h) => h.url),
      ['http://b'],
    );
    await t.engine.forgetBlobLocations(blob, new Date(Date.now() + 60_000));
    assert.deepEqual(await t.engine.blobHolders(blob, randomUUID()), []);
    await t.engine.unregisterServer(a);
    await t.engine.unregisterServer(b);
  });

  it('refuses a malformed sha256 or server id and records nothing', async () => {
    const a = await replica('http://a');
    await assert.rejects(t.engine.recordBlobLocations(a, ['../etc/passwd']), {
      code: 'DROVER_E_INVALID_PARAMS',
    });
    await assert.rejects(t.engine.recordBlobLocations('a', [sha('x')]), {
      code: 'DROVER_E_INVALID_PARAMS',
    });
    await assert.rejects(t.engine.blobHolders('ABC', a), { code: 'DROVER_E_INVALID_PARAMS' });
    assert.deepEqual(await t.engine.blobHolders(sha('x'), randomUUID()), []);
    await t.engine.unregisterServer(a);
  });

  it('keeps one secret for the farm, the same however often it is read', async () => {
    const secret = await t.engine.replicaSecret();
    assert.match(secret, /^[0-9a-f]{64}$/);
    assert.equal(await t.engine.replicaSecret(), secret);
  });
});
