// `drover server --log-level`: JSON lines on stdout, one per request with its id, the server's
// own life (listening, its replica registered, workers coming and going), and never a secret.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { WebSocket } from 'ws';
import { openEngine } from '@drover/engine';
import { backend, databaseUrl, sleep, tokenFor } from '@drover/engine/testing';
import { drover } from './run-drover.js';

const cli = new URL('../src/main.js', import.meta.url).pathname;

interface LogLine {
  level: number;
  time: string;
  msg: string;
  reqId?: string;
  req?: { method: string; url: string };
  res?: { statusCode: number };
  [key: string]: unknown;
}

describe(`the server's logs (${backend})`, { timeout: 120_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'drover-logs-'));
  const dataDir = join(dir, 'data');
  /** On PostgreSQL, a database of this test's own, migrated by `drover migrate`. */
  let farmDatabase: string | undefined;
  let database: string | undefined;
  const common = () => [
    '--data-dir',
    dataDir,
    ...(farmDatabase ? ['--database-url', farmDatabase] : []),
  ];

  before(async () => {
    writeFileSync(join(dir, 'drover.json'), '{}');
    if (backend !== 'postgres') return;
    database = `drover_logs_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
    const admin = new pg.Client({ connectionString: databaseUrl });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${database}`);
    await admin.end();
    const url = new URL(databaseUrl);
    url.pathname = `/${database}`;
    farmDatabase = url.toString();
    const migrated = await drover(['migrate', '--database-url', farmDatabase], { cwd: dir });
    assert.equal(migrated.code, 0, migrated.stderr);
  });
  after(async () => {
    rmSync(dir, { recursive: true, force: true });
    if (!database) return;
    const admin = new pg.Client({ connectionString: databaseUrl });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    await admin.end();
  });

  it('writes JSON lines with request ids, and no token, sign-in code or cookie', async () => {
    const child = spawn(
      process.execPath,
      [cli, 'server', '--port', '0', '--log-level', 'debug', ...common()],
      { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    try {
      const deadline = Date.now() + 60_000;
      let url: string | undefined;
      while (!url) {
        url = /Drover server at (\S+)/.exec(stdout)?.[1];
        if (child.exitCode !== null) assert.fail(`the server ended: ${stdout}${stderr}`);
        if (Date.now() > deadline) assert.fail(`the server did not start: ${stdout}${stderr}`);
        await sleep(50);
      }

      // A token to call with: the embedded farm's own, or one made in the shared database.
      let admin: string;
      let workerToken: string;
      if (farmDatabase) {
        const engine = await openEngine({ databaseUrl: farmDatabase });
        admin = await tokenFor(engine);
        workerToken = await tokenFor(engine, { name: 'log workers', role: 'worker' });
        await engine.close();
      } else {
        admin = readFileSync(join(dataDir, 'admin-token'), 'utf8').trim();
        workerToken = readFileSync(join(dataDir, 'worker-token'), 'utf8').trim();
      }
      const wrongToken = `drover_${'x'.repeat(43)}`;
      const signInCode = 'Zq9sIgnInCodeThatIsNotValid0001';

      const probe = await fetch(`${url}/healthz`, { headers: { 'x-request-id': 'probe-42' } });
      assert.equal(probe.headers.get('x-request-id'), 'probe-42');
      const call = await fetch(`${url}/rpc`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${admin}` },
        body: JSON.stringify({ jsonrpc: '2.0', method: 'groups.list', params: {}, id: 1 }),
      });
      assert.equal(call.status, 200);
      const callId = call.headers.get('x-request-id');
      assert.match(callId ?? '', /^[0-9a-f-]{36}$/);
      const refused = await fetch(`${url}/rpc`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization: `Bearer ${wrongToken}`,
          cookie: `drover_session=${signInCode}`,
        },
        body: JSON.stringify({ jsonrpc: '2.0', method: 'groups.list', params: {}, id: 1 }),
      });
      assert.equal(refused.status, 401);
      await fetch(`${url}/login?code=${signInCode}`, { redirect: 'manual' });

      // A worker says hello and leaves.
      const ws = new WebSocket(`${url.replace('http', 'ws')}/ws`);
      await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
      const hello = new Promise((resolve) => ws.once('message', resolve));
      ws.send(
        JSON.stringify({
          jsonrpc: '2.0',
          id: 1,
          method: 'workers.hello',
          params: {
            name: 'logged-worker',
            host: 'test',
            taskTypes: ['noop'],
            slots: 1,
            token: workerToken,
          },
        }),
      );
      await hello;
      ws.close();

      const lines = () =>
        stdout
          .split('\n')
          .filter((line) => line.startsWith('{'))
          .map((line) => JSON.parse(line) as LogLine);
      const deadlineGone = Date.now() + 10_000;
      while (!lines().some((l) => l.msg === 'worker disconnected')) {
        if (Date.now() > deadlineGone) assert.fail(`no "worker disconnected" line:\n${stdout}`);
        await sleep(50);
      }
      child.kill('SIGTERM');
      assert.equal(await exited, 0, stderr);

      const logged = lines();
      for (const line of logged) {
        assert.equal(typeof line.level, 'number');
        assert.ok(!Number.isNaN(Date.parse(line.time)), line.time);
      }
      assert.ok(logged.some((l) => /^Server listening at /.test(l.msg)));
      assert.ok(logged.some((l) => l.msg === 'replica registered' && l.url === url));
      const connected = logged.find((l) => l.msg === 'worker connected');
      assert.equal(connected?.worker, 'logged-worker');

      const probed = logged.find((l) => l.reqId === 'probe-42' && l.msg === 'request completed');
      assert.deepEqual(probed?.req, { method: 'GET', url: '/healthz', remoteAddress: '127.0.0.1' });
      assert.equal(probed?.level, 20, 'probes are logged at debug');
      const called = logged.find((l) => l.reqId === callId && l.msg === 'request completed');
      assert.equal(called?.req?.url, '/rpc');
      assert.equal(called?.res?.statusCode, 200);
      assert.equal(called?.level, 30);
      const login = logged.find((l) => l.req?.url.startsWith('/login'));
      assert.equal(login?.req?.url, '/login?code=[redacted]');
      const ids = logged.flatMap((l) => (l.msg === 'request completed' ? [l.reqId] : []));
      assert.equal(new Set(ids).size, ids.length, 'one id per request');

      const logText = logged.map((l) => JSON.stringify(l)).join('\n');
      for (const secret of [admin, workerToken, wrongToken, signInCode])
        assert.ok(!logText.includes(secret), `a log line holds a secret: ${secret.slice(0, 12)}…`);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });

  it('refuses a log level it does not know, from the flag or the environment', async () => {
    const flag = await drover(['server', '--log-level', 'loud', ...common()], { cwd: dir });
    assert.equal(flag.code, 1);
    assert.match(
      flag.stderr,
      /logLevel.*one of fatal, error, warn, info, debug, trace, silent.*\[DROVER_E_INVALID_PARAMS\]/s,
    );
    const env = await drover(['server', ...common()], {
      cwd: dir,
      env: { DROVER_LOG_LEVEL: 'verbose' },
    });
    assert.equal(env.code, 1);
    assert.match(env.stderr, /one of fatal, error, warn, info, debug, trace, silent/);
  });
});
