// What a browser could be made to do against a farm on localhost: a cross-site POST (text/plain
// needs no preflight), a request from another site's page, and DNS rebinding (another site's name
// pointed at 127.0.0.1, so the browser sends that name as Host). Each is refused and changes
// nothing; the dashboard's pages forbid framing and sniffing.
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { backend, openTestEngine, tokenFor } from '@drover/engine/testing';
import type { TestEngine } from '@drover/engine/testing';
import { startServer } from '../src/index.js';
import type { DroverServer } from '../src/index.js';
import { hostChecker } from '../src/host-check.js';

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** An HTTP request with whatever headers a test needs, Host included (fetch cannot set it). */
function send(
  url: string,
  path: string,
  options: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      new URL(path, url),
      { method: options.method ?? 'GET', headers: options.headers },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

const SUBMIT = JSON.stringify({
  jsonrpc: '2.0',
  method: 'jobs.submit',
  params: { group: 'browser', taskType: 'hello', params: {}, allowUnknownType: true },
  id: 1,
});

describe(`browser-facing checks (${backend})`, () => {
  let t: TestEngine;
  let server: DroverServer;
  let host: string;
  /** Signed in, so that what refuses a request is the check under test, not a missing token. */
  let authorization: string;
  before(async () => {
    t = await openTestEngine();
    authorization = `Bearer ${await tokenFor(t.engine)}`;
    server = await startServer({
      engine: t.engine,
      port: 0,
      allowedHosts: ['farm.example'],
      dashboardDir: '/nonexistent/dashboard',
    });
    host = new URL(server.url).host;
  });
  after(async () => {
    await server.close();
    await t.close();
  });

  it('refuses a POST to /rpc that is not application/json, creating nothing', async () => {
    const before = await t.engine.listJobs({ group: 'browser' });
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data']) {
      const answer = await send(server.url, '/rpc', {
        method: 'POST',
        headers: { 'content-type': type, origin: 'http://evil.example', authorization },
        body: SUBMIT,
      });
      assert.equal(answer.status, 415, type);
      const { error } = JSON.parse(answer.body) as { error: { data: { code: string } } };
      assert.equal(error.data.code, 'DROVER_E_INVALID_REQUEST');
    }
    assert.deepEqual(await t.engine.listJobs({ group: 'browser' }), before);
  });

  it("refuses a JSON POST from another site's page, and takes one from its own", async () => {
    const before = await t.engine.listJobs({ group: 'browser' });
    const foreign = await send(server.url, '/rpc', {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: 'http://evil.example', authorization },
      body: SUBMIT,
    });
    assert.equal(foreign.status, 403);
    assert.equal(
      (JSON.parse(foreign.body) as { error: { data: { code: string } } }).error.data.code,
      'DROVER_E_FORBIDDEN',
    );
    assert.deepEqual(await t.engine.listJobs({ group: 'browser' }), before);
    const own = await send(server.url, '/rpc', {
      method: 'POST',
      headers: {
        'content-type': 'application/json; charset=utf-8',
        origin: `http://${host}`,
        authorization,
      },
      body: SUBMIT,
    });
    assert.equal(own.status, 200, own.body);
    assert.equal((await t.engine.listJobs({ group: 'browser' })).length, before.length + 1);
  });

  it('refuses a Host it does not answer to (DNS rebinding) on every route', async () => {
    const before = await t.engine.listJobs({ group: 'browser' });
    const port = new URL(server.url).port;
    for (const [method, path, body] of [
      ['POST', '/rpc', SUBMIT],
      ['GET', '/healthz', undefined],
      ['GET', '/readyz', undefined],
      // Open on a loopback address: a page whose name points there must not read it.
      ['GET', '/metrics', undefined],
      ['GET', '/', undefined],
      ['GET', '/jobs', undefined],
    ] as const) {
      const answer = await send(server.url, path, {
        method,
        headers: {
          host: `evil.example:${port}`,
          origin: `http://evil.example:${port}`,
          'content-type': 'application/json',
          authorization,
        },
        ...(body !== undefined && { body }),
      });
      assert.equal(answer.status, 403, `${method} ${path}`);
      assert.match(answer.body, /does not answer to the host name/);
    }
    assert.deepEqual(await t.engine.listJobs({ group: 'browser' }), before);
  });

  it('refuses a WebSocket whose Host it does not answer to, even from that same origin', async () => {
    const port = new URL(server.url).port;
    const ws = new WebSocket(`${server.url.replace('http', 'ws')}/ws`, {
      headers: { host: `evil.example:${port}`, authorization },
      origin: `http://evil.example:${port}`,
    });
    const outcome = await new Promise<string>((resolve) => {
      ws.once('open', () => resolve('open'));
      ws.once('unexpected-response', (_req, res) => resolve(`refused ${res.statusCode}`));
      ws.once('error', (error) => resolve(`error ${error.message}`));
    });
    ws.terminate();
    assert.match(outcome, /^(refused 403|error .*403)/);
  });

  it('answers to loopback names and to the names it was given', async () => {
    const port = new URL(server.url).port;
    for (const name of [
      `127.0.0.1:${port}`,
      `localhost:${port}`,
      `farm.example:${port}`,
      'FARM.example',
    ]) {
      const answer = await send(server.url, '/healthz', { headers: { host: name } });
      assert.equal(answer.status, 200, name);
    }
  });

  it('sends the dashboard with a policy that forbids framing, other origins and sniffing', async () => {
    const answer = await send(server.url, '/');
    const policy = String(answer.headers['content-security-policy']);
    assert.match(policy, /frame-ancestors 'none'/);
    assert.match(policy, /default-src 'self'/);
    assert.match(policy, /connect-src 'self'/);
    assert.equal(answer.headers['x-content-type-options'], 'nosniff');
  });

  it('knows which names a server bound to each kind of address answers to', () => {
    const loopback = hostChecker('127.0.0.1');
    assert.ok(loopback('127.0.0.1:7400') && loopback('localhost') && loopback('[::1]:7400'));
    assert.ok(!loopback('evil.example:7400') && !loopback(undefined) && !loopback('a b'));
    const everywhere = hostChecker('0.0.0.0');
    assert.ok(everywhere('anything.example:7400'));
    const named = hostChecker('0.0.0.0', ['farm.example']);
    assert.ok(named('farm.example:80') && !named('evil.example'));
    const one = hostChecker('10.1.2.3');
    assert.ok(one('10.1.2.3:7400') && !one('localhost:7400'));
  });
});
