import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { WebSocketServer } from 'ws';
import type { WebSocket } from 'ws';
import { Connection } from '../src/connection.js';
import { Reporter } from '../src/reporter.js';

const lease = { attemptId: '1', token: '00000000-0000-4000-8000-000000000001' };
const other = { attemptId: '2', token: '00000000-0000-4000-8000-000000000002' };
const line = (text: string) => ({
  at: new Date().toISOString(),
  stream: 'log' as const,
  line: text,
});

describe('the reporter', () => {
  let peer: WebSocketServer;
  /** Every log line the peer received, in order. */
  const received: string[] = [];
  const results: unknown[] = [];
  const calls: string[] = [];
  let delayMs = 0;
  let dropNext = false;

  before(async () => {
    // A server that answers each report after `delayMs`, or hangs up on one when told.
    peer = new WebSocketServer({ port: 0, path: '/ws' });
    peer.on('connection', (ws: WebSocket) => {
      ws.on('message', (data: Buffer) => {
        const request = JSON.parse(data.toString('utf8')) as {
          id: number;
          method: string;
          params: {
            batches?: { lines: { line: string }[] }[];
            reports?: { result?: unknown }[];
          };
        };
        calls.push(request.method);
        if (dropNext) {
          dropNext = false;
          ws.terminate();
          return;
        }
        const lines = (request.params.batches ?? []).flatMap((b) => b.lines.map((l) => l.line));
        if (lines.length > 1000) throw new Error('a log call carries at most 1,000 lines');
        if (lines.includes('refuse me')) {
          ws.send(
            JSON.stringify({
              jsonrpc: '2.0',
              id: request.id,
              error: {
                code: -32602,
                message: 'no',
                data: { code: 'DROVER_E_INVALID_PARAMS', retryable: false },
              },
            }),
          );
          return;
        }
        received.push(...lines);
        if (request.method === 'tasks.complete')
          for (const r of request.params.reports ?? []) results.push(r.result);
        setTimeout(() => {
          ws.send(JSON.stringify({ jsonrpc: '2.0', id: request.id, result: { refused: [] } }));
        }, delayMs);
      });
    });
    await new Promise((resolve) => peer.once('listening', resolve));
  });
  after(() => {
    peer.close();
  });

  async function connected(): Promise<{ connection: Connection; reporter: Reporter }> {
    const { port } = peer.address() as AddressInfo;
    const connection = new Connection({
      urls: [`http://127.0.0.1:${port}`],
      onNotification: () => undefined,
      onOpen: () => Promise.resolve(),
      initialBackoffMs: 20,
    });
    connection.open();
    await connection.whenReady();
    // A long interval: the test flushes by hand.
    return { connection, reporter: new Reporter(connection, () => undefined, undefined, 60_000) };
  }

  it('keeps a line logged while the batch before it is on its way', async () => {
    received.length = 0;
    delayMs = 200;
    const { connection, reporter } = await connected();
    reporter.log(lease, line('one'));
    reporter.log(lease, line('two'));
    const first = reporter.flush();
    await new Promise((resolve) => setTimeout(resolve, 50));
    reporter.log(lease, line('three'));
    await first;
    await reporter.flush();
    assert.deepEqual(received, ['one', 'two', 'three']);
    reporter.close();
    connection.close();
  });

  it('sends lines again, in order, when the connection drops before they were taken', async () => {
    received.length = 0;
    delayMs = 0;
    const { connection, reporter } = await connected();
    reporter.log(lease, line('a'));
    dropNext = true;
    await reporter.flush();
    reporter.log(lease, line('b'));
    await connection.whenReady();
    await reporter.flush();
    assert.deepEqual(received, ['a', 'b']);
    reporter.close();
    connection.close();
  });

  // A flush sends its kinds one call after another: started, progress, logs, outcomes. The
  // connection may drop on any of them; the lines of that flush must still go, before the result.
  for (const first of ['started', 'progress'] as const) {
    it(`keeps the lines of a flush whose ${first} call the connection drops, and sends them before the result`, async (t) => {
      received.length = 0;
      results.length = 0;
      calls.length = 0;
      delayMs = 0;
      const { connection, reporter } = await connected();
      t.after(() => {
        reporter.close();
        connection.close();
      });
      if (first === 'started') reporter.started(other);
      else reporter.progress(lease, 0.5, null);
      reporter.log(lease, line('the last line'));
      reporter.finish(lease, { kind: 'complete', result: 'done' });
      dropNext = true;
      await reporter.flush(); // the peer hangs up on the flush's first call
      assert.deepEqual(calls, [`tasks.${first}`]);
      await connection.whenReady();
      await reporter.flush();
      assert.deepEqual(calls, [`tasks.${first}`, `tasks.${first}`, 'tasks.log', 'tasks.complete']);
      assert.deepEqual(received, ['the last line']);
      assert.deepEqual(results, ['done']);
    });
  }

  it('sends a flood of lines in pieces, in order, and the result after them', async () => {
    received.length = 0;
    results.length = 0;
    delayMs = 0;
    const { connection, reporter } = await connected();
    const lines = Array.from({ length: 12_345 }, (_, i) => `line ${i}`);
    for (const l of lines) reporter.log(lease, line(l));
    reporter.finish(lease, { kind: 'complete', result: 'done' });
    await reporter.flush();
    assert.deepEqual(received, lines);
    assert.deepEqual(results, ['done']);
    reporter.close();
    connection.close();
  });

  it('still sends the result when the server refuses a log call for good', async () => {
    received.length = 0;
    results.length = 0;
    calls.length = 0;
    const { connection, reporter } = await connected();
    const undeliverable: unknown[] = [];
    const r = new Reporter(
      connection,
      () => undefined,
      (e) => undeliverable.push(e),
      60_000,
    );
    reporter.close();
    r.log(lease, line('refuse me'));
    r.finish(lease, { kind: 'complete', result: 42 });
    await r.flush();
    assert.deepEqual(results, [42]);
    assert.equal(undeliverable.length, 1);
    assert.equal(r.pendingFinals, 0);
    r.close();
    connection.close();
  });
  it("drops only the lines the server refuses for good: the other attempts' lines still go", async (t) => {
    received.length = 0;
    results.length = 0;
    delayMs = 0;
    const { connection, reporter } = await connected();
    reporter.close();
    const undeliverable: unknown[] = [];
    const r = new Reporter(
      connection,
      () => undefined,
      (e) => undeliverable.push(e),
      60_000,
    );
    t.after(() => {
      r.close();
      connection.close();
    });
    r.log(lease, line('refuse me'));
    r.log(other, line('kept'));
    r.finish(lease, { kind: 'complete', result: 1 });
    r.finish(other, { kind: 'complete', result: 2 });
    await r.flush();
    assert.deepEqual(received, ['kept']);
    assert.deepEqual(results, [1, 2]);
    assert.equal(undeliverable.length, 1);
    await r.flush();
    assert.deepEqual(received, ['kept'], 'the refused line is not sent again');
  });
});

