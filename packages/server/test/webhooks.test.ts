// Webhooks end to end: a real receiver (node:http) gets signed POSTs when jobs end and workers
// are lost, tries again on 5xx, 429 and silence with back-off, gives up at once on other 4xx
// and after the last try; bad webhooks are refused and nothing is stored.
import assert from 'node:assert/strict';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import {
  backend,
  claimFresh,
  openTestEngine,
  sleep,
  tokenFor,
  uniqueType,
} from '@drover/engine/testing';
import type { TestEngine } from '@drover/engine/testing';
import type { WebhookDelivery, WebhookPayload, WebhookRecord } from '@drover/protocol';
import { startServer } from '../src/index.js';
import type { DroverServer } from '../src/index.js';
import { spawnWorker } from './processes.js';
import type { TestProcess } from './processes.js';
import { startReceiver } from './webhook-receiver.js';
import type { Receiver } from './webhook-receiver.js';

/**
 * The recipe of docs/operations/webhooks.md, as a receiver in Node writes it: HMAC-SHA256 of
 * `<t>.<body>` with the secret, compared in constant time, the timestamp within 5 minutes.
 */
function verify(secret: string, body: string, header: string): boolean {
  const parts = new Map(header.split(',').map((kv) => kv.split('=', 2) as [string, string]));
  const t = Number(parts.get('t'));
  if (!Number.isInteger(t) || Math.abs(Date.now() / 1000 - t) > 300) return false;
  const expected = createHmac('sha256', secret).update(`${t}.${body}`).digest('hex');
  const given = parts.get('v1') ?? '';
  return (
    given.length === expected.length && timingSafeEqual(Buffer.from(given), Buffer.from(expected))
  );
}

