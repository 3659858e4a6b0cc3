import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import type { Assignment } from '@drover/protocol';
import { backend, openTestEngine, tokenFor } from '@drover/engine/testing';
import type { TestEngine } from '@drover/engine/testing';
import { startServer } from '../src/index.js';
import type { DroverServer } from '../src/index.js';

/** A worker speaking the protocol by hand: it holds what it is assigned until told to finish. */
class ProtocolWorker {
  readonly assigned: Assignment[] = [];
  /** How many tasks it was ever assigned. */
  received = 0;
  /** The attempts the server told it to stop. */
  readonly stopped: string[] = [];
  readonly #ws: WebSocket;
  #nextId = 1;
  readonly #pending = new Map<number, (message: { result?: unknown; error?: unknown }) => void>();

  private constructor(ws: WebSocket) {
    this.#ws = ws;
    ws.on('message', (data: Buffer) => {
      const message = JSON.parse(data.toString('utf8')) as {
        id?: number;
        method?: string;
        params?: { assignments: Assignment[]; attemptIds: string[] };
        result?: unknown;
        error?: unknown;
      };
      if (message.method === 'tasks.assign' && message.params) {
        this.assigned.push(...message.params.assignments);
        this.received += message.params.assignments.length;
      } else if (message.method === 'tasks.stop' && message.params) {
        this.stopped.push(...message.params.attemptIds);
      } else if (message.id !== undefined) this.#pending.get(message.id)?.(message);
    });
  }

  static async connect(url: string, token: string, name: string, taskType: string, slots: number) {
    const ws = new WebSocket(`${url.replace('http', 'ws')}/ws`);
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    const worker = new ProtocolWorker(ws);
    const hello = await worker.call('workers.hello', {
      name,
      host: 'test-host',
      taskTypes: [taskType],
      slots,
      token,
    });
    assert.ok(!hello.error, JSON.stringify(hello.error));
    return worker;
  }

  call(method: string, params: unknown): Promise<{ result?: unknown; error?: unknown }> {
    const id = this.#nextId++;
    return new Promise((resolve) => {
      this.#pending.set(id, resolve);
      this.#ws.send(JSON.stringify({ jsonrpc: '2.0', method, params, id }));
    });
  }

  /** Completes everything it holds. */
  async finishAll(): Promise<void> {
    const held = this.assigned.splice(0);
    if (held.length === 0) return;
    const reports = held.map((a) => ({ attemptId: a.attemptId, token: a.token, result: null }));
    const outcome = await this.call('tasks.complete', { reports });
    assert.deepEqual((outcome.result as { refused: string[] }).refused, []);
  }

  close(): void {
    this.#ws.close();
  }
}

