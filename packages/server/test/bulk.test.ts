// One call for every worker or job a filter selects, over HTTP, reaching the workers connected
// by WebSocket as the single calls do; removing a finished job.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import type { Assignment, JobRecord, WorkerRecord } from '@drover/protocol';
import { backend, openTestEngine, sleep, tokenFor, uniqueType } from '@drover/engine/testing';
import type { TestEngine } from '@drover/engine/testing';
import { startServer } from '../src/index.js';
import type { DroverServer } from '../src/index.js';

interface Message {
  method?: string;
  params?: Record<string, unknown>;
  id?: number;
  result?: unknown;
}

describe(`bulk actions and removal over the wire (${backend})`, () => {
  let t: TestEngine;
  let server: DroverServer;
  let admin: string;
  let workerToken: string;
  before(async () => {
    t = await openTestEngine();
    admin = await tokenFor(t.engine);
    workerToken = await tokenFor(t.engine, { name: 'workers', role: 'worker' });
    server = await startServer({ engine: t.engine, port: 0 });
  });
  after(async () => {
    await server.close();
    await t.close();
  });

  async function call(method: string, params: unknown) {
    const response = await fetch(`${server.url}/rpc`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${admin}` },
      body: JSON.stringify({ jsonrpc: '2.0', method, params, id: 1 }),
    });
    return (await response.json()) as {
      result?: unknown;
      error?: { message: string; data?: { code: string } };
    };
  }

  /** A worker's socket that has said hello: every message the server sends it is kept. */
  async function connectWorker(name: string, tags: string[], taskTypes: string[]) {
    const ws = new WebSocket(`${server.url.replace('http', 'ws')}/ws`);
    const received: Message[] = [];
    ws.on('message', (data: Buffer) => {
      const message = JSON.parse(data.toString()) as Message;
      received.push(message);
      // Assignments are acknowledged as started, as a worker does.
      if (message.method === 'tasks.assign') {
        const assignments = (message.params?.assignments ?? []) as Assignment[];
        ws.send(
          JSON.stringify({
            jsonrpc: '2.0',
            method: 'tasks.started',
            params: {
              leases: assignments.map((a) => ({ attemptId: a.attemptId, token: a.token })),
            },
          }),
        );
      }
    });
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    ws.send(
      JSON.stringify({
        jsonrpc: '2.0',
        method: 'workers.hello',
        params: { name, host: 'h', tags, taskTypes, slots: 1, token: workerToken },
        id: 1,
      }),
    );
    await waitFor(() => received.some((m) => m.id === 1), 'the hello answered');
    return { ws, received };
  }

  async function waitFor(done: () => boolean, what: string): Promise<void> {
    const deadline = Date.now() + 10_000;
    while (!done()) {
      if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
      await sleep(20);
    }
  }

  it('tells every worker a tag selects that it is disabled, in one call', async () => {
    const gpu = uniqueType('gpu');
    const a = await connectWorker(uniqueType('a'), [gpu], ['hello']);
    const b = await connectWorker(uniqueType('b'), ['cpu'], ['hello']);
    try {
      const answer = await call('workers.apply', { action: 'disable', filter: { tags: [gpu] } });
      const { workers, matched } = answer.result as { workers: WorkerRecord[]; matched: number };
      assert.equal(matched, 1);
      assert.deepEqual(
        workers.map((w) => w.state),
        ['disabled'],
      );
      await waitFor(
        () =>
          a.received.some((m) => m.method === 'workers.state' && m.params?.state === 'disabled'),
        'the disabled worker to hear it',
      );
      await sleep(200);
      assert.ok(!b.received.some((m) => m.method === 'workers.state'), 'the other hears nothing');

      const refused = await call('workers.apply', { action: 'disable', filter: {} });
      assert.equal(refused.error?.data?.code, 'DROVER_E_INVALID_PARAMS');
      assert.match(refused.error?.message ?? '', /all: true/);
      const listed = (await call('workers.list', {})).result as { workers: WorkerRecord[] };
      assert.ok(
        listed.workers.filter((w) => w.tags.includes('cpu')).every((w) => w.state === 'online'),
      );
    } finally {
      a.ws.close();
      b.ws.close();
    }
  });

  it('cancels every running job of a group and stops their tasks on the worker; removes them once finished', async () => {
    const type = uniqueType('slow');
    const group = uniqueType('g').replaceAll('.', '-');
    const worker = await connectWorker(uniqueType('w'), [], [type]);
    try {
      const submitted = (await call('jobs.submit', { group, taskType: type, params: {} }))
        .result as { job: JobRecord };
      await waitFor(
        () => worker.received.some((m) => m.method === 'tasks.assign'),
        'the task to be assigned',
      );
      const early = await call('jobs.remove', { id: submitted.job.id });
      assert.equal(early.error?.data?.code, 'DROVER_E_CONFLICT');
      assert.match(early.error?.message ?? '', /cancel it first/i);

      const cancelled = (
        await call('jobs.apply', {
          action: 'cancel',
          filter: { group, statuses: ['queued', 'running'] },
          values: { reason: 'enough' },
        })
      ).result as { jobs: JobRecord[]; more: boolean };
      assert.deepEqual(
        cancelled.jobs.map((j) => [j.id, j.cancelReason]),
        [[submitted.job.id, 'enough']],
      );
      await waitFor(
        () =>
          worker.received.some((m) => m.method === 'tasks.stop' && m.params?.reason === 'enough'),
        'the worker told to stop the task',
      );
    } finally {
      worker.ws.close();
    }
    // The worker went away: its attempt is lost, and the cancelled job ends.
    const [job] = await t.engine.listJobs({ group });
    assert.ok(job);
    const deadline = Date.now() + 10_000;
    while ((await t.engine.getJob(job.id)).status !== 'cancelled') {
      if (Date.now() > deadline) throw new Error('the job never ended');
      await sleep(50);
    }
    const removed = (
      await call('jobs.apply', { action: 'remove', filter: { group, statuses: ['cancelled'] } })
    ).result as { jobs: JobRecord[] };
    assert.equal(removed.jobs.length, 1);
    assert.deepEqual(await t.engine.listJobs({ group }), []);
  });
});
