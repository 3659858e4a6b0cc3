// While the PostgreSQL server is away, calls fail at once with DROVER_E_DATABASE_UNAVAILABLE
// (retryable), /readyz says 503 (/healthz, liveness, 200), the server keeps running, and everything works again when the
// database is back. The database goes away for real: the engine reaches it through a TCP proxy
// this test closes, with every connection through it.
import assert from 'node:assert/strict';
import { createServer, connect } from 'node:net';
import type { AddressInfo, Server, Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { openEngine } from '@drover/engine';
import type { Engine } from '@drover/engine';
import { databaseUrl, openTestEngine, tokenFor } from '@drover/engine/testing';
import type { TestEngine } from '@drover/engine/testing';
import { startServer } from '../src/index.js';
import type { DroverServer } from '../src/index.js';

/** A TCP proxy to the database that can be cut (every connection closed) and restored. */
class Proxy {
  readonly #target = new URL(databaseUrl);
  readonly #sockets = new Set<Socket>();
  #server: Server | undefined;
  port = 0;

  async open(): Promise<void> {
    const server = createServer((client) => {
      const upstream = connect(Number(this.#target.port || 5432), this.#target.hostname);
      for (const socket of [client, upstream]) {
        this.#sockets.add(socket);
        socket.on('close', () => this.#sockets.delete(socket));
        socket.on('error', () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    this.port = (server.address() as AddressInfo).port;
    this.#server = server;
  }

  async cut(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  }

  url(): string {
    const url = new URL(databaseUrl);
    url.host = `127.0.0.1:${this.port}`;
    return url.href;
  }
}

describe('a PostgreSQL server that goes away and comes back', { timeout: 120_000 }, () => {
  let t: TestEngine;
  let engine: Engine;
  let server: DroverServer;
  let token: string;
  const proxy = new Proxy();
  before(async () => {
    // The harness makes and migrates a schema; this test's engine reaches it through the proxy.
    t = await openTestEngine();
    await proxy.open();
    engine = await openEngine({ databaseUrl: proxy.url(), schema: t.schema, migrate: false });
    token = await tokenFor(engine);
    server = await startServer({ engine, port: 0 });
  });
  after(async () => {
    await server.close();
    await engine.close();
    await proxy.cut();
    await t.close();
  });

  async function call(method: string, params: unknown) {
    const response = await fetch(`${server.url}/rpc`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ jsonrpc: '2.0', method, params, id: 1 }),
    });
    return (await response.json()) as {
      result?: unknown;
      error?: { code: number; data: { code: string; retryable: boolean } };
    };
  }

  it('answers DROVER_E_DATABASE_UNAVAILABLE while it is away, and serves again once it is back', async () => {
    const submitted = await call('jobs.submit', {
      group: 'away',
      taskType: 'noop',
      params: {},
      allowUnknownType: true,
    });
    assert.ok(submitted.result, JSON.stringify(submitted));

    await proxy.cut();
    const started = performance.now();
    const away = await call('jobs.list', { group: 'away' });
    assert.equal(away.error?.data.code, 'DROVER_E_DATABASE_UNAVAILABLE', JSON.stringify(away));
    assert.equal(away.error.code, -32011);
    assert.equal(away.error.data.retryable, true);
    assert.ok(performance.now() - started < 15_000, 'the call did not hang');
    const refused = await call('jobs.submit', {
      group: 'away',
      taskType: 'noop',
      params: {},
      allowUnknownType: true,
    });
    assert.equal(refused.error?.data.code, 'DROVER_E_DATABASE_UNAVAILABLE');
    const ready = await fetch(`${server.url}/readyz`);
    assert.equal(ready.status, 503);
    assert.deepEqual(await ready.json(), {
      ok: false,
      database: 'external',
      error: 'DROVER_E_DATABASE_UNAVAILABLE',
      reason: 'The database does not answer.',
    });
    // Alive all the same: an orchestrator must not restart a server for its database's absence.
    const alive = await fetch(`${server.url}/healthz`);
    assert.equal(alive.status, 200);
    // The scrape answers with what the process knows, and says the database did not.
    const metrics = await fetch(`${server.url}/metrics`);
    assert.equal(metrics.status, 200);
    const text = await metrics.text();
    assert.match(text, /^drover_database_up 0$/m);
    assert.match(text, /^drover_workers_connected 0$/m);
    assert.doesNotMatch(text, /^drover_tasks\{/m);

    await proxy.open();
    let back: Awaited<ReturnType<typeof call>> | undefined;
    for (let i = 0; i < 100 && !back?.result; i++) {
      back = await call('jobs.list', { group: 'away' });
      if (!back.result) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const { jobs } = back?.result as { jobs: unknown[] };
    assert.equal(jobs.length, 1, 'the job from before, and not the refused one');
    assert.equal((await fetch(`${server.url}/readyz`)).status, 200);
  });
});