describe(`webhooks (${backend})`, () => {
  let t: TestEngine;
  let server: DroverServer;
  let admin: string;
  const processes: TestProcess[] = [];
  const receivers: Receiver[] = [];

  before(async () => {
    t = await openTestEngine();
    admin = await tokenFor(t.engine);
    server = await startServer({
      engine: t.engine,
      port: 0,
      leaseMs: 10_000,
      pollMs: 200,
      webhooks: {
        timeoutMs: 2000,
        maxTries: 4,
        backoff: { initialMs: 200, maxMs: 400 },
        pollMs: 200,
      },
    });
  });
  after(async () => {
    for (const p of processes) p.child.kill('SIGKILL');
    for (const r of receivers) await r.close();
    await server.close();
    await t.close();
  });

  async function receiver(...args: Parameters<typeof startReceiver>): Promise<Receiver> {
    const r = await startReceiver(...args);
    receivers.push(r);
    return r;
  }

  async function call<T = unknown>(method: string, params: unknown, token = admin): Promise<T> {
    const response = await fetch(`${server.url}/rpc`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ jsonrpc: '2.0', method, params, id: 1 }),
    });
    const answer = (await response.json()) as {
      result?: T;
      error?: { message: string; data: { code: string } };
    };
    if (answer.error) {
      throw Object.assign(new Error(answer.error.message), { code: answer.error.data.code });
    }
    return answer.result as T;
  }

  async function addHook(params: Record<string, unknown>) {
    return call<{ webhook: WebhookRecord; secret: string }>('webhooks.add', params);
  }

  async function deliveriesOf(id: string): Promise<WebhookDelivery[]> {
    return (await call<{ deliveries: WebhookDelivery[] }>('webhooks.deliveries', { id }))
      .deliveries;
  }

  async function until<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const value = await probe();
      if (value !== undefined) return value;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await sleep(25);
    }
  }

  it("POSTs a job's success and failure, signed with the secret, to its group's webhook", async () => {
    const r = await receiver();
    const group = uniqueType('hooks').replaceAll('.', '-');
    const { webhook, secret } = await addHook({
      group,
      url: r.url,
      events: ['job.succeeded', 'job.failed'],
    });
    assert.match(secret, /^whsec_/);

    const [won] = await claimFresh(t.engine, 1, group);
    assert.ok(won);
    await t.engine.complete([{ ...won, result: { ok: true } }]);
    const [success] = await r.until(1, (x) => x.event === 'job.succeeded');
    assert.ok(success);
    const payload = JSON.parse(success.body) as WebhookPayload;
    assert.equal(payload.event, 'job.succeeded');
    assert.equal(payload.id, success.delivery);
    assert.equal(payload.data.job?.id, won.task.jobId);
    assert.equal(payload.data.job?.status, 'succeeded');
    assert.equal(payload.data.job?.group, group);
    assert.equal(success.headers['content-type'], 'application/json');
    const signature = String(success.headers['drover-signature']);
    assert.match(signature, /^t=\d+,v1=[0-9a-f]{64}$/);
    assert.ok(verify(secret, success.body, signature), 'the documented recipe verifies it');
    assert.ok(!verify(`${secret}x`, success.body, signature), 'another secret does not');
    assert.ok(!verify(secret, success.body.replace('succeeded', 'failed'), signature));

    // Another group's job tells this webhook nothing; this group's failure does.
    const [elsewhere] = await claimFresh(t.engine, 1, 'another-group');
    assert.ok(elsewhere);
    await t.engine.complete([{ ...elsewhere, result: null }]);
    const [lost] = await claimFresh(t.engine, 1, group);
    assert.ok(lost);
    await t.engine.fail([{ ...lost, error: { message: 'boom' }, retry: false }]);
    const [failure] = await r.until(1, (x) => x.event === 'job.failed');
    assert.ok(failure);
    const failed = JSON.parse(failure.body) as WebhookPayload;
    assert.equal(failed.data.job?.id, lost.task.jobId);
    assert.equal(failed.data.job?.status, 'failed');
    assert.ok(verify(secret, failure.body, String(failure.headers['drover-signature'])));
    const subjects = (await deliveriesOf(webhook.id)).map((d) => d.subject);
    assert.deepEqual(subjects.sort(), [won.task.jobId, lost.task.jobId].sort());
    assert.equal(r.received.length, 2);
  });

  it('tries again after 500 twice, backing off, and is delivered on the third try', async () => {
    const r = await receiver([{ status: 500 }, { status: 500 }, { status: 200 }]);
    const { webhook } = await addHook({ group: 'retries', url: r.url, events: ['job.succeeded'] });
    const [lease] = await claimFresh(t.engine, 1, 'retries');
    assert.ok(lease);
    await t.engine.complete([{ ...lease, result: null }]);
    const tries = await r.until(3);
    assert.equal(new Set(tries.map((x) => x.delivery)).size, 1, 'one delivery, sent three times');
    const [a, b, c] = tries.map((x) => x.at);
    assert.ok(a !== undefined && b !== undefined && c !== undefined);
    // 200 ms, then 400 ms, each ±20%.
    assert.ok(b - a >= 150, `waited ${b - a} ms before the second try`);
    assert.ok(c - b >= 300, `waited ${c - b} ms before the third try`);
    const [delivery] = await until('the delivery to be recorded', async () => {
      const list = await deliveriesOf(webhook.id);
      return list[0]?.state === 'delivered' ? list : undefined;
    });
    assert.equal(delivery?.tries, 3);
    assert.equal(delivery?.status, 200);
  });

  it('honours Retry-After on 429', async () => {
    const r = await receiver([{ status: 429, headers: { 'retry-after': '1' } }, { status: 204 }]);
    const { webhook } = await addHook({
      group: 'slow-down',
      url: r.url,
      events: ['job.cancelled'],
    });
    const { job } = await t.engine.submit({
      group: 'slow-down',
      taskType: uniqueType(),
      items: [{}],
    });
    await t.engine.cancelJob(job.id, 'not needed');
    const [first, second] = await r.until(2);
    assert.ok(first && second);
    assert.equal(first.event, 'job.cancelled');
    assert.ok(
      second.at - first.at >= 950,
      `waited ${second.at - first.at} ms, not Retry-After's 1 s`,
    );
    await until('delivered', async () =>
      (await deliveriesOf(webhook.id))[0]?.state === 'delivered' ? true : undefined,
    );
  });

  it('gives up at once on 404, and after the last try when the receiver is down', async () => {
    const refusing = await receiver([{ status: 404 }]);
    const down = await startReceiver();
    await down.close();
    const { webhook: refused } = await addHook({
      group: 'gone',
      url: refusing.url,
      events: ['job.succeeded'],
    });
    const { webhook: unreachable } = await addHook({
      group: 'gone',
      url: down.url,
      events: ['job.succeeded'],
    });
    const [lease] = await claimFresh(t.engine, 1, 'gone');
    assert.ok(lease);
    await t.engine.complete([{ ...lease, result: null }]);
    const [once] = await until('the 404 to fail it', async () => {
      const list = await deliveriesOf(refused.id);
      return list[0]?.state === 'failed' ? list : undefined;
    });
    assert.equal(once?.tries, 1);
    assert.equal(once?.status, 404);
    const [given] = await until('the last try to fail', async () => {
      const list = await deliveriesOf(unreachable.id);
      return list[0]?.state === 'failed' ? list : undefined;
    });
    assert.equal(given?.tries, 4);
    assert.equal(given?.status, null);
    assert.match(given?.error ?? '', /ECONNREFUSED/);
    assert.match(given?.error ?? '', /gave up after 4 tries/);
    assert.equal(refusing.received.length, 1);
  });

  it('sends a ping on webhooks.test and lists the outcome, never the secret', async () => {
    const r = await receiver();
    const secret = 'a-secret-of-my-own-choosing';
    const { webhook, secret: answered } = await addHook({
      url: r.url,
      events: ['worker.offline'],
      secret,
    });
    assert.equal(answered, secret);
    assert.equal(webhook.group, '*');
    assert.match(webhook.createdBy ?? '', /^tok_/, 'the admin token that added it');
    const ping = await call<WebhookDelivery>('webhooks.test', { id: webhook.id });
    assert.equal(ping.event, 'ping');
    assert.equal(ping.state, 'delivered');
    assert.equal(ping.status, 200);
    const [got] = r.received;
    assert.ok(got);
    assert.equal(got.event, 'ping');
    assert.ok(verify(secret, got.body, String(got.headers['drover-signature'])));
    const listed = await call<{ webhooks: WebhookRecord[] }>('webhooks.list', {});
    const mine = listed.webhooks.find((w) => w.id === webhook.id);
    assert.equal(mine?.lastDelivery?.status, 200);
    assert.ok(!JSON.stringify(listed).includes(secret), 'no secret in the list');
    assert.ok(!JSON.stringify(listed).includes('whsec_'), 'nor a generated one');

    const disabled = await call<WebhookRecord>('webhooks.update', {
      id: webhook.id,
      enabled: false,
    });
    assert.equal(disabled.enabled, false);
    const removed = await call<WebhookRecord>('webhooks.remove', { id: webhook.id });
    assert.equal(removed.id, webhook.id);
    await assert.rejects(call('webhooks.test', { id: webhook.id }), {
      code: 'DROVER_E_WEBHOOK_NOT_FOUND',
    });
  });

  it('refuses bad webhooks with their own codes and stores nothing', async () => {
    const before = (await call<{ webhooks: WebhookRecord[] }>('webhooks.list', {})).webhooks.length;
    await assert.rejects(addHook({ url: 'ftp://example.org/x', events: ['job.failed'] }), {
      code: 'DROVER_E_WEBHOOK_URL',
    });
    await assert.rejects(addHook({ url: 'not a url', events: ['job.failed'] }), {
      code: 'DROVER_E_WEBHOOK_URL',
    });
    await assert.rejects(addHook({ url: 'https://example.org/x', events: ['job.exploded'] }), {
      code: 'DROVER_E_WEBHOOK_EVENT',
      message: /job.exploded.*job.succeeded, job.failed, job.cancelled, worker.offline/,
    });
    await assert.rejects(
      addHook({ group: 'a group?', url: 'https://example.org/x', events: ['job.failed'] }),
      { code: 'DROVER_E_WEBHOOK_GROUP' },
    );
    await assert.rejects(addHook({ url: 'https://example.org/x', events: [] }), {
      code: 'DROVER_E_INVALID_PARAMS',
    });
    const member = await tokenFor(t.engine, {
      name: 'm',
      role: 'member',
      groups: { '*': 'write' },
    });
    await assert.rejects(
      call('webhooks.add', { url: 'https://example.org/x', events: ['job.failed'] }, member),
      { code: 'DROVER_E_FORBIDDEN' },
    );
    const after = (await call<{ webhooks: WebhookRecord[] }>('webhooks.list', {})).webhooks;
    assert.equal(after.length, before);
  });

  it('tells worker.offline when a worker process is killed, not when it leaves as asked', async () => {
    const r = await receiver();
    await addHook({ group: 'workers-group', url: r.url, events: ['worker.offline'] });
    const workerToken = await tokenFor(t.engine, { name: 'w', role: 'worker' });
    const leaving = await spawnWorker(server.url, workerToken, uniqueType('leaving'));
    processes.push(leaving);
    const lost = await spawnWorker(server.url, workerToken, uniqueType('lost'));
    processes.push(lost);

    leaving.child.kill('SIGTERM');
    await until('the leaving worker to be offline', async () =>
      (await t.engine.getWorker(leaving.said)).state === 'offline' ? true : undefined,
    );
    lost.child.kill('SIGKILL');
    // Workers the earlier tests registered without a connection are swept offline too, and told
    // of: this one is waited for by its id.
    const [told] = await r.until(
      1,
      (x) =>
        x.event === 'worker.offline' &&
        (JSON.parse(x.body) as WebhookPayload).data.worker?.id === lost.said,
    );
    assert.ok(told);
    const payload = JSON.parse(told.body) as WebhookPayload;
    assert.equal(payload.data.worker?.id, lost.said);
    assert.equal(payload.data.worker?.state, 'offline');
    // The outbox is written with the state: the drained worker's leaving left no row at all.
    const all = (await call<{ webhooks: WebhookRecord[] }>('webhooks.list', {})).webhooks;
    for (const w of all) {
      for (const d of await deliveriesOf(w.id)) assert.notEqual(d.subject, leaving.said);
    }
  });
});
