import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { fetchBlob } from '../src/index.js';
import { seededBytes } from './fixtures/seeded-bytes.js';

const data = seededBytes(7, 200_000);
const sha256 = createHash('sha256').update(data).digest('hex');

async function read(body: AsyncIterable<unknown>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

describe('fetchBlob: a blob streamed from another server', () => {
  let server: Server;
  let base: string;
  const seen: (string | undefined)[] = [];

  before(async () => {
    // A plain HTTP server: /good has the bytes, /bad others of the same size, /slow never answers.
    server = createServer((request, response) => {
      seen.push(request.headers['x-secret'] as string | undefined);
      const path = request.url ?? '';
      if (path === '/slow') return;
      if (path === '/broken') {
        response.writeHead(500).end('broken');
        return;
      }
      if (path !== '/good' && path !== '/bad') {
        response.writeHead(404).end();
        return;
      }
      const bytes = Buffer.from(data);
      if (path === '/bad') bytes[150_000] = (bytes[150_000] ?? 0) ^ 1;
      const range = /^bytes=(\d+)-(\d+)$/.exec(request.headers.range ?? '');
      if (range) {
        const [start, end] = [Number(range[1]), Number(range[2])];
        response.writeHead(206, {
          'content-length': end - start + 1,
          'content-range': `bytes ${start}-${end}/${bytes.length}`,
        });
        response.end(bytes.subarray(start, end + 1));
        return;
      }
      response.writeHead(200, { 'content-length': bytes.length });
      response.end(request.method === 'HEAD' ? undefined : bytes);
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const address = server.address();
    assert.ok(address && typeof address === 'object');
    base = `http://127.0.0.1:${address.port}`;
  });
  after(() => {
    server.closeAllConnections();
    server.close();
  });

  it('streams the whole blob with its credential header, checked against its sha256', async () => {
    const blob = await fetchBlob({ url: `${base}/good`, sha256, headers: { 'x-secret': 's' } });
    assert.equal(blob?.size, data.length);
    assert.ok((await read(blob.body)).equals(data));
    assert.equal(seen.at(-1), 's');
    const head = await fetchBlob({ url: `${base}/good`, sha256, method: 'HEAD' });
    assert.equal(head?.size, data.length);
    assert.equal((await read(head.body)).length, 0);
  });

  it('ends the stream short with DROVER_E_CHECKSUM_MISMATCH when the bytes are not the sha256', async () => {
    const blob = await fetchBlob({ url: `${base}/bad`, sha256 });
    assert.ok(blob);
    const chunks: Buffer[] = [];
    await assert.rejects(
      async () => {
        for await (const chunk of blob.body) chunks.push(chunk as Buffer);
      },
      { code: 'DROVER_E_CHECKSUM_MISMATCH' },
    );
    assert.ok(Buffer.concat(chunks).length < data.length, 'the last chunk never went out');
  });

  it('passes a range through, unchecked, with the whole size', async () => {
    const blob = await fetchBlob({ url: `${base}/bad`, sha256, range: { start: 10, end: 19 } });
    assert.equal(blob?.size, data.length);
    assert.ok((await read(blob.body)).equals(data.subarray(10, 20)));
  });

  it('resolves to undefined on 404, and rejects on another answer or none in time', async () => {
    assert.equal(await fetchBlob({ url: `${base}/missing`, sha256 }), undefined);
    await assert.rejects(fetchBlob({ url: `${base}/broken`, sha256 }), /answered 500/);
    const started = Date.now();
    await assert.rejects(fetchBlob({ url: `${base}/slow`, sha256, timeoutMs: 300 }), /within 300/);
    assert.ok(Date.now() - started < 3000);
  });
});
