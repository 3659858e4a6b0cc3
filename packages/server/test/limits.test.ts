// Limits on what one token, one address and one attempt may do: calls per minute (shared by
// every server of a farm), subscriptions, failed sign-ins, log per attempt.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { topics } from '@drover/protocol';
import type { Assignment, EventRecord } from '@drover/protocol';
import { backend, openTestEngine, tokenFor, uniqueType } from '@drover/engine/testing';
import type { TestEngine } from '@drover/engine/testing';
import { startServer } from '../src/index.js';
import type { DroverServer } from '../src/index.js';

interface Answer {
  result?: unknown;
  error?: { code: number; message: string; data?: { code: string; details?: unknown } };
}

async function post(server: DroverServer, token: string, body: unknown) {
  const response = await fetch(`${server.url}/rpc`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, json: JSON.parse(text) as Answer };
}

const call = (method: string, params: unknown) => ({ jsonrpc: '2.0', method, params, id: 1 });

/** A socket that answers calls in turn. */
async function socket(server: DroverServer, token?: string) {
  const ws = new WebSocket(`${server.url.replace('http', 'ws')}/ws`, {
    headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
  });
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  const assigned: Assignment[] = [];
  const pending = new Map<number, (answer: Answer) => void>();
  ws.on('message', (data: Buffer) => {
    const m = JSON.parse(data.toString('utf8')) as Answer & {
      id?: number;
      method?: string;
      params?: { assignments?: Assignment[] };
    };
    if (m.method === 'tasks.assign') assigned.push(...(m.params?.assignments ?? []));
    else if (typeof m.id === 'number') pending.get(m.id)?.(m);
  });
  let id = 0;
  return {
    ws,
    assigned,
    call(method: string, params: unknown): Promise<Answer> {
      const mine = ++id;
      return new Promise((resolve) => {
        pending.set(mine, resolve);
        ws.send(JSON.stringify({ jsonrpc: '2.0', method, params, id: mine }));
      });
    },
  };
}

const codeOf = (answer: Answer) => answer.error?.data?.code ?? 'ok';

