import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ArtifactRecord } from '@drover/protocol';
import type { Assignment } from '@drover/protocol';
import {
  backend,
  claimFresh,
  openTestEngine,
  readEventsUntil,
  sleep,
  tokenFor,
} from '@drover/engine/testing';
import type { TestEngine } from '@drover/engine/testing';
import { FileArtifactStore, startServer, sweepArtifacts } from '../src/index.js';
import type { DroverServer } from '../src/index.js';

const MAX = 64 * 1024;
const sha = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');

describe(`artifacts over HTTP (${backend})`, () => {
  let t: TestEngine;
  let server: DroverServer;
  let dir: string;
  /** An admin token: downloads and calls are signed in with it. */
  let token: string;

  before(async () => {
    t = await openTestEngine();
    token = await tokenFor(t.engine);
    dir = mkdtempSync(join(tmpdir(), 'drover-artifacts-'));
    server = await startServer({
      engine: t.engine,
      port: 0,
      artifactsDir: dir,
      maxArtifactBytes: MAX,
    });
  });
  after(async () => {
    await server.close();
    await t.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const claim = (items = 1): Promise<Assignment[]> => claimFresh(t.engine, items, 'artifacts');

  interface UploadOptions {
    sha256?: string;
    contentType?: string;
    authorization?: string | null;
    body?: RequestInit['body'];
  }

  function upload(a: Assignment, name: string, data: string | Buffer, options: UploadOptions = {}) {
    const headers: Record<string, string> = {
      'content-type': options.contentType ?? 'text/plain',
      'x-drover-sha256': options.sha256 ?? sha(data),
    };
    const authorization =
      options.authorization === undefined
        ? `Bearer ${a.attemptId}.${a.token}`
        : options.authorization;
    if (authorization !== null) headers.authorization = authorization;
    const url = new URL('/artifacts/upload', server.url);
    url.searchParams.set('name', name);
    return fetch(url, {
      method: 'PUT',
      headers,
      body: options.body ?? data,
      ...(options.body instanceof ReadableStream && { duplex: 'half' }),
    });
  }

  async function errorOf(response: Response): Promise<{ code: string; message: string }> {
    const body = (await response.json()) as { error: { code: string; message: string } };
    return body.error;
  }

  function download(id: string, headers: Record<string, string> = {}, query = '') {
    return fetch(`${server.url}/artifacts/${id}${query}`, {
      headers: { authorization: `Bearer ${token}`, ...headers },
    });
  }

  async function rpc(method: string, params: unknown) {
    const response = await fetch(`${server.url}/rpc`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ jsonrpc: '2.0', method, params, id: 1 }),
    });
    return (await response.json()) as {
      result?: unknown;
      error?: { code: number; data?: { code: string } };
    };
  }

  /** Every blob in the store, and whatever is left in its temporary folder. */
  function stored(): { blobs: string[]; temporary: string[] } {
    const blobs = readdirSync(dir)
      .filter((d) => /^[0-9a-f]{2}$/.test(d))
      .flatMap((d) => readdirSync(join(dir, d)))
      .sort();
    const temporary = existsSync(join(dir, 'tmp')) ? readdirSync(join(dir, 'tmp')) : [];
    return { blobs, temporary };
  }

  const text = 'The quick brown fox jumps over the lazy dog.\n';

  it('stores an upload under its sha256 for the attempt that holds the lease, and answers its record', async () => {
    const [a] = await claim();
    assert.ok(a);
    const response = await upload(a, 'notes/fox.txt', text, {
      contentType: 'text/plain; charset=utf-8',
    });
    assert.equal(response.status, 201);
    const record = ArtifactRecord.parse(await response.json());
    assert.equal(record.name, 'notes/fox.txt');
    assert.equal(record.contentType, 'text/plain; charset=utf-8');
    assert.equal(record.size, Buffer.byteLength(text));
    assert.equal(record.sha256, sha(text));
    assert.equal(record.taskId, a.task.id);
    assert.equal(record.attemptId, a.attemptId);
    assert.ok(existsSync(join(dir, record.sha256.slice(0, 2), record.sha256)));
    assert.deepEqual(stored().temporary, []);
    // An upload retried after its answer was lost gets the same record.
    const again = await upload(a, 'notes/fox.txt', text, {
      contentType: 'text/plain; charset=utf-8',
    });
    assert.equal(again.status, 200);
    assert.deepEqual(await again.json(), record);
    const other = await upload(a, 'notes/fox.txt', 'other content');
    assert.equal(other.status, 409);
    assert.equal((await errorOf(other)).code, 'DROVER_E_ARTIFACT_EXISTS');
  });

  it('serves a download by id, whole, with its type, length, name and an entity tag', async () => {
    const [a] = await claim();
    assert.ok(a);
    const record = ArtifactRecord.parse(
      await (
        await upload(a, 'reports/q"1 ü.txt', text, { contentType: 'text/plain; charset=utf-8' })
      ).json(),
    );
    const response = await download(record.id);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-type'), 'text/plain; charset=utf-8');
    assert.equal(response.headers.get('content-length'), String(Buffer.byteLength(text)));
    assert.equal(response.headers.get('accept-ranges'), 'bytes');
    assert.equal(response.headers.get('etag'), `"${record.sha256}"`);
    assert.equal(response.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(
      response.headers.get('content-disposition'),
      `attachment; filename="q_1 _.txt"; filename*=UTF-8''q%221%20%C3%BC.txt`,
    );
    assert.equal(await response.text(), text);
    const head = await fetch(`${server.url}/artifacts/${record.id}`, {
      method: 'HEAD',
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-length'), String(Buffer.byteLength(text)));
    assert.equal(await head.text(), '');
    const cached = await download(record.id, { 'if-none-match': `"${record.sha256}"` });
    assert.equal(cached.status, 304);
    // Without a token, nothing: downloads are signed in like every call.
    const anonymous = await fetch(`${server.url}/artifacts/${record.id}`);
    assert.equal(anonymous.status, 401);
    assert.equal((await errorOf(anonymous)).code, 'DROVER_E_UNAUTHORIZED');
  });

  it('serves ranges with 206 and Content-Range, and answers an unsatisfiable one with 416', async () => {
    const [a] = await claim();
    assert.ok(a);
    const bytes = Buffer.from(Array.from({ length: 1000 }, (_, i) => i % 251));
    const record = ArtifactRecord.parse(
      await (
        await upload(a, 'data.bin', bytes, { contentType: 'application/octet-stream' })
      ).json(),
    );
    const cases: [string, number, number][] = [
      ['bytes=0-9', 0, 9],
      ['bytes=990-', 990, 999],
      ['bytes=-5', 995, 999],
      ['bytes=500-5000', 500, 999],
    ];
    for (const [range, start, end] of cases) {
      const response = await download(record.id, { range });
      assert.equal(response.status, 206, range);
      assert.equal(response.headers.get('content-range'), `bytes ${start}-${end}/1000`, range);
      assert.equal(response.headers.get('content-length'), String(end - start + 1), range);
      assert.deepEqual(
        Buffer.from(await response.arrayBuffer()),
        bytes.subarray(start, end + 1),
        range,
      );
    }
    for (const range of ['bytes=1000-', 'bytes=5000-6000', 'bytes=-0']) {
      const response = await download(record.id, { range });
      assert.equal(response.status, 416, range);
      assert.equal(response.headers.get('content-range'), 'bytes */1000', range);
      await response.body?.cancel();
    }
    // Several ranges, another unit, or an If-Range for other bytes: the whole file.
    for (const headers of [
      { range: 'bytes=0-1,5-6' } as Record<string, string>,
      { range: 'items=0-1' },
      { range: 'bytes=0-1', 'if-range': '"something-else"' },
    ]) {
      const response = await download(record.id, headers);
      assert.equal(response.status, 200, JSON.stringify(headers));
      assert.equal((await response.arrayBuffer()).byteLength, 1000);
    }
  });

  it('shows images inline on request, and never a page', async () => {
    const [a] = await claim();
    assert.ok(a);
    const png = await upload(a, 'frame.png', 'not really a png', { contentType: 'image/png' });
    const html = await upload(a, 'page.html', '<script>alert(1)</script>', {
      contentType: 'text/html',
    });
    const image = ArtifactRecord.parse(await png.json());
    const page = ArtifactRecord.parse(await html.json());
    const shown = await download(image.id, {}, '?inline=1');
    assert.equal(shown.headers.get('content-disposition'), 'inline; filename="frame.png"');
    await shown.body?.cancel();
    const refused = await download(page.id, {}, '?inline=1');
    assert.equal(refused.headers.get('content-disposition'), 'attachment; filename="page.html"');
    assert.match(refused.headers.get('content-security-policy') ?? '', /sandbox/);
    await refused.body?.cancel();
  });

  it('refuses bytes whose sha256 is not the declared one with 400, storing and recording nothing', async () => {
    const [a] = await claim();
    assert.ok(a);
    const before = stored().blobs;
    const response = await upload(a, 'bad.txt', 'the bytes that arrive', {
      sha256: sha('the bytes that were meant'),
    });
    assert.equal(response.status, 400);
    assert.equal((await errorOf(response)).code, 'DROVER_E_CHECKSUM_MISMATCH');
    assert.deepEqual(await t.engine.listArtifacts({ taskId: a.task.id }), []);
    assert.deepEqual(stored(), { blobs: before, temporary: [] });
  });

  it('refuses a missing, malformed, forged, borrowed or stale credential with 401, storing and recording nothing', async () => {
    const [a, b] = await claim(2);
    assert.ok(a && b);
    const before = stored().blobs;
    const data = `secret ${a.attemptId}`;
    const credentials = [
      null,
      'Basic dXNlcjpwYXNz',
      `Bearer ${a.attemptId}`,
      `Bearer ${a.attemptId}.not-a-token`,
      `Bearer ${a.attemptId}.00000000-0000-4000-8000-000000000000`,
      `Bearer ${a.attemptId}.${b.token}`,
    ];
    for (const authorization of credentials) {
      const response = await upload(a, 'x.txt', data, { authorization });
      assert.equal(response.status, 401, String(authorization));
      assert.equal(response.headers.get('www-authenticate'), 'Bearer');
      assert.match((await errorOf(response)).code, /^DROVER_E_(UNAUTHORIZED|STALE_LEASE)$/);
    }
    // The lease of an attempt that has ended is worth nothing.
    await t.engine.complete([{ ...a, result: null }]);
    const late = await upload(a, 'x.txt', data);
    assert.equal(late.status, 401);
    assert.equal((await errorOf(late)).code, 'DROVER_E_STALE_LEASE');
    assert.deepEqual(await t.engine.listArtifacts({ taskId: a.task.id }), []);
    assert.deepEqual(stored(), { blobs: before, temporary: [] });
  });

  it('refuses an upload over the size limit with 413, whether declared or streamed, storing nothing', async () => {
    const [a] = await claim();
    assert.ok(a);
    const before = stored().blobs;
    const big = Buffer.alloc(MAX + 1, 7);
    const declared = await upload(a, 'big.bin', big);
    assert.equal(declared.status, 413);
    const error = await errorOf(declared);
    assert.equal(error.code, 'DROVER_E_TOO_LARGE');
    assert.match(error.message, new RegExp(String(MAX)));
    // Without a length up front, it is cut off as the limit is passed.
    const chunks = [big.subarray(0, MAX / 2), big.subarray(MAX / 2)];
    const streamed = await upload(a, 'big.bin', big, {
      body: new ReadableStream({
        pull(controller) {
          const next = chunks.shift();
          if (next) controller.enqueue(next);
          else controller.close();
        },
      }),
    });
    assert.equal(streamed.status, 413);
    assert.equal((await errorOf(streamed)).code, 'DROVER_E_TOO_LARGE');
    const exact = await upload(a, 'exact.bin', big.subarray(0, MAX));
    assert.equal(exact.status, 201, 'exactly the limit is allowed');
    assert.deepEqual(
      (await t.engine.listArtifacts({ taskId: a.task.id })).map((x) => x.name),
      ['exact.bin'],
    );
    assert.deepEqual(stored(), {
      blobs: [...before, sha(big.subarray(0, MAX))].sort(),
      temporary: [],
    });
  });

  it('keeps nothing of an upload whose client goes away midway', async () => {
    const [a] = await claim();
    assert.ok(a);
    const before = stored().blobs;
    const { port } = new URL(server.url);
    const socket = connect(Number(port), '127.0.0.1');
    await once(socket, 'connect');
    socket.write(
      [
        'PUT /artifacts/upload?name=cut.bin HTTP/1.1',
        `Host: 127.0.0.1:${port}`,
        `Authorization: Bearer ${a.attemptId}.${a.token}`,
        'Content-Type: application/octet-stream',
        `X-Drover-Sha256: ${sha(Buffer.alloc(10_000))}`,
        'Content-Length: 10000',
        '',
        '',
      ].join('\r\n'),
    );
    socket.write(Buffer.alloc(4000));
    await sleep(200);
    socket.destroy();
    await sleep(200);
    assert.deepEqual(await t.engine.listArtifacts({ taskId: a.task.id }), []);
    assert.deepEqual(stored(), { blobs: before, temporary: [] });
    const after = await upload(a, 'cut.bin', Buffer.alloc(10_000));
    assert.equal(after.status, 201, 'the server and the lease are fine');
  });

  it('refuses a bad name, content type or checksum header with 400', async () => {
    const [a] = await claim();
    assert.ok(a);
    for (const [name, options] of [
      ['../escape.txt', {}],
      ['/etc/passwd', {}],
      ['', {}],
      ['ok.txt', { contentType: 'not a type' }],
      ['ok.txt', { sha256: 'abc' }],
    ] as [string, UploadOptions][]) {
      const response = await upload(a, name, 'x', options);
      assert.equal(response.status, 400, `${name} ${JSON.stringify(options)}`);
      assert.equal((await errorOf(response)).code, 'DROVER_E_INVALID_PARAMS');
    }
    assert.deepEqual(await t.engine.listArtifacts({ taskId: a.task.id }), []);
  });

  it('answers an unknown or malformed id with 404', async () => {
    for (const id of ['00000000-0000-4000-8000-000000000000', 'nope', '..%2F..%2Fetc%2Fpasswd']) {
      const response = await download(id);
      assert.equal(response.status, 404, id);
      assert.equal((await errorOf(response)).code, 'DROVER_E_NOT_FOUND');
    }
  });

  it("lists and gets artifacts over JSON-RPC, and tells the job's topic", async () => {
    const [a] = await claim();
    assert.ok(a);
    const first = ArtifactRecord.parse(await (await upload(a, 'one.txt', 'one')).json());
    const second = ArtifactRecord.parse(await (await upload(a, 'two.txt', 'two')).json());
    const byJob = await rpc('artifacts.list', { jobId: a.task.jobId });
    assert.deepEqual(byJob.result, { artifacts: [first, second] });
    const byTask = await rpc('artifacts.list', { taskId: a.task.id, after: first.id });
    assert.deepEqual(byTask.result, { artifacts: [second] });
    assert.deepEqual((await rpc('artifacts.get', { id: second.id })).result, second);
    const both = await rpc('artifacts.list', { jobId: a.task.jobId, taskId: a.task.id });
    assert.equal(both.error?.code, -32602);
    const missing = await rpc('artifacts.get', { id: '00000000-0000-4000-8000-000000000000' });
    assert.equal(missing.error?.data?.code, 'DROVER_E_NOT_FOUND');
    const events = await readEventsUntil(
      t.engine,
      `job/${a.task.jobId}`,
      (e) => e.filter((x) => x.kind === 'artifact.added').length >= 2,
    );
    assert.deepEqual(
      events.filter((e) => e.kind === 'artifact.added').map((e) => e.data),
      [first, second],
    );
  });

  it('keeps a blob while any artifact has its bytes, and sweeps it once none has', async () => {
    const [a, b] = await claim(2);
    const [other] = await claim();
    assert.ok(a && b && other);
    const shared = 'bytes two jobs produced';
    const alone = 'bytes only the old job produced';
    for (const [lease, name, data] of [
      [a, 'shared.txt', shared],
      [a, 'alone.txt', alone],
      [other, 'copy.txt', shared],
    ] as const) {
      assert.equal((await upload(lease, name, data)).status, 201);
    }
    await t.engine.complete([a, b].map((x) => ({ ...x, result: null })));
    await sleep(300);
    assert.ok((await t.engine.applyRetention({ finishedJobsMs: 200 })) >= 1);
    const store = new FileArtifactStore(dir);
    // Within the grace period nothing goes: an upload may be about to record those bytes.
    assert.equal(await sweepArtifacts(t.engine, store), 0);
    const deleted = await sweepArtifacts(t.engine, store, { graceMs: 0 });
    assert.ok(deleted >= 1);
    assert.ok(!stored().blobs.includes(sha(alone)), 'the unreferenced blob is gone');
    assert.ok(stored().blobs.includes(sha(shared)), 'the shared blob stays');
    const [copy] = await t.engine.listArtifacts({ taskId: other.task.id });
    assert.ok(copy);
    assert.equal(await (await download(copy.id)).text(), shared);
  });

  it("refuses to start on another farm's artifacts directory, leaving it as it was", async () => {
    const before = stored();
    const owner = readFileSync(join(dir, 'farm-id'), 'utf8');
    const other = await openTestEngine();
    // Test engines on PGlite are copies of one template directory, identity included.
    await other.engine.database.query('UPDATE farm SET id = gen_random_uuid()');
    try {
      await assert.rejects(
        startServer({ engine: other.engine, port: 0, artifactsDir: dir }),
        /belongs to another farm/,
      );
      assert.deepEqual(stored(), before);
      assert.equal(readFileSync(join(dir, 'farm-id'), 'utf8'), owner, "still this farm's");
      // A replica of this farm (same database) may share it.
      const replica = await startServer({ engine: t.engine, port: 0, artifactsDir: dir });
      await replica.close();
    } finally {
      await other.close();
    }
  });
});
