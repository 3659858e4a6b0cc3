// The server serving HTTPS and WSS itself (`tls`), and what trusts it: workers and clients given
// its certificate authority, and nothing else.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { Worker, defineTask, trustFor } from '@drover/worker';
import { z } from 'zod';
import { backend, openTestEngine, tokenFor, uniqueType } from '@drover/engine/testing';
import type { TestEngine } from '@drover/engine/testing';
import { startServer } from '../src/index.js';
import type { DroverServer } from '../src/index.js';

const fixtures = new URL('../../test/fixtures/', import.meta.url);
/** A self-signed certificate for localhost and 127.0.0.1, valid for a hundred years. */
const cert = readFileSync(new URL('localhost-cert.pem', fixtures), 'utf8');
const key = readFileSync(new URL('localhost-key.pem', fixtures), 'utf8');

describe(`HTTPS and WSS (${backend})`, () => {
  let t: TestEngine;
  let server: DroverServer;
  let token: string;
  before(async () => {
    t = await openTestEngine();
    server = await startServer({ engine: t.engine, port: 0, tls: { cert, key } });
    token = await tokenFor(t.engine);
  });
  after(async () => {
    await server.close();
    await t.close();
  });

  it('serves https, and only to clients that trust its authority', async () => {
    assert.match(server.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    const trust = trustFor(cert);
    assert.equal((await trust.fetch(`${server.url}/healthz`)).status, 200);
    await assert.rejects(fetch(`${server.url}/healthz`), /fetch failed/);
    // Plain HTTP on the same port gets nothing served.
    const plain = await fetch(`${server.url.replace('https', 'http')}/healthz`).then(
      (r) => r.status,
      () => 'refused',
    );
    assert.notEqual(plain, 200);
  });

  it('runs a worker and a client over wss, uploads and downloads included', async () => {
    const type = uniqueType('tls');
    const task = defineTask({
      name: type,
      params: z.object({}),
      result: z.string(),
      async run(ctx) {
        await ctx.artifact('note.txt', 'over TLS', 'text/plain');
        const [mine] = await ctx.jobArtifacts();
        return mine ? (await mine.read()).toString('utf8') : 'missing';
      },
    });
    const worker = new Worker({
      serverUrl: server.url,
      token: await tokenFor(t.engine, { name: 'w', role: 'worker' }),
      name: uniqueType('tls-worker'),
      tasks: [task],
      ca: cert,
    });
    await worker.start();
    try {
      const { job } = await t.engine.submit({ group: 'tls', taskType: type, params: {} });
      const deadline = Date.now() + 20_000;
      while ((await t.engine.getJob(job.id)).status !== 'succeeded' && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 50));
      // A client over wss, signed in, reads what the worker reported and uploaded.
      const ws = new WebSocket(`${server.url.replace('https', 'wss')}/ws`, {
        ca: trustFor(cert).ca,
        headers: { authorization: `Bearer ${token}` },
      });
      await new Promise((r, reject) => ws.once('open', r).once('error', reject));
      const answer = new Promise<{ result?: { tasks: { result: unknown }[] } }>((r) =>
        ws.once('message', (data: Buffer) => r(JSON.parse(data.toString('utf8')) as never)),
      );
      ws.send(
        JSON.stringify({ jsonrpc: '2.0', method: 'tasks.list', params: { jobId: job.id }, id: 1 }),
      );
      assert.equal((await answer).result?.tasks[0]?.result, 'over TLS');
      ws.close();
      // Without the authority, a socket is refused.
      const untrusting = new WebSocket(`${server.url.replace('https', 'wss')}/ws`);
      const refused = await new Promise<string>((r) => {
        untrusting.once('open', () => r('open'));
        untrusting.once('error', (error) => r(error.message));
      });
      assert.match(refused, /self-signed|certificate/i);
    } finally {
      await worker.stop(1000);
    }
  });

  it('marks the session cookie Secure', async () => {
    const accounts = t.engine.accounts;
    const { token: record } = await accounts.createToken({ name: 'browser', role: 'admin' });
    const { code } = await accounts.createLoginCode(record.id);
    const response = await trustFor(cert).fetch(`${server.url}/login?code=${code}`, {
      redirect: 'manual',
    });
    assert.equal(response.status, 303);
    assert.match(response.headers.get('set-cookie') ?? '', /; Secure/);
  });
});
