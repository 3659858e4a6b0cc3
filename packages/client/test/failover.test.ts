import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { WebSocket } from 'ws';
import { topics } from '@drover/protocol';
import type { EventRecord } from '@drover/protocol';
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

/** The URL of a port nobody listens on. */
async function deadUrl(): Promise<string> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return `http://127.0.0.1:${port}`;
}

// Two servers on one database are two replicas of one farm: any of them serves any client.
describe(`a client given several servers (${backend})`, () => {
  let t: TestEngine;
  let token: string;
  const servers: DroverServer[] = [];
  const clients: DroverClient[] = [];
  before(async () => {
    t = await openTestEngine();
    token = await tokenFor(t.engine);
  });
  after(async () => {
    for (const c of clients) c.close();
    for (const s of servers) await s.close();
    await t.close();
  });
  const replica = async () => {
    const server = await startServer({ engine: t.engine, port: 0 });
    servers.push(server);
    return server;
  };
  const clientOf = (url: string[]) => {
    const c = new DroverClient({ url, token, WebSocket, reconnect: { initialMs: 50 } });
    clients.push(c);
    return c;
  };

  it('moves to the next server when its own goes away, and resumes its subscriptions there: every event once, in order', async () => {
    const a = await replica();
    const b = await replica();
    const client = clientOf([a.url, b.url]);
    const group = uniqueType('g').replaceAll('.', '-');
    const seen: EventRecord[] = [];
    const sub = client.subscribe(topics.groupJobs(group), { onEvents: (e) => seen.push(...e) });
    const submitted: string[] = [];
    const submit = async (n: number) => {
      for (let i = 0; i < n; i++) {
        const { job } = await t.engine.submit({
          group,
          taskType: 'hello',
          name: `j${submitted.length}`,
        });
        submitted.push(job.id);
      }
    };
    await submit(5);
    await until(() => seen.length >= 5, 'the first five');
    assert.equal(client.url, a.url, 'the first server first');
    await a.close();
    await submit(5); // while the client has no server
    await until(() => seen.length >= 10, 'the five written while it moved', 20_000);
    assert.equal(client.url, b.url, 'on the other server');
    assert.equal(client.state, 'open');
    await submit(5);
    await until(() => seen.length >= 15, 'all fifteen');
    await sleep(300);
    sub.close();
    assert.deepEqual(
      seen.map((e) => e.subject),
      submitted,
      'each job added once, in submission order',
    );
    // Calls go to the server it is on now.
    assert.equal((await client.call('auth.whoami', {})).role, 'admin');
  });

  it('passes over a server that does not answer, at the start and after a loss, round the list', async () => {
    const dead = await deadUrl();
    const b = await replica();
    const client = clientOf([dead, b.url]);
    assert.equal((await client.call('auth.whoami', {})).role, 'admin');
    assert.equal(client.url, b.url);
    assert.deepEqual(client.urls, [dead, b.url]);
    // b goes; a server comes on b's port again: round the list, through the dead one, back to it.
    const port = Number(new URL(b.url).port);
    await b.close();
    await until(() => client.state === 'reconnecting', 'the loss');
    const back = await startServer({ engine: t.engine, port });
    servers.push(back);
    await until(() => client.state === 'open', 'the reconnect, round the list', 20_000);
    assert.equal(client.url, back.url);
    assert.equal((await client.call('auth.whoami', {})).role, 'admin');
  });

  it('says every server it tried when none answers', async () => {
    const one = await deadUrl();
    const two = await deadUrl();
    const c = new DroverClient({ url: [one, two], token, WebSocket, connectTimeoutMs: 300 });
    clients.push(c);
    await assert.rejects(c.call('groups.list', {}), (e: Error) =>
      e.message.includes(`${one} or ${two}`),
    );
  });

  it('refuses an empty list of servers', () => {
    assert.throws(() => new DroverClient({ url: [], WebSocket }), /at least one server URL/);
  });
});
