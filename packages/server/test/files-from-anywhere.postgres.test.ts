import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ArtifactRecord } from '@drover/protocol';
import { openEngine } from '@drover/engine';
import type { Engine } from '@drover/engine';
import { claimFresh, databaseUrl, openTestEngine, sleep, tokenFor } from '@drover/engine/testing';
import type { TestEngine } from '@drover/engine/testing';
import { uploadArtifact } from '@drover/worker';
import {
  FileArtifactStore,
  replicaHttp,
  replicaStore,
  startServer,
  sweepArtifacts,
} from '../src/index.js';
import type { DroverServer } from '../src/index.js';
import { seededBytes } from './fixtures/seeded-bytes.js';

/** A port nothing listens on now. */
async function freePort(): Promise<number> {
  const probe = createNetServer().listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const address = probe.address();
  probe.close();
  assert.ok(address && typeof address === 'object');
  return address.port;
}

const sha = (data: Buffer) => createHash('sha256').update(data).digest('hex');
/** Several chunks of the streams in between: the sha256 check spans them all. */
const SIZE = 300_000;

describe('files from anywhere: replicas on one PostgreSQL database, each with its own directory', () => {
  let t: TestEngine;
  let other: Engine;
  let a: DroverServer;
  let b: DroverServer;
  let dirA: string;
  let dirB: string;
  let token: string;
  let seed = 1;

  before(async () => {
    t = await openTestEngine();
    other = await openEngine({ databaseUrl, schema: t.schema });
    token = await tokenFor(t.engine);
    dirA = mkdtempSync(join(tmpdir(), 'drover-replica-a-'));
    dirB = mkdtempSync(join(tmpdir(), 'drover-replica-b-'));
    a = await startServer({ engine: t.engine, port: 0, artifactsDir: dirA });
    b = await startServer({ engine: other, port: 0, artifactsDir: dirB });
  });
  after(async () => {
    await a.close();
    await b.close();
    await other.close();
    await t.close();
    rmSync(dirA, { recursive: true, force: true });
    rmSync(dirB, { recursive: true, force: true });
  });

  /** A worker's upload through `server` of bytes no other test has. */
  async function store(server: { url: string }, name = 'frame.bin') {
    const data = seededBytes(seed++, SIZE);
    const [lease] = await claimFresh(t.engine);
    assert.ok(lease);
    const artifact = await uploadArtifact({ serverUrl: server.url, lease, name, data });
    return { artifact, data, lease };
  }

  function download(server: DroverServer, artifact: ArtifactRecord, headers = {}, method = 'GET') {
    return fetch(`${server.url}/artifacts/${artifact.id}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...headers },
    });
  }

  const blobIn = (dir: string, sha256: string) => join(dir, sha256.slice(0, 2), sha256);

  async function until(what: string, check: () => boolean | Promise<boolean>) {
    const deadline = Date.now() + 10_000;
    while (!(await check())) {
      assert.ok(Date.now() < deadline, what);
      await sleep(20);
    }
  }

  it('serves through one replica the whole file a worker stored through another, and keeps a checked copy', async () => {
    const { artifact, data } = await store(a);
    assert.ok(existsSync(blobIn(dirA, artifact.sha256)));
    assert.ok(!existsSync(blobIn(dirB, artifact.sha256)), 'the bytes are only on replica A');
    const response = await download(b, artifact);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-length'), String(SIZE));
    assert.equal(response.headers.get('etag'), `"${artifact.sha256}"`);
    const body = Buffer.from(await response.arrayBuffer());
    assert.equal(sha(body), artifact.sha256);
    assert.ok(body.equals(data));
    // B keeps what it fetched, checked: the next download is local, and outlives A.
    await until('replica B keeps a copy', () => existsSync(blobIn(dirB, artifact.sha256)));
    const holders = await t.engine.blobHolders(artifact.sha256, randomUUID());
    assert.deepEqual(holders.map((h) => h.url).sort(), [a.url, b.url].sort());
  });

  it('passes a byte range through (206 with Content-Range) and answers HEAD with the size', async () => {
    const { artifact, data } = await store(a);
    const part = await download(b, artifact, { range: 'bytes=70000-140001' });
    assert.equal(part.status, 206);
    assert.equal(part.headers.get('content-range'), `bytes 70000-140001/${SIZE}`);
    assert.equal(part.headers.get('content-length'), '70002');
    assert.ok(Buffer.from(await part.arrayBuffer()).equals(data.subarray(70000, 140002)));
    const tail = await download(b, artifact, { range: 'bytes=-100' });
    assert.equal(tail.status, 206);
    assert.ok(Buffer.from(await tail.arrayBuffer()).equals(data.subarray(SIZE - 100)));
    const outside = await download(b, artifact, { range: `bytes=${SIZE}-` });
    assert.equal(outside.status, 416);
    assert.equal(outside.headers.get('content-range'), `bytes */${SIZE}`);
    const head = await download(b, artifact, {}, 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-length'), String(SIZE));
    assert.equal(head.headers.get('accept-ranges'), 'bytes');
    assert.equal((await head.arrayBuffer()).byteLength, 0);
    // A part is not the file: only a whole, checked blob is kept.
    assert.ok(!existsSync(blobIn(dirB, artifact.sha256)));
  });

  it('cuts short, and never keeps, bytes that are not the sha256 recorded', async () => {
    const { artifact, data } = await store(a);
    // The blob on A is damaged on its disk: same size, one byte changed near the start.
    const damaged = Buffer.from(data);
    damaged[10] = (damaged[10] ?? 0) ^ 0xff;
    writeFileSync(blobIn(dirA, artifact.sha256), damaged);
    const response = await download(b, artifact);
    assert.equal(response.status, 200, 'the headers went before the bytes were all checked');
    await assert.rejects(response.arrayBuffer(), 'the answer ends short of its length');
    await sleep(200);
    assert.ok(!existsSync(blobIn(dirB, artifact.sha256)), 'no copy of the damaged bytes');
    // Nor is a second try served as good.
    await assert.rejects((await download(b, artifact)).arrayBuffer());
    // The replica's store says why, in the server's log.
    const logged: unknown[] = [];
    const copies = mkdtempSync(join(tmpdir(), 'drover-replica-c-'));
    const peers = replicaStore({
      engine: other,
      serverId: b.hub.serverId,
      local: new FileArtifactStore(copies),
      secret: await other.replicaSecret(),
      onError: (error: unknown) => logged.push(error),
    });
    const blob = await peers.open(artifact.sha256);
    assert.equal(blob?.size, SIZE);
    const chunks: Buffer[] = [];
    await assert.rejects(
      async () => {
        for await (const chunk of blob.stream()) chunks.push(chunk as Buffer);
      },
      { code: 'DROVER_E_CHECKSUM_MISMATCH' },
    );
    assert.ok(Buffer.concat(chunks).length < SIZE, 'the last bytes were held back');
    assert.deepEqual(
      logged.map((e) => (e as { code?: string }).code),
      ['DROVER_E_CHECKSUM_MISMATCH'],
    );
    rmSync(copies, { recursive: true, force: true });
  });

  it('keeps the replicas’ route to replicas alone: a client’s token, a lease or no secret is refused', async () => {
    const { artifact } = await store(a);
    const [lease] = await claimFresh(t.engine);
    assert.ok(lease);
    const url = `${a.url}${replicaHttp.blobPath(artifact.sha256)}`;
    for (const headers of [
      {} as Record<string, string>,
      { authorization: `Bearer ${token}` },
      { authorization: `Bearer ${lease.attemptId}.${lease.token}` },
      { [replicaHttp.secretHeader]: token },
      { [replicaHttp.secretHeader]: '' },
    ]) {
      const response = await fetch(url, { headers });
      assert.equal(response.status, 401, JSON.stringify(headers));
      const body = (await response.json()) as { error: { code: string } };
      assert.equal(body.error.code, 'DROVER_E_UNAUTHORIZED');
    }
    const secret = await t.engine.replicaSecret();
    const served = await fetch(url, { headers: { [replicaHttp.secretHeader]: secret } });
    assert.equal(served.status, 200);
    assert.equal(sha(Buffer.from(await served.arrayBuffer())), artifact.sha256);
    const missing = await fetch(`${a.url}${replicaHttp.blobPath('0'.repeat(64))}`, {
      headers: { [replicaHttp.secretHeader]: secret },
    });
    assert.equal(missing.status, 404);
  });

  it('answers 503 at once when the replica holding the bytes does not answer', async () => {
    const { artifact } = await store(b);
    // A replica that registered and stored the bytes, then went silent before its peers swept it.
    const silent = randomUUID();
    await t.engine.registerServer({ id: silent, url: 'http://127.0.0.1:9', host: 'h', pid: 1 });
    await t.engine.recordBlobLocations(silent, [artifact.sha256]);
    rmSync(blobIn(dirB, artifact.sha256));
    const started = Date.now();
    const response = await download(a, artifact);
    assert.equal(response.status, 503);
    const body = (await response.json()) as { error: { code: string; message: string } };
    assert.equal(body.error.code, 'DROVER_E_ARTIFACT_UNAVAILABLE');
    assert.match(body.error.message, /do(es)? not answer/);
    assert.ok(!body.error.message.includes('127.0.0.1:9'), 'no server address for clients');
    assert.ok(Date.now() - started < 5000, 'no hang');
    await t.engine.unregisterServer(silent);
  });

  it('sweeps each replica’s own unreferenced blobs and forgets where they were', async () => {
    const { artifact, lease } = await store(a);
    await t.engine.complete([{ ...lease, result: null }]);
    await sleep(300);
    assert.ok((await t.engine.applyRetention({ finishedJobsMs: 200 })) >= 1);
    const sweeping = replicaStore({
      engine: t.engine,
      serverId: a.hub.serverId,
      local: new FileArtifactStore(dirA),
      secret: await t.engine.replicaSecret(),
      onError: (error: unknown) => assert.fail(error as Error),
    });
    assert.ok((await sweepArtifacts(t.engine, sweeping, { graceMs: 0 })) >= 1);
    assert.ok(!existsSync(blobIn(dirA, artifact.sha256)));
    assert.deepEqual(await t.engine.blobHolders(artifact.sha256, randomUUID()), []);
  });

  it('reaches a replica at the URL it advertises, which it answers to whatever names it allows', async () => {
    const port = await freePort();
    const dirE = mkdtempSync(join(tmpdir(), 'drover-replica-e-'));
    // On every interface, answering only to its public name and the one it advertises.
    const engineE = await openEngine({ databaseUrl, schema: t.schema });
    const e = await startServer({
      engine: engineE,
      host: '0.0.0.0',
      port,
      allowedHosts: ['farm.example'],
      advertiseUrl: `http://127.0.0.1:${port}`,
      artifactsDir: dirE,
    });
    try {
      const { artifact, data } = await store({ url: `http://127.0.0.1:${port}` });
      const holders = await t.engine.blobHolders(artifact.sha256, randomUUID());
      assert.deepEqual(
        holders.map((h) => h.url),
        [`http://127.0.0.1:${port}`],
      );
      const response = await download(b, artifact);
      assert.equal(response.status, 200);
      assert.ok(Buffer.from(await response.arrayBuffer()).equals(data));
    } finally {
      await e.close();
      await engineE.close();
      rmSync(dirE, { recursive: true, force: true });
    }
  });

  it('after the replica that stored a file stops, says so (503); it serves again once that one is back', async () => {
    const kept = await store(a);
    assert.equal((await download(b, kept.artifact)).status, 200);
    await until('replica B keeps a copy', () => existsSync(blobIn(dirB, kept.artifact.sha256)));
    const { artifact, data } = await store(a);
    await a.close();
    const response = await download(b, artifact);
    assert.equal(response.status, 503);
    const body = (await response.json()) as { error: { code: string; message: string } };
    assert.equal(body.error.code, 'DROVER_E_ARTIFACT_UNAVAILABLE');
    assert.match(body.error.message, /stopped/);
    // What B fetched before is B's own now.
    const copy = await download(b, kept.artifact);
    assert.ok(Buffer.from(await copy.arrayBuffer()).equals(kept.data));
    // A starts again on its directory (a new replica id): it tells the farm what it holds.
    a = await startServer({ engine: t.engine, port: 0, artifactsDir: dirA });
    await until('replica A announced its blobs', async () => {
      return (await t.engine.blobHolders(artifact.sha256, b.hub.serverId)).length > 0;
    });
    const again = await download(b, artifact);
    assert.equal(again.status, 200);
    assert.ok(Buffer.from(await again.arrayBuffer()).equals(data));
  });
});

