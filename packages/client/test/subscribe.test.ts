import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { z } from 'zod';
import { DroverError, topics } from '@drover/protocol';
import type { EventRecord, JobRecord, Topic } from '@drover/protocol';
import { backend, openTestEngine, sleep, tokenFor, uniqueType } from '@drover/engine/testing';
import type { TestEngine } from '@drover/engine/testing';
import { startServer } from '@drover/server';
import type { DroverServer } from '@drover/server';
import { DroverClient } from '../src/index.js';

/** Resolves once `done` holds, checking every 20 ms; fails after `ms`. */
async function until(done: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await sleep(20);
  }
}

const group = () => uniqueType('g').replaceAll('.', '-');
const head = (c: DroverClient, topic: string) =>
  c.call('events.head', { topic: topic as Topic }).then((r) => r.cursor);

describe(`subscriptions and the client (${backend})`, () => {
  let t: TestEngine;
  let server: DroverServer;
  let client: DroverClient;
  let token: string;
  before(async () => {
    t = await openTestEngine();
    token = await tokenFor(t.engine);
    server = await startServer({ engine: t.engine, port: 0 });
    client = new DroverClient({ url: server.url, token, WebSocket });
  });
  after(async () => {
    client.close();
    await server.close();
    await t.close();
  });

  /** A worker of its own for `type`, holding the type's one queued task. */
  async function hold(type: string) {
    const { worker } = await t.engine.registerWorker({
      name: uniqueType('w'),
      host: 'h',
      taskTypes: [type],
      slots: 1,
    });
    const [lease] = await t.engine.claim({
      workerId: worker.id,
      taskTypes: [type],
      tags: [],
      limit: 1,
    });
    assert.ok(lease);
    return lease;
  }

  it('replays what came after the cursor, then streams what is new, in order', async () => {
    const g = group();
    const first = await client.submit(
      'hello',
      {},
      { group: g, name: 'one', allowUnknownType: true },
    );
    const cursor = await head(client, topics.groupJobs(g));
    await client.submit('hello', {}, { group: g, name: 'two', allowUnknownType: true });
    const seen: EventRecord[] = [];
    const sub = client.subscribe(topics.groupJobs(g), {
      cursor,
      onEvents: (events) => seen.push(...events),
    });
    await until(() => seen.length >= 1, 'the replay');
    await client.submit('hello', {}, { group: g, name: 'three', allowUnknownType: true });
    await until(() => seen.filter((e) => e.kind === 'job.added').length >= 2, 'the new job');
    sub.close();
    const names = seen.filter((e) => e.kind === 'job.added').map((e) => e.data.name);
    assert.deepEqual(names, ['two', 'three'], 'only after the cursor, and nothing twice');
    assert.ok(!seen.some((e) => e.subject === first.job.id));
    const cursors = seen.map((e) => e.cursor);
    assert.deepEqual(cursors, [...new Set(cursors)], 'each event once');
    assert.equal(sub.cursor, seen.at(-1)?.cursor);
  });

  it('gives a subscriber every event even when another joins its topic while a notification is on its way', async () => {
    const topic = 'refusals';
    const refusal = (subject: string, notify = true) =>
      t.engine.database.transaction(async (tx) => {
        // Without its trigger the insert sends no notification: one that is still on its way.
        if (!notify) await tx.query('SET LOCAL session_replication_role = replica');
        await tx.query(
          `INSERT INTO events (topic, kind, subject, data) VALUES ('refusals', 'report.refused', $1, '{}')`,
          [subject],
        );
      });
    const other = new DroverClient({ url: server.url, token, WebSocket });
    const a: string[] = [];
    const b: string[] = [];
    const first = client.subscribe(topic, {
      cursor: await head(client, topic),
      onEvents: (events) => a.push(...events.map((e) => e.subject)),
    });
    await refusal('r1');
    await until(() => a.length === 1, 'the first refusal');
    await refusal('r2', false);
    await refusal('r3', false);
    const second = other.subscribe(topic, {
      cursor: await head(other, topic),
      onEvents: (events) => b.push(...events.map((e) => e.subject)),
    });
    await sleep(300); // the second subscription is attached
    await t.engine.database.query('SELECT pg_notify($1, $2)', [t.engine.channel, topic]);
    await refusal('r4');
    await until(() => a.length >= 4 && b.length >= 1, 'the rest', 5000).catch(() => undefined);
    first.close();
    second.close();
    other.close();
    assert.deepEqual(a, ['r1', 'r2', 'r3', 'r4'], 'the first subscriber misses nothing');
    assert.deepEqual(b, ['r4'], 'the second gets what came after its cursor');
  });

  it('coalesces progress: a task reporting hundreds of times a second costs a few batches', async () => {
    const type = uniqueType();
    const { job } = await client.submit(type, {}, { group: group(), allowUnknownType: true });
    const lease = await hold(type);
    const batches: EventRecord[][] = [];
    const sub = client.subscribe(topics.job(job.id), {
      cursor: await head(client, topics.job(job.id)),
      onEvents: (events) => batches.push(events),
    });
    await sleep(300);
    const started = Date.now();
    const reports = 400;
    for (let i = 1; i <= reports; i++) {
      await t.engine.reportProgress([{ ...lease, progress: i / reports, message: `step ${i}` }]);
    }
    const seconds = (Date.now() - started) / 1000;
    await until(
      () => batches.flat().some((e) => e.kind === 'job.updated' && e.data.progress === 1),
      'the last progress',
    );
    await sleep(400);
    sub.close();
    const events = batches.flat();
    const taskUpdates = events.filter((e) => e.kind === 'tasks.updated');
    const last = taskUpdates.at(-1)?.data as { tasks: { progress: number; message: string }[] };
    assert.equal(last.tasks[0]?.progress, 1, 'the newest state always arrives');
    assert.equal(last.tasks[0]?.message, `step ${reports}`);
    // At most one batch per 200 ms window, plus the first.
    const allowed = Math.ceil(seconds / 0.2) + 3;
    assert.ok(
      batches.length <= allowed,
      `${reports} reports in ${seconds.toFixed(2)} s gave ${batches.length} batches, at most ${allowed} expected`,
    );
    assert.ok(taskUpdates.length < reports / 4, `${taskUpdates.length} task updates sent`);
  });

  it('sends a task’s end at once: coalescing holds progress, never a change of state', async () => {
    // A window far longer than this test may take: only what is sent at once can arrive.
    const slow = await startServer({
      engine: t.engine,
      port: 0,
      coalesceMs: 600_000,
    });
    const watcher = new DroverClient({ url: slow.url, token, WebSocket });
    try {
      const type = uniqueType();
      const { job } = await client.submit(type, {}, { group: group(), allowUnknownType: true });
      const lease = await hold(type);
      const seen: EventRecord[] = [];
      const sub = watcher.subscribe(topics.job(job.id), {
        cursor: await head(client, topics.job(job.id)),
        onEvents: (events) => seen.push(...events),
      });
      // The first progress goes at once (nothing was sent yet); the second opens the window.
      await t.engine.reportProgress([{ ...lease, progress: 0.25 }]);
      await until(() => seen.length > 0, 'the first batch');
      await t.engine.reportProgress([{ ...lease, progress: 0.5 }]);
      await sleep(300);
      assert.ok(
        !seen.some((e) => e.kind === 'job.updated' && e.data.progress === 0.5),
        'progress inside the window waits',
      );
      await t.engine.complete([{ ...lease, result: { ok: true } }]);
      await until(
        () => seen.some((e) => e.kind === 'job.updated' && e.data.status === 'succeeded'),
        'the end of the job',
      );
      sub.close();
    } finally {
      watcher.close();
      await slow.close();
    }
  });

  it('stops delivering after unsubscribe', async () => {
    const g = group();
    const seen: EventRecord[] = [];
    const sub = client.subscribe(topics.groupJobs(g), { onEvents: (e) => seen.push(...e) });
    await client.submit('hello', {}, { group: g, allowUnknownType: true });
    await until(() => seen.length >= 1, 'the first job');
    sub.close();
    await sleep(100);
    const count = seen.length;
    await client.submit('hello', {}, { group: g, allowUnknownType: true });
    await sleep(600);
    assert.equal(seen.length, count);
  });

  it('refuses a bad topic or cursor, and a subscription over HTTP, keeping nothing', async () => {
    await assert.rejects(
      client.call('events.subscribe', { subscription: 'x1', topic: 'nope' as never, cursor: '' }),
      (e: unknown) => e instanceof DroverError && e.code === 'DROVER_E_INVALID_PARAMS',
    );
    await assert.rejects(
      client.call('events.subscribe', { subscription: 'x1', topic: 'workers', cursor: 'zz' }),
      (e: unknown) => e instanceof DroverError && e.code === 'DROVER_E_INVALID_PARAMS',
    );
    // Nothing was kept under that name: it can be used now.
    const ok = await client.call('events.subscribe', {
      subscription: 'x1',
      topic: 'workers',
      cursor: '',
    });
    assert.equal(ok.subscription, 'x1');
    await client.call('events.unsubscribe', { subscription: 'x1' });
    const response = await fetch(`${server.url}/rpc`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'events.subscribe',
        params: { subscription: 's', topic: 'workers' },
      }),
    });
    const body = (await response.json()) as { error?: { code: number } };
    assert.equal(body.error?.code, -32600);
  });

  it('tells a refused subscription through onError, and ends a wait when the client closes', async () => {
    const refused = await new Promise<Error>((resolve) => {
      client.subscribe('job/not-a-job', { onEvents: () => undefined, onError: resolve });
    });
    assert.ok(refused instanceof DroverError && refused.code === 'DROVER_E_INVALID_PARAMS');

    const c = new DroverClient({ url: server.url, token, WebSocket });
    const { job } = await c.submit(uniqueType(), {}, { group: group(), allowUnknownType: true });
    await assert.rejects(
      c.waitFor(job.id, { signal: AbortSignal.abort() }),
      (e: unknown) => e instanceof Error && e.name === 'AbortError',
    );
    const waiting = c.waitFor(job.id);
    await sleep(200);
    c.close();
    await assert.rejects(
      waiting,
      (e: unknown) => e instanceof DroverError && e.code === 'DROVER_E_CONNECTION_LOST',
    );
  });

  it('waits for a job to finish, with its updates on the way', async () => {
    const type = uniqueType();
    const { job } = await client.submit(type, {}, { group: group(), allowUnknownType: true });
    const updates: JobRecord[] = [];
    const waiting = client.waitFor(job.id, { onUpdate: (j) => updates.push(j) });
    const lease = await hold(type);
    await t.engine.complete([{ ...lease, result: 'done' }]);
    const done = await waiting;
    assert.equal(done.status, 'succeeded');
    assert.equal(updates.at(-1)?.status, 'succeeded');
  });

  it('reads back the results of a task type, in order, checked and typed by its schema', async () => {
    const type = uniqueType();
    const counted = {
      name: type,
      params: z.object({ text: z.string() }),
      result: z.object({ words: z.int() }),
    };
    const { job } = await client.submit(
      counted,
      { text: '' },
      {
        group: group(),
        items: [{ text: 'a b' }, { text: 'c' }],
        then: [{ taskType: 'other' }],
        allowUnknownType: true,
      },
    );
    const first = await hold(type);
    await t.engine.complete([{ ...first, result: { words: 2 } }]);
    const second = await hold(type);
    const early = await client.results(counted, job.id);
    assert.deepEqual(
      early.map((task) => [task.index, task.status, task.result?.words ?? null]),
      [
        [0, 'succeeded', 2],
        [1, 'leased', null],
      ],
      'only the task type asked for, an unfinished one without a result',
    );
    await t.engine.complete([{ ...second, result: { words: 'one' } }]);
    await assert.rejects(client.results(counted, job.id), /words/, 'a result off its schema');
    const untyped = await client.results({ name: type, params: counted.params }, job.id);
    assert.deepEqual(
      untyped.map((task) => task.result),
      [{ words: 2 }, { words: 'one' }],
    );
  });

  it('resumes after the server restarts: every event once, in order, none missed', async () => {
    const port = Number(new URL(server.url).port);
    const g = group();
    const seen: EventRecord[] = [];
    const states: string[] = [];
    const stop = client.onStateChange((s) => states.push(s));
    const sub = client.subscribe(topics.groupJobs(g), { onEvents: (e) => seen.push(...e) });
    const submitted: string[] = [];
    const submit = async (n: number) => {
      for (let i = 0; i < n; i++) {
        const { job } = await t.engine.submit({
          group: g,
          taskType: 'hello',
          name: `j${submitted.length}`,
        });
        submitted.push(job.id);
      }
    };
    await submit(5);
    await until(() => seen.length >= 5, 'the first five');
    await server.close();
    await submit(5); // while no server runs
    server = await startServer({ engine: t.engine, port });
    await submit(5);
    await until(() => seen.length >= 15, 'all fifteen after the reconnect', 20_000);
    await sleep(300);
    sub.close();
    stop();
    assert.ok(states.includes('reconnecting'), `states: ${states.join(', ')}`);
    assert.equal(client.state, 'open');
    assert.deepEqual(
      seen.map((e) => e.subject),
      submitted,
      'each job added once, in submission order',
    );
  });

  it('signs in with its token; a token the server does not know ends the client, for good', async () => {
    assert.equal((await client.call('auth.whoami', {})).role, 'admin');
    const refused = new DroverClient({ url: server.url, token: 'not-a-token-here', WebSocket });
    const unauthorized = (e: unknown) =>
      e instanceof DroverError && e.code === 'DROVER_E_UNAUTHORIZED' && !e.retryable;
    await assert.rejects(refused.call('groups.list', {}), unauthorized);
    assert.equal(refused.state, 'closed', 'no reconnecting with what was refused');
    await assert.rejects(refused.call('groups.list', {}), unauthorized);
    refused.close();
  });

  it('fails a call whose connection is lost before the answer, and never sends it twice', async () => {
    // A peer that takes requests and hangs up without answering.
    const received: string[] = [];
    const peer = new WebSocketServer({ port: 0, path: '/ws' });
    peer.on('connection', (ws) => {
      ws.on('message', (data) => {
        received.push(Buffer.isBuffer(data) ? data.toString('utf8') : 'binary');
        ws.terminate();
      });
    });
    await new Promise((resolve) => peer.once('listening', resolve));
    const { port } = peer.address() as AddressInfo;
    const c = new DroverClient({
      url: `http://127.0.0.1:${port}`,
      WebSocket,
      reconnect: { initialMs: 20 },
    });
    await assert.rejects(
      c.call('groups.list', {}),
      (e: unknown) =>
        e instanceof DroverError && e.code === 'DROVER_E_CONNECTION_LOST' && e.retryable,
    );
    await until(() => c.state === 'open', 'the reconnect');
    await sleep(200);
    assert.equal(received.length, 1, 'sent once, not again after the reconnect');
    c.close();
    await assert.rejects(c.call('groups.list', {}), /closed/);
    assert.equal(c.state, 'closed');
    peer.close();
  });
});
