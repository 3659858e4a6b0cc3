// No input crashes the server: malformed WebSocket frames close that one connection with the
// matching close code, random bytes and random JSON get an answer or a closed connection, deep
// nesting is refused as invalid params, and the server keeps serving with nothing changed. Each
// is sent by a caller that has not signed in and by one signed in with an admin token, whose
// calls reach the methods.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import WebSocket from 'ws';
import { backend } from '@drover/engine/testing';

/** The largest message this test's server takes: small, so that going over it is cheap. */
const MAX_MESSAGE_BYTES = 256 * 1024;

interface Frame {
  fin?: boolean;
  rsv1?: boolean;
  opcode: number;
  masked?: boolean;
  payload: Buffer;
  /** Claims this length in the header instead of the payload's own. */
  claimedLength?: bigint;
}

/** One WebSocket frame, as RFC 6455 lays it out. */
function frame({ fin = true, rsv1 = false, opcode, masked = true, payload, claimedLength }: Frame) {
  const length = claimedLength ?? BigInt(payload.length);
  const head = [(fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | opcode];
  const mask = masked ? 0x80 : 0;
  let extended = Buffer.alloc(0);
  if (length < 126n) head.push(mask | Number(length));
  else if (length < 65536n) {
    head.push(mask | 126);
    extended = Buffer.alloc(2);
    extended.writeUInt16BE(Number(length));
  } else {
    head.push(mask | 127);
    extended = Buffer.alloc(8);
    extended.writeBigUInt64BE(length);
  }
  const key = masked ? Buffer.from([0x12, 0x34, 0x56, 0x78]) : Buffer.alloc(0);
  const body = masked ? payload.map((byte, i) => byte ^ (key[i % 4] ?? 0)) : payload;
  return Buffer.concat([Buffer.from(head), extended, key, body]);
}

const serverProcess = fileURLToPath(new URL('./fixtures/server-process.js', import.meta.url));

/** Who sends: a caller that has not signed in, or one signed in with the server's admin token. */
const CALLERS = ['anonymous', 'signed in'] as const;
type Caller = (typeof CALLERS)[number];

describe(`hostile input (${backend})`, { timeout: 180_000 }, () => {
  // The server runs in a process of its own: what this suite guards against is that process
  // ending, which a server in the test's own process would hide.
  let child: ChildProcess;
  let server: { url: string };
  let port: number;
  /** An admin token the server process made. */
  let token: string;
  let output = '';
  before(async () => {
    child = spawn(process.execPath, [serverProcess, String(MAX_MESSAGE_BYTES)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout?.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        // The token is printed before the address.
        const match = /^listening (\S+)$/m.exec(output);
        if (match?.[1]) resolve(match[1]);
      });
      child.once('exit', (code) => reject(new Error(`the server exited (${code}): ${output}`)));
    });
    const secret = /^token (\S+)$/m.exec(output)?.[1];
    assert.ok(secret, 'the server process printed no token');
    token = secret;
    server = { url };
    port = Number(new URL(url).port);
  });
  after(async () => {
    if (child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  });

  /** The headers a caller signs in with: none, or its token. */
  const headersOf = (caller: Caller): Record<string, string> =>
    caller === 'signed in' ? { authorization: `Bearer ${token}` } : {};

  /** A raw TCP connection upgraded to a WebSocket, for frames no WebSocket library would send. */
  async function rawSocket(caller: Caller): Promise<{ socket: Socket; closed: Promise<Buffer> }> {
    const socket = connect(port, '127.0.0.1');
    socket.on('error', () => undefined);
    let received = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => (received = Buffer.concat([received, chunk])));
    const closed = new Promise<Buffer>((resolve) => socket.once('close', () => resolve(received)));
    await new Promise<void>((resolve) => socket.once('connect', resolve));
    socket.write(
      [
        'GET /ws HTTP/1.1',
        `Host: 127.0.0.1:${port}`,
        'Upgrade: websocket',
        'Connection: Upgrade',
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
        'Sec-WebSocket-Version: 13',
        ...Object.entries(headersOf(caller)).map(([name, value]) => `${name}: ${value}`),
        '',
        '',
      ].join('\r\n'),
    );
    for (let i = 0; !received.includes('\r\n\r\n'); i++) {
      assert.ok(i < 200, 'no answer to the upgrade');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.match(received.toString('latin1'), /^HTTP\/1\.1 101 /);
    received = received.subarray(received.indexOf('\r\n\r\n') + 4);
    return { socket, closed };
  }

  /** The close code of the server's close frame at the start of `bytes`, if it sent one. */
  function closeCode(bytes: Buffer): number | undefined {
    if (bytes.length < 4 || bytes[0] !== 0x88) return undefined;
    return bytes.readUInt16BE(2);
  }

  /** Sends bytes on a fresh raw connection; resolves with what the server sent before closing. */
  async function sendRaw(
    bytes: Buffer,
    caller: Caller,
    waitMs = 2000,
  ): Promise<{ reply: Buffer; closed: boolean }> {
    const { socket, closed } = await rawSocket(caller);
    socket.write(bytes);
    const reply = await Promise.race([
      closed,
      new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), waitMs)),
    ]);
    socket.destroy();
    return reply === undefined ? { reply: await closed, closed: false } : { reply, closed: true };
  }

  async function rpcOverSocket(
    text: string,
    caller: Caller,
    waitMs = 5000,
  ): Promise<string | undefined> {
    const ws = new WebSocket(`${server.url.replace('http', 'ws')}/ws`, {
      headers: headersOf(caller),
    });
    try {
      await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
      const answer = new Promise<string>((resolve) =>
        ws.once('message', (data: Buffer) => resolve(data.toString('utf8'))),
      );
      ws.send(text);
      return await Promise.race([
        answer,
        new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), waitMs)),
      ]);
    } finally {
      ws.terminate();
    }
  }

  async function post(body: string, caller: Caller): Promise<{ status: number; text: string }> {
    const response = await fetch(`${server.url}/rpc`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headersOf(caller) },
      body,
    });
    return { status: response.status, text: await response.text() };
  }

  /** The server answers HTTP and a WebSocket call; resolves to its groups and their counts. */
  async function stillServing(): Promise<unknown> {
    assert.equal(child.exitCode, null, `the server process ended: ${output}`);
    const health = await fetch(`${server.url}/healthz`);
    assert.equal(health.status, 200);
    const text = await rpcOverSocket(
      JSON.stringify({ jsonrpc: '2.0', method: 'groups.list', params: {}, id: 1 }),
      'signed in',
    );
    assert.ok(text, 'groups.list over a WebSocket got no answer');
    const { result } = JSON.parse(text) as { result: unknown };
    assert.ok(result, text);
    return result;
  }

  const malformed: [string, Buffer, number][] = [
    [
      'an unmasked client frame',
      frame({ opcode: 1, masked: false, payload: Buffer.from('{}') }),
      1002,
    ],
    ['a reserved opcode', frame({ opcode: 3, payload: Buffer.from('x') }), 1002],
    [
      'RSV1 with no extension agreed',
      frame({ opcode: 1, rsv1: true, payload: Buffer.from('{}') }),
      1002,
    ],
    [
      'text that is not UTF-8',
      frame({ opcode: 1, payload: Buffer.from([0x7b, 0xff, 0xfe, 0x7d]) }),
      1007,
    ],
    [
      'a length header over the limit',
      frame({ opcode: 2, payload: Buffer.alloc(4), claimedLength: 2n ** 62n }),
      1009,
    ],
    [
      'a fragmented control frame',
      frame({ opcode: 9, fin: false, payload: Buffer.from('ping') }),
      1002,
    ],
  ];
  for (const [what, bytes, code] of malformed) {
    it(`closes a connection that sends ${what} with close code ${code}, and serves on`, async () => {
      const before = await stillServing();
      for (const caller of CALLERS) {
        const { reply, closed } = await sendRaw(bytes, caller);
        assert.ok(closed, `the server kept the connection open (${caller})`);
        assert.equal(closeCode(reply), code, caller);
      }
      assert.deepEqual(await stillServing(), before);
    });
  }

  it('closes a connection whose message is over the size limit with 1009, and serves on', async () => {
    for (const caller of CALLERS) {
      const ws = new WebSocket(`${server.url.replace('http', 'ws')}/ws`, {
        headers: headersOf(caller),
      });
      await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
      const code = new Promise<number>((resolve) => ws.once('close', resolve));
      ws.send(
        JSON.stringify({
          jsonrpc: '2.0',
          method: 'jobs.list',
          params: { pad: 'x'.repeat(MAX_MESSAGE_BYTES) },
          id: 1,
        }),
      );
      assert.equal(await code, 1009, caller);
    }
    await stillServing();
  });

  it('survives random bytes after the handshake', async () => {
    const before = await stillServing();
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 300 }), async (bytes) => {
        await Promise.all(CALLERS.map((caller) => sendRaw(Buffer.from(bytes), caller, 200)));
      }),
      { numRuns: 60 },
    );
    assert.deepEqual(await stillServing(), before);
  });

  it('survives random frames of every opcode and flag', async () => {
    const before = await stillServing();
    const frames = fc.record({
      fin: fc.boolean(),
      rsv1: fc.boolean(),
      opcode: fc.integer({ min: 0, max: 15 }),
      masked: fc.boolean(),
      payload: fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(frames, { minLength: 1, maxLength: 4 }), async (list) => {
        const bytes = Buffer.concat(list.map((f) => frame(f)));
        await Promise.all(CALLERS.map((caller) => sendRaw(bytes, caller, 200)));
      }),
      { numRuns: 60 },
    );
    assert.deepEqual(await stillServing(), before);
  });

  it('answers any JSON with a JSON-RPC response, never an internal error, and changes nothing', async () => {
    const before = await stillServing();
    const check = (text: string, caller: Caller) => {
      const answer = JSON.parse(text) as unknown;
      for (const response of Array.isArray(answer) ? answer : [answer]) {
        const r = response as {
          jsonrpc?: string;
          error?: { code: number; data?: { code?: string } };
        };
        assert.equal(r.jsonrpc, '2.0');
        assert.notEqual(r.error?.data?.code, 'DROVER_E_INTERNAL', text);
        // Nothing is done for a caller that has not signed in; a signed-in one reaches the methods.
        if (caller === 'anonymous') assert.ok(r.error, `answered without signing in: ${text}`);
        else assert.notEqual(r.error?.data?.code, 'DROVER_E_UNAUTHORIZED', text);
      }
    };
    // Random JSON, and random params to every method a client may call.
    const methods = [
      'jobs.submit',
      'jobs.get',
      'jobs.list',
      'jobs.cancel',
      'jobs.retry',
      'jobs.setPriority',
      'jobs.pause',
      'jobs.resume',
      'jobs.extend',
      'jobs.update',
      'groups.get',
      'groups.pause',
      'groups.resume',
      'tasks.list',
      'tasks.cancel',
      'workers.list',
      'workers.disable',
      'events.read',
      'events.subscribe',
      'workers.hello',
      'workers.heartbeat',
      'tasks.progress',
      'tasks.complete',
      'tasks.fail',
    ];
    const requests = fc.oneof(
      fc.jsonValue(),
      fc.record({
        jsonrpc: fc.constant('2.0'),
        method: fc.constantFrom(...methods),
        params: fc.jsonValue(),
        id: fc.oneof(fc.integer(), fc.string()),
      }),
    );
    await fc.assert(
      fc.asyncProperty(requests, async (request) => {
        const text = JSON.stringify(request);
        const http = await post(text, 'signed in');
        assert.ok(http.status === 200 || http.status === 204, `HTTP ${http.status}: ${http.text}`);
        if (http.status === 200) check(http.text, 'signed in');
        // Over HTTP a request without a token is refused before it is read.
        const anonymous = await post(text, 'anonymous');
        assert.equal(anonymous.status, 401, anonymous.text);
        check(anonymous.text, 'anonymous');
        assert.equal(
          (JSON.parse(anonymous.text) as { error: { data: { code: string } } }).error.data.code,
          'DROVER_E_UNAUTHORIZED',
        );
        await Promise.all(
          CALLERS.map(async (caller) => {
            const overSocket = await rpcOverSocket(text, caller, 300);
            if (overSocket !== undefined) check(overSocket, caller);
          }),
        );
      }),
      { numRuns: 150 },
    );
    assert.deepEqual(await stillServing(), before);
  });

  it('refuses params nested 2,000 levels deep as invalid params, changing nothing', async () => {
    const before = await stillServing();
    const deep = '{"a":'.repeat(2000) + '1' + '}'.repeat(2000);
    const text = `{"jsonrpc":"2.0","method":"jobs.submit","params":{"group":"deep","taskType":"t","params":${deep}},"id":7}`;
    for (const answer of [
      (await post(text, 'signed in')).text,
      await rpcOverSocket(text, 'signed in'),
    ]) {
      const { error, id } = JSON.parse(answer ?? '{}') as {
        error?: { code: number; data?: { code?: string } };
        id?: unknown;
      };
      assert.equal(id, 7);
      assert.equal(error?.code, -32602);
      assert.equal(error.data?.code, 'DROVER_E_INVALID_PARAMS');
    }
    assert.deepEqual(await stillServing(), before);
  });
});