describe('files from anywhere: replicas sharing one directory', () => {
  let t: TestEngine;
  let other: Engine;
  let c: DroverServer;
  let d: DroverServer;
  let dir: string;
  let token: string;
  let stopped = false;

  before(async () => {
    t = await openTestEngine();
    other = await openEngine({ databaseUrl, schema: t.schema });
    token = await tokenFor(t.engine);
    dir = mkdtempSync(join(tmpdir(), 'drover-shared-'));
    c = await startServer({ engine: t.engine, port: 0, artifactsDir: dir });
    d = await startServer({ engine: other, port: 0, artifactsDir: dir });
  });
  after(async () => {
    if (!stopped) await c.close();
    await d.close();
    await other.close();
    await t.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves through every replica what was stored through one, even once that one stopped', async () => {
    const data = seededBytes(99, SIZE);
    const [lease] = await claimFresh(t.engine);
    assert.ok(lease);
    const artifact = await uploadArtifact({ serverUrl: c.url, lease, name: 'x.bin', data });
    await c.close();
    stopped = true;
    const headers = { authorization: `Bearer ${token}` };
    const whole = await fetch(`${d.url}/artifacts/${artifact.id}`, { headers });
    assert.equal(whole.status, 200);
    assert.ok(Buffer.from(await whole.arrayBuffer()).equals(data));
    const part = await fetch(`${d.url}/artifacts/${artifact.id}`, {
      headers: { ...headers, range: 'bytes=5-9' },
    });
    assert.equal(part.status, 206);
    assert.ok(Buffer.from(await part.arrayBuffer()).equals(data.subarray(5, 10)));
  });
});
