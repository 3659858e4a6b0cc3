import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { WebSocketServer } from 'ws';
import type { WebSocket } from 'ws';
import { Connection } from '../src/connection.js';
import { Reporter } from '../src/reporter.js';

const lease = { attemptId: '1', token: '00000000-0000-4000-8000-000000000001' };
const line = (text: string) => ({
  at: new Date().toISOString(),
  stream: 'log' as const,
  line: text,
});

describe('the reporter', () => {
  let peer: WebSocketServer;
  /** Every log line the peer received, in order. */
  const received: string[] = [];
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
          params: { batches?: { lines: { line: string }[] }[] };
        };
        if (dropNext) {
          dropNext = false;
          ws.terminate();
          return;
        }
        for (const batch of request.params.batches ?? []) {
          for (const l of batch.lines) received.push(l.line);
        }
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
      url: `http://127.0.0.1:${port}`,
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
});
