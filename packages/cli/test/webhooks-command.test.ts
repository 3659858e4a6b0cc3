// `drover webhooks add|ls|test|deliveries|rm` through the real CLI against a real server, with a
// real receiver (node:http): the secret is printed once, on add, and never by ls; bad webhooks
// are refused with their codes.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { backend, openTestEngine, tokenFor } from '@drover/engine/testing';
import type { TestEngine } from '@drover/engine/testing';
import { startServer } from '@drover/server';
import type { DroverServer } from '@drover/server';
import { drover } from './run-drover.js';

describe(`drover webhooks (${backend})`, () => {
  let t: TestEngine;
  let server: DroverServer;
  let receiver: Server;
  let receiverUrl: string;
  const events: string[] = [];
  let dir: string;
  let env: NodeJS.ProcessEnv;

  before(async () => {
    t = await openTestEngine();
    dir = mkdtempSync(join(tmpdir(), 'drover-webhooks-command-'));
    writeFileSync(join(dir, 'drover.json'), '{}');
    server = await startServer({ engine: t.engine, port: 0 });
    env = { DROVER_TOKEN: await tokenFor(t.engine), DROVER_SERVER: server.url };
    receiver = createServer((request, response) => {
      events.push(String(request.headers['drover-event']));
      request.resume().on('end', () => response.writeHead(200).end());
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const address = receiver.address();
    receiverUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/hook`;
  });
  after(async () => {
    await server.close();
    receiver.closeAllConnections();
    await new Promise((resolve) => receiver.close(resolve));
    await t.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('adds a webhook, prints its secret once, sends a ping and removes it', async () => {
    const added = await drover(
      [
        'webhooks',
        'add',
        '--group',
        'render',
        '--url',
        receiverUrl,
        '--events',
        'job.failed,worker.offline',
      ],
      { cwd: dir, env },
    );
    assert.equal(added.code, 0, added.stderr);
    const id = /added webhook (whk_\w{12}): job\.failed, worker\.offline of group render/.exec(
      added.stdout,
    )?.[1];
    assert.ok(id, added.stdout);
    const secret = /secret \(shown this once.*\): (whsec_\S+)/.exec(added.stdout)?.[1];
    assert.ok(secret, added.stdout);

    const listed = await drover(['webhooks', 'ls'], { cwd: dir, env });
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, new RegExp(`${id}\\s+render\\s+job\\.failed,worker\\.offline\\s+`));
    assert.match(listed.stdout, /none/);
    const json = await drover(['webhooks', 'ls', '--json'], { cwd: dir, env });
    for (const run of [listed, json])
      assert.ok(!run.stdout.includes(secret), 'ls never prints the secret');

    const tested = await drover(['webhooks', 'test', id], { cwd: dir, env });
    assert.equal(tested.code, 0, tested.stderr);
    assert.match(tested.stdout, /^ping [0-9a-f-]{36}: delivered \(HTTP 200, try 1\)/);
    assert.deepEqual(events, ['ping']);
    const afterTest = await drover(['webhooks', 'ls'], { cwd: dir, env });
    assert.match(afterTest.stdout, /delivered 200/);
    const deliveries = await drover(['webhooks', 'deliveries', id], { cwd: dir, env });
    assert.match(deliveries.stdout, new RegExp(`ping\\s+${id}\\s+delivered\\s+1\\s+200`));

    const removed = await drover(['webhooks', 'rm', id], { cwd: dir, env });
    assert.equal(removed.code, 0, removed.stderr);
    assert.match(removed.stdout, new RegExp(`removed webhook ${id}`));
    assert.deepEqual(await t.engine.webhooks.list(), []);
  });

  it('takes the secret from a file and never prints it', async () => {
    writeFileSync(join(dir, 'secret'), 'the-receivers-own-secret-1234\n', { mode: 0o600 });
    const added = await drover(
      [
        'webhooks',
        'add',
        '--url',
        receiverUrl,
        '--events',
        'job.succeeded',
        '--secret-file',
        'secret',
      ],
      { cwd: dir, env },
    );
    assert.equal(added.code, 0, added.stderr);
    assert.match(added.stdout, /of every group/);
    assert.ok(!added.stdout.includes('the-receivers-own-secret-1234'));
    for (const w of await t.engine.webhooks.list()) await t.engine.webhooks.remove(w.id);
  });

  it('says what is wrong: an ftp URL, an unknown event, a bad group', async () => {
    const ftp = await drover(
      ['webhooks', 'add', '--url', 'ftp://example.org/x', '--events', 'job.failed'],
      { cwd: dir, env },
    );
    assert.equal(ftp.code, 1);
    assert.match(ftp.stderr, /not a URL a webhook can call.*\[DROVER_E_WEBHOOK_URL\]/);
    const event = await drover(
      ['webhooks', 'add', '--url', receiverUrl, '--events', 'job.finished'],
      { cwd: dir, env },
    );
    assert.equal(event.code, 1);
    assert.match(event.stderr, /the events are job\.succeeded.*\[DROVER_E_WEBHOOK_EVENT\]/);
    const group = await drover(
      ['webhooks', 'add', '--group', 'no spaces', '--url', receiverUrl, '--events', 'job.failed'],
      { cwd: dir, env },
    );
    assert.equal(group.code, 1);
    assert.match(group.stderr, /\[DROVER_E_WEBHOOK_GROUP\]/);
    const usage = await drover(['webhooks', 'add', '--url', receiverUrl], { cwd: dir, env });
    assert.equal(usage.code, 1);
    assert.match(usage.stderr, /Usage: drover webhooks add/);
    assert.deepEqual(await t.engine.webhooks.list(), []);
  });
});
