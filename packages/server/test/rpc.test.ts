import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { JobRecord } from '@drover/protocol';
import { schemaVersion } from '@drover/engine';
import { backend, openTestEngine, tokenFor } from '@drover/engine/testing';
import type { TestEngine } from '@drover/engine/testing';
import { startServer } from '../src/index.js';
import type { DroverServer } from '../src/index.js';

describe(`JSON-RPC over HTTP and WebSocket (${backend})`, () => {
  let t: TestEngine;
  let server: DroverServer;
  let token: string;
  before(async () => {
    t = await openTestEngine();
    token = await tokenFor(t.engine);
    server = await startServer({ engine: t.engine, port: 0 });
  });
  after(async () => {
    await server.close();
    await t.close();
  });

  async function post(body: string): Promise<{ status: number; json: unknown }> {
    const response = await fetch(`${server.url}/rpc`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body,
    });
    const text = await response.text();
    return { status: response.status, json: text ? JSON.parse(text) : undefined };
  }

  async function call(method: string, params?: unknown, id: number | string = 1) {
    const { json } = await post(JSON.stringify({ jsonrpc: '2.0', method, params, id }));
    return json as {
      result?: unknown;
      error?: { code: number; message: string; data?: { code: string; details?: unknown } };
      id: unknown;
    };
  }

  it('submits a job and reads it back', async () => {
    const submitted = await call('jobs.submit', {
      group: 'rpc',
      taskType: 'hello',
      frames: { start: 1, end: 3 },
      allowUnknownType: true,
    });
    const { job, created } = submitted.result as { job: JobRecord; created: boolean };
    assert.equal(created, true);
    assert.equal(job.taskCount, 3);
    const got = await call('jobs.get', { id: job.id }, 'req-2');
    assert.equal(got.id, 'req-2');
    assert.deepEqual(JobRecord.parse(got.result), job);
    const listed = (await call('jobs.list', { group: 'rpc' })).result as { jobs: JobRecord[] };
    assert.ok(listed.jobs.some((j) => j.id === job.id));
    const tasks = (await call('tasks.list', { jobId: job.id })).result as {
      tasks: { params: unknown }[];
    };
    assert.deepEqual(
      tasks.tasks.map((task) => task.params),
      [{ frame: 1 }, { frame: 2 }, { frame: 3 }],
    );
    const cancelled = (await call('jobs.cancel', { id: job.id, reason: 'changed my mind' }))
      .result as { job: JobRecord };
    assert.equal(cancelled.job.status, 'cancelled');
    assert.equal(cancelled.job.cancelReason, 'changed my mind');
    const retried = (await call('jobs.retry', { id: job.id })).result as {
      job: JobRecord;
      retried: string[];
    };
    assert.equal(retried.retried.length, 3);
    assert.equal(JobRecord.parse(retried.job).status, 'queued');
    const { groups } = (await call('groups.list', {})).result as {
      groups: { name: string; jobs: number; counts: Record<string, number> }[];
    };
    const rpc = groups.find((g) => g.name === 'rpc');
    assert.equal(rpc?.jobs, 1);
    assert.equal(rpc.counts.queued, 1);
    const missing = await call('jobs.retry', { id: '00000000-0000-4000-8000-000000000000' });
    assert.equal(missing.error?.code, -32004);
    assert.equal(missing.error.data?.code, 'DROVER_E_NOT_FOUND');
  });

  it('answers malformed JSON with -32700 and a request that is not JSON-RPC with -32600', async () => {
    const parse = await post('{"jsonrpc": "2.0", "method": ');
    assert.equal(parse.status, 200);
    assert.deepEqual((parse.json as { error: { code: number }; id: null }).error.code, -32700);
    assert.equal((parse.json as { id: null }).id, null);
    const invalid = await post(JSON.stringify({ jsonrpc: '1.0', method: 'jobs.get', id: 7 }));
    assert.equal((invalid.json as { error: { code: number } }).error.code, -32600);
    assert.equal((invalid.json as { id: number }).id, 7);
    const empty = await post('[]');
    assert.equal((empty.json as { error: { code: number } }).error.code, -32600);
  });

  it('answers an unknown method with -32601 and bad params with -32602, changing nothing', async () => {
    const unknown = await call('jobs.explode', {});
    assert.equal(unknown.error?.code, -32601);
    assert.equal(unknown.error?.data?.code, 'DROVER_E_METHOD_NOT_FOUND');
    const before = (await call('jobs.list', { group: 'bad-input' })).result as { jobs: unknown[] };
    for (const params of [
      { group: 'bad-input', taskType: 'x', frames: { start: 5, end: 1 } },
      { group: 'bad input', taskType: 'x' },
      ['bad-input', 'x'],
    ]) {
      const bad = await call('jobs.submit', params);
      assert.equal(bad.error?.code, -32602, JSON.stringify(params));
      assert.equal(bad.error?.data?.code, 'DROVER_E_INVALID_PARAMS');
    }
    const badGet = await call('jobs.get', { id: 'not-a-uuid' });
    assert.equal(badGet.error?.code, -32602);
    assert.deepEqual((badGet.error?.data?.details as { path: string }[])[0]?.path, 'id');
    const after = (await call('jobs.list', { group: 'bad-input' })).result as { jobs: unknown[] };
    assert.deepEqual(after, before);
    const missing = await call('jobs.get', { id: '00000000-0000-4000-8000-000000000000' });
    assert.equal(missing.error?.code, -32004);
    assert.equal(missing.error?.data?.code, 'DROVER_E_NOT_FOUND');
  });

  it('answers a batch in order, skipping notifications, and a batch of notifications with nothing', async () => {
    const { json } = await post(
      JSON.stringify([
        { jsonrpc: '2.0', method: 'workers.list', params: {}, id: 'a' },
        {
          jsonrpc: '2.0',
          method: 'jobs.submit',
          params: { group: 'batch', taskType: 'n', allowUnknownType: true },
        },
        { jsonrpc: '2.0', method: 'nope', id: 'b' },
        { foo: 'bar' },
      ]),
    );
    const responses = json as { id: unknown; result?: unknown; error?: { code: number } }[];
    assert.deepEqual(
      responses.map((r) => [r.id, r.error?.code ?? 'ok']),
      [
        ['a', 'ok'],
        ['b', -32601],
        [null, -32600],
      ],
    );
    const notificationsOnly = await post(
      JSON.stringify([
        {
          jsonrpc: '2.0',
          method: 'jobs.submit',
          params: { group: 'batch', taskType: 'n', allowUnknownType: true },
        },
      ]),
    );
    assert.equal(notificationsOnly.status, 204);
    assert.equal(notificationsOnly.json, undefined);
    const jobs = (await call('jobs.list', { group: 'batch' })).result as { jobs: unknown[] };
    assert.equal(jobs.jobs.length, 2, 'notifications are carried out');
  });

  it('speaks the same JSON-RPC over the WebSocket', async () => {
    const ws = new WebSocket(`${server.url.replace('http', 'ws')}/ws`, {
      headers: { authorization: `Bearer ${token}` },
    });
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    const replies: unknown[] = [];
    ws.on('message', (data: Buffer) => replies.push(JSON.parse(data.toString('utf8'))));
    ws.send(
      JSON.stringify({
        jsonrpc: '2.0',
        method: 'jobs.submit',
        params: { group: 'ws', taskType: 'hello', allowUnknownType: true },
        id: 1,
      }),
    );
    ws.send('not json');
    ws.send(
      JSON.stringify([{ jsonrpc: '2.0', method: 'jobs.list', params: { group: 'ws' }, id: 2 }]),
    );
    const deadline = Date.now() + 5000;
    while (replies.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    ws.close();
    const kinds = replies
      .map((r) => {
        if (Array.isArray(r)) return 'batch';
        const error = (r as { error?: { code: number } }).error;
        return error ? `error ${error.code}` : 'result';
      })
      .sort();
    assert.deepEqual(kinds, ['batch', 'error -32700', 'result']);
  });

  it('refuses a WebSocket from another site', async () => {
    const ws = new WebSocket(`${server.url.replace('http', 'ws')}/ws`, {
      headers: { origin: 'https://evil.example' },
    });
    const outcome = await new Promise<string>((resolve) => {
      ws.once('open', () => resolve('open'));
      ws.once('error', (error) => resolve(error.message));
    });
    assert.match(outcome, /403/);
  });

  it('reports health', async () => {
    assert.deepEqual(await (await fetch(`${server.url}/healthz`)).json(), { ok: true });
    const response = await fetch(`${server.url}/readyz`);
    assert.equal(response.status, 200);
    const { required } = await schemaVersion(t.engine.database);
    assert.deepEqual(await response.json(), {
      ok: true,
      database: t.engine.kind,
      schema: required,
    });
  });

  it('refuses worker methods without the worker token', async () => {
    const ws = new WebSocket(`${server.url.replace('http', 'ws')}/ws`);
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    const replies = new Map<number, { error?: { code: number; data?: { code: string } } }>();
    ws.on('message', (data: Buffer) => {
      const reply = JSON.parse(data.toString('utf8')) as { id: number; error?: { code: number } };
      replies.set(reply.id, reply);
    });
    const lease = { attemptId: '1', token: '00000000-0000-4000-8000-000000000000' };
    ws.send(
      JSON.stringify({
        jsonrpc: '2.0',
        method: 'tasks.complete',
        params: { reports: [{ ...lease, result: 1 }] },
        id: 1,
      }),
    );
    ws.send(
      JSON.stringify({
        jsonrpc: '2.0',
        method: 'workers.hello',
        params: { name: 'intruder', host: 'h', taskTypes: ['x'], slots: 1, token: 'wrong-token' },
        id: 2,
      }),
    );
    const deadline = Date.now() + 5000;
    while (replies.size < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    ws.close();
    assert.equal(replies.get(1)?.error?.data?.code, 'DROVER_E_UNAUTHORIZED');
    assert.equal(replies.get(2)?.error?.data?.code, 'DROVER_E_UNAUTHORIZED');
    const { workers } = (await call('workers.list', {})).result as { workers: { name: string }[] };
    assert.ok(!workers.some((w) => w.name === 'intruder'), 'nothing was registered');
  });
});
