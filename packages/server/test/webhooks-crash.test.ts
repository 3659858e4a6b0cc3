// A server killed (SIGKILL) in the middle of a delivery loses nothing: the delivery, written with
// the job's end, is sent again once the server is back and its try's lease has run out.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { backend, openTestEngine, tokenFor } from '@drover/engine/testing';
import type { WebhookDelivery, WebhookPayload, WebhookRecord } from '@drover/protocol';
import { spawnWebhookServer, spawnWorker } from './processes.js';
import type { TestProcess } from './processes.js';
import { startReceiver } from './webhook-receiver.js';

describe(`webhooks across a server's crash (${backend})`, () => {
  const processes: TestProcess[] = [];
  const cleanups: (() => Promise<void>)[] = [];
  after(async () => {
    for (const p of processes) p.child.kill('SIGKILL');
    for (const cleanup of cleanups) await cleanup();
  });

  async function call<T>(url: string, token: string, method: string, params: unknown): Promise<T> {
    const response = await fetch(`${url}/rpc`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ jsonrpc: '2.0', method, params, id: 1 }),
    });
    const answer = (await response.json()) as { result?: T; error?: { message: string } };
    if (answer.error) throw new Error(answer.error.message);
    return answer.result as T;
  }

  it('delivers after a restart what a killed server was sending', async () => {
    const t = await openTestEngine();
    const admin = await tokenFor(t.engine);
    const workerToken = await tokenFor(t.engine, { name: 'w', role: 'worker' });
    let where: string;
    if (backend === 'postgres') {
      assert.ok(t.schema);
      where = t.schema;
      cleanups.push(() => t.close());
    } else {
      // The server process owns the data directory from here on.
      assert.ok(t.dataDir);
      where = t.dataDir;
      const dir = t.dataDir;
      await t.engine.close();
      cleanups.push(() => Promise.resolve(rmSync(dir, { recursive: true, force: true })));
    }
    const receiver = await startReceiver(['hang', { status: 200 }]);
    cleanups.push(() => receiver.close());

    const first = await spawnWebhookServer(where);
    processes.push(first);
    const { webhook } = await call<{ webhook: WebhookRecord }>(first.said, admin, 'webhooks.add', {
      url: receiver.url,
      events: ['job.succeeded'],
    });
    const worker = await spawnWorker(first.said, workerToken, `crash-${process.pid}`);
    processes.push(worker);
    const { job } = await call<{ job: { id: string } }>(first.said, admin, 'jobs.submit', {
      group: 'crash',
      taskType: 'sleepy',
      params: { steps: 1, stepMs: 1 },
    });
    // The first try reaches the receiver, which never answers it: the server dies mid-try.
    const [hung] = await receiver.until(1);
    assert.ok(hung);
    first.child.kill('SIGKILL');
    worker.child.kill('SIGKILL');
    await new Promise((resolve) => first.child.once('exit', resolve));

    const second = await spawnWebhookServer(where);
    processes.push(second);
    const [, again] = await receiver.until(2, () => true, 30_000);
    assert.ok(again);
    assert.equal(
      again.delivery,
      hung.delivery,
      'the same delivery, for the receiver to de-duplicate',
    );
    assert.equal(again.body, hung.body);
    const payload = JSON.parse(again.body) as WebhookPayload;
    assert.equal(payload.data.job?.id, job.id);
    assert.equal(payload.data.job?.status, 'succeeded');
    const delivered = await (async () => {
      const deadline = Date.now() + 10_000;
      for (;;) {
        const { deliveries } = await call<{ deliveries: WebhookDelivery[] }>(
          second.said,
          admin,
          'webhooks.deliveries',
          { id: webhook.id },
        );
        if (deliveries[0]?.state === 'delivered' || Date.now() > deadline) return deliveries;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    })();
    assert.equal(delivered.length, 1);
    assert.equal(delivered[0]?.state, 'delivered');
    assert.equal(delivered[0]?.tries, 2);
    second.child.kill('SIGKILL');
    await new Promise((resolve) => second.child.once('exit', resolve));
  });
});