describe(`limits (${backend})`, () => {
  let t: TestEngine;
  let a: DroverServer;
  let b: DroverServer;
  before(async () => {
    t = await openTestEngine();
    // Two servers of one farm, as replicas behind a load balancer.
    const limits = { rateLimitPerMinute: 10, maxSubscriptionsPerToken: 3, maxLogPerAttempt: 100 };
    a = await startServer({ engine: t.engine, port: 0, ...limits });
    b = await startServer({ engine: t.engine, port: 0, ...limits });
  });
  after(async () => {
    await a.close();
    await b.close();
    await t.close();
  });

  it('limits calls per token per minute across servers, with when to retry', async () => {
    // Counted per minute: start early in one, so that the test does not straddle two.
    const intoMinute = Date.now() % 60_000;
    if (intoMinute > 40_000) await new Promise((r) => setTimeout(r, 60_500 - intoMinute));
    const token = await tokenFor(t.engine, { name: 'busy', role: 'member', groups: { g: 'read' } });
    const other = await tokenFor(t.engine, { name: 'calm', role: 'member', groups: { g: 'read' } });
    for (let i = 0; i < 6; i++)
      assert.equal(codeOf((await post(a, token, call('jobs.list', { group: 'g' }))).json), 'ok');
    // Server a adds its calls to the farm's count within a second; b learns it on the token's
    // first call there, and allows only what is left of the ten.
    await new Promise((r) => setTimeout(r, 1500));
    const onB: string[] = [];
    for (let i = 0; i < 6; i++)
      onB.push(codeOf((await post(b, token, call('jobs.list', { group: 'g' }))).json));
    assert.deepEqual(onB, [
      'ok',
      'ok',
      'ok',
      'ok',
      'DROVER_E_RATE_LIMITED',
      'DROVER_E_RATE_LIMITED',
    ]);

    // Once out of calls, a request is refused before it is read: 429 with Retry-After.
    const refused = await post(b, token, call('jobs.list', { group: 'g' }));
    assert.equal(refused.status, 429);
    const retryAfter = Number(refused.headers.get('retry-after'));
    assert.ok(retryAfter >= 1 && retryAfter <= 60, String(retryAfter));
    const details = refused.json.error?.data?.details as { retryAfterMs: number };
    assert.ok(details.retryAfterMs > 0 && details.retryAfterMs <= 60_000);
    assert.equal(refused.json.error?.data?.code, 'DROVER_E_RATE_LIMITED');

    // On the WebSocket too; another token is not touched.
    const ws = await socket(a, token);
    // b adds its calls within a second, and a learns the total at its next sync.
    await new Promise((r) => setTimeout(r, 2500));
    assert.equal(codeOf(await ws.call('jobs.list', { group: 'g' })), 'DROVER_E_RATE_LIMITED');
    ws.ws.close();
    assert.equal(codeOf((await post(a, other, call('jobs.list', { group: 'g' }))).json), 'ok');
  });

  it('limits subscriptions per token over all its connections', async () => {
    const token = await tokenFor(t.engine, { name: 'subs', role: 'member', groups: { g: 'read' } });
    const one = await socket(a, token);
    const two = await socket(a, token);
    const sub = (s: Awaited<ReturnType<typeof socket>>, id: string) =>
      s.call('events.subscribe', { subscription: id, topic: 'jobs/g', cursor: '' });
    assert.equal(codeOf(await sub(one, 's1')), 'ok');
    assert.equal(codeOf(await sub(one, 's2')), 'ok');
    assert.equal(codeOf(await sub(two, 's1')), 'ok');
    const fourth = await sub(two, 's2');
    assert.equal(codeOf(fourth), 'DROVER_E_INVALID_REQUEST');
    assert.match(fourth.error?.message ?? '', /3 subscriptions/);
    // Freed by an unsubscribe, and by a connection that closes.
    assert.equal(codeOf(await one.call('events.unsubscribe', { subscription: 's1' })), 'ok');
    assert.equal(codeOf(await sub(two, 's2')), 'ok');
    one.ws.close();
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(codeOf(await sub(two, 's3')), 'ok');
    two.ws.close();
  });

  it('refuses an address that keeps failing to sign in, before looking anything up', async () => {
    // Signed in before the guessing starts: its holder is not locked out by it.
    const known = await tokenFor(t.engine);
    assert.equal((await post(b, known, call('auth.whoami', {}))).status, 200);
    const answers: string[] = [];
    for (let i = 0; i < 62; i++) {
      const response = await post(b, `drover_guess-${i}`, call('auth.whoami', {}));
      answers.push(`${response.status} ${codeOf(response.json)}`);
    }
    assert.equal(answers[0], '401 DROVER_E_UNAUTHORIZED');
    assert.equal(answers[59], '401 DROVER_E_UNAUTHORIZED');
    assert.equal(answers[60], '429 DROVER_E_RATE_LIMITED');
    // A token not seen lately from that address waits for the minute to end; one that signed in
    // lately does not.
    const good = await tokenFor(t.engine);
    assert.equal((await post(b, good, call('auth.whoami', {}))).status, 429);
    assert.equal((await post(b, known, call('auth.whoami', {}))).status, 200);
    // Another server counts its own failures.
    assert.equal((await post(a, good, call('auth.whoami', {}))).status, 200);
  });

  it('closes a connection that sends a large message before signing in', async () => {
    const anonymous = await socket(a);
    const closed = new Promise<number>((r) => anonymous.ws.once('close', (code) => r(code)));
    anonymous.ws.send(JSON.stringify({ jsonrpc: '2.0', method: 'x', params: 'y'.repeat(100_000) }));
    assert.equal(await closed, 1009);
  });

  it('bounds batches, and answers that would be too large to send', async () => {
    const small = await startServer({ engine: t.engine, port: 0, maxMessageBytes: 300_000 });
    try {
      const token = await tokenFor(t.engine);
      const batch = (n: number) =>
        Array.from({ length: n }, (_, i) => ({
          jsonrpc: '2.0',
          method: 'groups.list',
          params: {},
          id: i,
        }));
      const tooMany = await post(small, token, batch(1001));
      assert.equal(tooMany.json.error?.data?.code, 'DROVER_E_INVALID_REQUEST');
      assert.match(tooMany.json.error?.message ?? '', /at most 1000 requests/);
      const { job } = await t.engine.submit({
        group: 'big',
        taskType: 'hello',
        params: { blob: 'x'.repeat(100_000) },
      });
      const gets = Array.from({ length: 5 }, (_, i) => ({
        jsonrpc: '2.0',
        method: 'jobs.get',
        params: { id: job.id },
        id: i,
      }));
      const response = await fetch(`${small.url}/rpc`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify(gets),
      });
      const answers = (await response.json()) as Answer[];
      const codes = answers.map(codeOf);
      assert.equal(codes.length, 5);
      assert.deepEqual(codes.slice(0, 2), ['ok', 'ok']);
      assert.ok(
        codes.slice(2).every((c) => c === 'DROVER_E_TOO_LARGE'),
        codes.join(' '),
      );
    } finally {
      await small.close();
    }
  });

  it("drops an attempt's log lines past its limit, saying so once", async () => {
    const token = await tokenFor(t.engine, { name: 'w', role: 'worker' });
    const type = uniqueType('log');
    const worker = await socket(a);
    const hello = await worker.call('workers.hello', {
      name: uniqueType('logger'),
      host: 'h',
      taskTypes: [type],
      slots: 1,
      token,
    });
    assert.equal(codeOf(hello), 'ok');
    await t.engine.submit({ group: 'logs', taskType: type, params: {} });
    const deadline = Date.now() + 10_000;
    while (worker.assigned.length === 0 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    const [held] = worker.assigned;
    assert.ok(held);
    const line = (text: string) => ({ at: new Date().toISOString(), stream: 'stdout', line: text });
    const log = (lines: ReturnType<typeof line>[]) =>
      worker.call('tasks.log', {
        batches: [{ attemptId: held.attemptId, token: held.token, lines }],
      });
    assert.equal(codeOf(await log([line('a'.repeat(40)), line('b'.repeat(40))])), 'ok');
    assert.equal(codeOf(await log([line('c'.repeat(40)), line('d'.repeat(40))])), 'ok');
    assert.equal(codeOf(await log([line('e'.repeat(40))])), 'ok');
    const page = await t.engine.readEvents({ topic: topics.taskLog(held.task.id), after: '' });
    const lines = page.events.flatMap((e: EventRecord) =>
      (e.data as { lines: { line: string }[] }).lines.map((l) => l.line[0]),
    );
    assert.deepEqual(lines, ['a', 'b', '[']);
    worker.ws.close();
  });
});
