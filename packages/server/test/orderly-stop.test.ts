// A server that stops in an orderly way (SIGTERM, drover up stopping, a restart) answers every
// report it takes before its connections close. What reaches it once it has begun to stop it does
// not take: the worker keeps it and delivers it where it reconnects, so that nothing is written
// twice by a report whose answer was lost with the connection.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import WebSocket from 'ws';
import type { Assignment } from '@drover/protocol';
import { backend, openTestEngine, sleep, tokenFor, uniqueType } from '@drover/engine/testing';
import { startServer } from '../src/index.js';

interface Answer {
  result?: unknown;
  error?: { data?: { code?: string; retryable?: boolean } };
}

/** A worker speaking the protocol by hand, so that each report goes exactly when the test says. */
class HandWorker {
  readonly assigned: Assignment[] = [];
  readonly #ws: WebSocket;
  #nextId = 1;
  readonly #pending = new Map<number, (answer: Answer) => void>();

  private constructor(ws: WebSocket) {
    this.#ws = ws;
    ws.on('message', (data: Buffer) => {
      const message = JSON.parse(data.toString('utf8')) as Answer & {
        id?: number;
        method?: string;
        params?: { assignments: Assignment[] };
      };
      if (message.method === 'tasks.assign' && message.params)
        this.assigned.push(...message.params.assignments);
      else if (message.id !== undefined) this.#pending.get(message.id)?.(message);
    });
  }

  static async connect(url: string, token: string, taskType: string): Promise<HandWorker> {
    const ws = new WebSocket(`${url.replace('http', 'ws')}/ws`);
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    const worker = new HandWorker(ws);
    const hello = await worker.call('workers.hello', {
      name: uniqueType('hand'),
      host: 'test-host',
      taskTypes: [taskType],
      slots: 1,
      token,
    });
    assert.ok(!hello.error, JSON.stringify(hello.error));
    return worker;
  }

  call(method: string, params: unknown): Promise<Answer> {
    const id = this.#nextId++;
    return new Promise((resolve) => {
      this.#pending.set(id, resolve);
      this.#ws.send(JSON.stringify({ jsonrpc: '2.0', method, params, id }));
    });
  }

  close(): void {
    this.#ws.close();
  }
}

const line = (text: string) => ({ at: new Date().toISOString(), stream: 'log', line: text });

describe(`a server stopping in an orderly way (${backend})`, () => {
  it('takes no report once it begins to stop: it answers "send it again" and writes none', async () => {
    const t = await openTestEngine();
    const token = await tokenFor(t.engine, { name: 'stopping workers', role: 'worker' });
    const server = await startServer({ engine: t.engine, port: 0, pollMs: 200 });
    const type = uniqueType('stopping');
    const worker = await HandWorker.connect(server.url, token, type);
    try {
      const { job } = await t.engine.submit({ group: 'stopping', taskType: type });
      const deadline = Date.now() + 10_000;
      while (worker.assigned.length === 0 && Date.now() < deadline) await sleep(10);
      const assignment = worker.assigned[0];
      assert.ok(assignment, 'the task reached the worker');
      const lease = { attemptId: assignment.attemptId, token: assignment.token };
      const taken = await worker.call('tasks.log', {
        batches: [{ ...lease, lines: [line('before the stop')] }],
      });
      assert.deepEqual(taken.result, { refused: [] });

      // The stop begins; the connection is still open, and the worker reports its end on it.
      const stopping = server.hub.close();
      const answers = await Promise.all([
        worker.call('tasks.started', { leases: [lease] }),
        worker.call('tasks.progress', { reports: [{ ...lease, progress: 1 }] }),
        worker.call('tasks.log', { batches: [{ ...lease, lines: [line('during the stop')] }] }),
        worker.call('tasks.complete', { reports: [{ ...lease, result: 'done' }] }),
      ]);
      for (const answer of answers) {
        assert.equal(answer.error?.data?.code, 'DROVER_E_CONNECTION_LOST', JSON.stringify(answer));
        assert.equal(answer.error.data.retryable, true, 'the worker keeps it for the next server');
      }
      await stopping;

      const { events } = await t.engine.readEvents({
        topic: `task/${assignment.task.id}/log`,
        after: '',
      });
      assert.deepEqual(
        events.flatMap((e) => (e.kind === 'task.log' ? e.data.lines.map((l) => l.line) : [])),
        ['before the stop'],
        'only the line taken before the stop is written',
      );
      const [task] = await t.engine.listTasks(job.id);
      assert.equal(
        task?.status,
        'leased',
        'its start and result are left for the worker to send again',
      );
    } finally {
      worker.close();
      await server.close();
      await t.close();
    }
  });
});