async function until<T>(what: string, probe: () => T | undefined, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe(`the dispatcher (${backend})`, () => {
  let t: TestEngine;
  let server: DroverServer;
  /** A worker-role token, which the protocol workers sign in with. */
  let workerToken: string;
  const workers: ProtocolWorker[] = [];
  before(async () => {
    t = await openTestEngine();
    workerToken = await tokenFor(t.engine, { name: 'dispatch workers', role: 'worker' });
    server = await startServer({ engine: t.engine, port: 0 });
  });
  after(async () => {
    for (const w of workers) w.close();
    await server.close();
    await t.close();
  });

  async function fleet(taskType: string, count: number, slots: number) {
    const mine: ProtocolWorker[] = [];
    for (let i = 0; i < count; i++) {
      mine.push(
        await ProtocolWorker.connect(server.url, workerToken, `${taskType}-${i}`, taskType, slots),
      );
    }
    workers.push(...mine);
    return mine;
  }

  it('offers one task at a time to each idle worker in turn, not always to the first', async () => {
    const type = 'fair-turns';
    const fleetOf = await fleet(type, 5, 1);
    for (let round = 0; round < 10; round++) {
      await t.engine.submit({ group: 'dispatch', taskType: type });
      const holder = await until('the task to be handed out', () =>
        fleetOf.find((w) => w.assigned.length > 0),
      );
      assert.equal(
        fleetOf.reduce((n, w) => n + w.assigned.length, 0),
        1,
        'one task, one assignment',
      );
      await holder.finishAll();
    }
    const counts = fleetOf.map((w) => w.received);
    assert.ok(
      counts.every((n) => n >= 1),
      `every idle worker had a turn in 10 rounds: ${counts.join(', ')}`,
    );
  });

  it('fills every free slot of every worker while tasks wait, one slot each before seconds', async () => {
    const type = 'fill-slots';
    const fleetOf = await fleet(type, 4, 3);
    // Fewer tasks than slots: every worker gets one before any gets two.
    await t.engine.submit({
      group: 'dispatch',
      taskType: type,
      items: Array.from({ length: 6 }, (_, i) => ({ i })),
    });
    await until('six tasks handed out', () =>
      fleetOf.reduce((n, w) => n + w.assigned.length, 0) === 6 ? true : undefined,
    );
    const held = fleetOf.map((w) => w.assigned.length).sort();
    assert.deepEqual(held, [1, 1, 2, 2], `spread over the workers: ${held.join(', ')}`);
    // More than the slots: every slot is filled, the rest wait, and a freed slot is refilled.
    await t.engine.submit({
      group: 'dispatch',
      taskType: type,
      items: Array.from({ length: 20 }, (_, i) => ({ i })),
    });
    await until('every slot filled', () =>
      fleetOf.every((w) => w.assigned.length === 3) ? true : undefined,
    );
    const [first] = fleetOf;
    assert.ok(first);
    await first.finishAll();
    await until('the freed slots refilled', () => (first.assigned.length === 3 ? true : undefined));
    for (const w of fleetOf) await w.finishAll();
  });

  it('answers a heartbeat from memory, and stops a lease the database no longer holds', async () => {
    const type = 'heartbeat';
    const [worker] = await fleet(type, 1, 1);
    assert.ok(worker);
    const { job } = await t.engine.submit({ group: 'dispatch', taskType: type });
    const [held] = await until('the task', () =>
      worker.assigned.length > 0 ? worker.assigned : undefined,
    );
    assert.ok(held);
    const lease = { attemptId: held.attemptId, token: held.token };
    const unknown = { attemptId: '999999999', token: held.token };
    const beat = await worker.call('workers.heartbeat', { held: [lease, unknown] });
    assert.deepEqual(
      beat.result,
      { stale: ['999999999'] },
      'only what this server never handed out',
    );
    // Cancelled behind the server's back (as through another replica): the next renewal finds
    // the attempt ended, and the worker is told to stop it.
    await t.engine.cancelJob(job.id, 'elsewhere');
    await t.engine.fail([{ ...lease, error: { message: 'stopped' }, retry: false }]);
    await worker.call('workers.heartbeat', { held: [lease] });
    await until('the stop', () => (worker.stopped.includes(held.attemptId) ? true : undefined));
    worker.assigned.splice(0);
  });

  it('offers nothing to a worker whose connection closed: its turn goes to the others', async () => {
    const type = 'left';
    const [leaving, staying] = await fleet(type, 2, 1);
    assert.ok(leaving && staying);
    leaving.close();
    await t.engine.submit({
      group: 'dispatch',
      taskType: type,
      items: Array.from({ length: 3 }, (_, i) => ({ i })),
    });
    for (let done = 0; done < 3;) {
      await until('a task for the worker that stayed', () =>
        staying.assigned.length > 0 ? true : undefined,
      );
      done += staying.assigned.length;
      await staying.finishAll();
    }
    const [job] = await t.engine.listJobs({ group: 'dispatch', limit: 1 });
    assert.ok(job);
    const finished = await t.engine.getJob(job.id);
    assert.equal(finished.status, 'succeeded');
  });
});