describe('the reporter across servers', () => {
  /** A server that records each report and takes it; `dies` hangs up on the first and stops. */
  async function replica(dies: boolean) {
    const got: { method: string; params: unknown }[] = [];
    const server = new WebSocketServer({ port: 0, path: '/ws' });
    server.on('connection', (ws: WebSocket) => {
      ws.on('message', (data: Buffer) => {
        const request = JSON.parse(data.toString('utf8')) as {
          id: number;
          method: string;
          params: unknown;
        };
        got.push({ method: request.method, params: request.params });
        if (dies) {
          ws.terminate();
          server.close();
          return;
        }
        ws.send(JSON.stringify({ jsonrpc: '2.0', id: request.id, result: { refused: [] } }));
      });
    });
    await new Promise((resolve) => server.once('listening', resolve));
    const { port } = server.address() as AddressInfo;
    return { url: `http://127.0.0.1:${port}`, got, server };
  }

  it('delivers to the next server what its server took down with it, and what came meanwhile', async () => {
    const a = await replica(true);
    const b = await replica(false);
    const connection = new Connection({
      urls: [a.url, b.url],
      onNotification: () => undefined,
      onOpen: () => Promise.resolve(),
      initialBackoffMs: 20,
    });
    connection.open();
    await connection.whenReady();
    assert.equal(connection.url, a.url);
    const reporter = new Reporter(connection, () => undefined, undefined, 60_000);
    reporter.log(lease, line('before'));
    await reporter.flush(); // a takes it down with it: no answer
    reporter.log(lease, line('meanwhile'));
    reporter.finish(lease, { kind: 'complete', result: 'done' });
    await connection.whenReady();
    assert.equal(connection.url, b.url);
    await reporter.flush();
    assert.equal(reporter.pendingFinals, 0);
    const lines = b.got
      .filter((c) => c.method === 'tasks.log')
      .flatMap((c) => (c.params as { batches: { lines: { line: string }[] }[] }).batches)
      .flatMap((batch) => batch.lines.map((l) => l.line));
    assert.deepEqual(lines, ['before', 'meanwhile'], 'in order, none lost');
    const results = b.got.filter((c) => c.method === 'tasks.complete');
    assert.equal(results.length, 1, 'the result once');
    assert.deepEqual(
      a.got.map((c) => c.method),
      ['tasks.log'],
    );
    reporter.close();
    connection.close();
    b.server.close();
  });
});
