// The dashboard when a replica dies: two `drover server` processes on one PostgreSQL database
// behind a real nginx configured with docs/deploy/nginx.conf (its second `server` line filled in),
// a worker and a dashboard page in Chromium through nginx. The replica they are on is SIGKILLed
// in the middle of a job: the page says it is reconnecting, comes back through nginx to the live
// replica by itself and follows the job to its end, missing nothing. `npm run test:nginx` (after
// `npm run build`); it needs nginx, openssl, chromium and a PostgreSQL server
// (DROVER_TEST_DATABASE_URL), which .ci/run provides.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ROOT, freePort, until } from '../../apps/dashboard/test/farm.mjs';

const CLI = join(ROOT, 'packages/cli/dist/src/main.js');
const NGINX = process.env.NGINX ?? '/usr/sbin/nginx';
const DATABASE_URL = process.env.DROVER_TEST_DATABASE_URL ?? 'postgres://root@127.0.0.1:5432/test';
const { trustFor } = await import(join(ROOT, 'packages/worker/dist/src/index.js'));
const { openEngine } = await import(join(ROOT, 'packages/engine/dist/src/index.js'));
const { default: pg } = await import('pg');
/** About 0.5 s a render. */
const MEDIUM = {
  ...{ xa: -1.6, xb: 1.6, ya: -1.2, yb: 1.2 },
  ...{ cr: -0.4, ci: 0.6, width: 320, height: 240, iterations: 4000 },
};

describe('the dashboard behind nginx when a replica dies', { timeout: 240_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'drover-failover-nginx-'));
  const database = `drover_dash_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
  const farmDatabase = Object.assign(new URL(DATABASE_URL), { pathname: `/${database}` }).href;
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  const children = [];
  const log = [];
  let origin;
  let trust;
  let adminToken;
  let workerToken;
  let ports;
  let browser;
  let nginx;

  const start = (args, env = {}, name = args[0]) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: ROOT,
      env: { ...process.env, DROVER_STATE_DIR: join(dir, 'state'), ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const keep = (chunk) =>
      log.push(
        ...String(chunk)
          .split('\n')
          .filter(Boolean)
          .map((l) => `${name}: ${l}`),
      );
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    children.push(child);
    return child;
  };
  const replica = async (port) => {
    const child = start(
      [
        'server',
        '--database-url',
        farmDatabase,
        '--data-dir',
        join(dir, 'shared'),
        '--port',
        String(port),
        '--secure-cookies',
        'true',
        '--trust-proxy',
        'true',
      ],
      {},
      `server ${port}`,
    );
    await until(
      async () => (await fetch(`http://127.0.0.1:${port}/healthz`)).ok,
      30_000,
      `server ${port}`,
    );
    return child;
  };
  /**
   * A call over plain HTTP through nginx. One sent to a replica as it dies gets nginx's 502 or 504
   * (nginx passes a POST to the next replica only when the first never took it): sent again, as
   * an HTTP client of a replicated service does with a read.
   */
  const rpc = async (method, params) => {
    for (let tries = 1; ; tries++) {
      const response = await trust.fetch(`${origin}/rpc`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${adminToken}` },
        body: JSON.stringify({ jsonrpc: '2.0', method, params, id: 1 }),
      });
      // nginx's own error page (502, or 504 while it waits on the dead replica): sent again. A
      // replica that failed is passed over for nginx's fail_timeout (10 s); with every replica
      // so marked (the second was down before it started), nginx answers 502 until one is tried.
      if (response.status >= 502 && response.status <= 504 && tries < 60) {
        await new Promise((resolve) => setTimeout(resolve, 250));
        continue;
      }
      if (!(response.headers.get('content-type') ?? '').includes('json'))
        throw new Error(`${method}: HTTP ${response.status} ${await response.text()}`);
      const body = await response.json();
      if (body.error) throw new Error(`${method}: ${body.error.message}`);
      return body.result;
    }
  };

  before(async () => {
    assert.ok(existsSync(NGINX), `${NGINX} is missing: install Debian's nginx (.ci/run does)`);
    const admin = new pg.Client({ connectionString: DATABASE_URL });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${database}`);
    await admin.end();
    const migrated = spawnSync(process.execPath, [CLI, 'migrate', '--database-url', farmDatabase], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    assert.equal(migrated.status, 0, migrated.stderr);
    const engine = await openEngine({ databaseUrl: farmDatabase });
    adminToken = (await engine.accounts.createToken({ name: 'ops', role: 'admin' })).secret;
    workerToken = (await engine.accounts.createToken({ name: 'workers', role: 'worker' })).secret;
    await engine.close();

    const made = spawnSync(
      'openssl',
      [
        ...['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'],
        ...['-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=localhost'],
        ...['-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'],
      ],
      { encoding: 'utf8' },
    );
    assert.equal(made.status, 0, made.stderr);
    trust = trustFor(readFileSync(cert, 'utf8'));
    ports = {
      a: await freePort(),
      b: await freePort(),
      https: await freePort(),
      http: await freePort(),
    };
    origin = `https://localhost:${ports.https}`;

    // The documented file, with this machine's names, paths and ports, and a second replica.
    const site = readFileSync(join(ROOT, 'docs/deploy/nginx.conf'), 'utf8')
      .replaceAll('127.0.0.1:7400', `127.0.0.1:${ports.a}`)
      .replace('# server 127.0.0.1:7401;', `server 127.0.0.1:${ports.b};`)
      .replaceAll('listen 443 ssl', `listen 127.0.0.1:${ports.https} ssl`)
      .replaceAll('listen 80;', `listen 127.0.0.1:${ports.http};`)
      .replaceAll('/etc/letsencrypt/live/farm.example.org/fullchain.pem', cert)
      .replaceAll('/etc/letsencrypt/live/farm.example.org/privkey.pem', key)
      .replaceAll('farm.example.org', 'localhost')
      .replaceAll('/srv/drover', ROOT);
    assert.match(site, new RegExp(`server 127\\.0\\.0\\.1:${ports.b};`), 'the second replica');
    for (const sub of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(join(dir, sub));
    writeFileSync(join(dir, 'site.conf'), site);
    writeFileSync(
      join(dir, 'nginx.conf'),
      [
        ...(process.getuid?.() === 0 ? ['user root;'] : []),
        'worker_processes 1;',
        `pid ${join(dir, 'nginx.pid')};`,
        `error_log ${join(dir, 'error.log')} crit;`,
        'daemon off;',
        'events { worker_connections 256; }',
        'http {',
        '  include /etc/nginx/mime.types;',
        `  access_log ${join(dir, 'access.log')};`,
        ...['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map(
          (sub) => `  ${sub === 'body' ? 'client_body' : sub}_temp_path ${join(dir, sub)};`,
        ),
        `  include ${join(dir, 'site.conf')};`,
        '}',
      ].join('\n'),
    );
    const checked = spawnSync(NGINX, ['-t', '-p', dir, '-c', join(dir, 'nginx.conf')], {
      encoding: 'utf8',
    });
    assert.equal(checked.status, 0, `nginx -t: ${checked.stderr}`);
    nginx = spawn(NGINX, ['-p', dir, '-c', join(dir, 'nginx.conf')], { stdio: 'inherit' });

    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({
      executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic'],
    });
  });

  after(async () => {
    await browser?.close();
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    // SIGTERM: nginx's master then stops its workers, which would otherwise outlive it.
    if (nginx && nginx.exitCode === null) {
      nginx.kill('SIGTERM');
      await new Promise((resolve) => nginx.once('exit', resolve));
    }
    const admin = new pg.Client({ connectionString: DATABASE_URL });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    await admin.end();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reconnects by itself to the live replica and follows the job to its end', async () => {
    // Only replica a at first: the page and the worker are on it when it dies.
    const a = await replica(ports.a);
    await until(async () => (await trust.fetch(`${origin}/healthz`)).ok, 15_000, 'nginx');
    start(
      ['worker', '--server', origin, '--ca-file', cert, '--name', 'behind-nginx', '--slots', '2'],
      { DROVER_TOKEN: workerToken },
      'worker',
    );
    await until(
      async () => (await rpc('workers.list', {})).workers.some((w) => w.state === 'online'),
      30_000,
      'the worker through nginx',
    );
    const context = await browser.newContext({ ignoreHTTPSErrors: true });
    const page = await context.newPage();
    page.setDefaultTimeout(30_000);
    const { path } = await rpc('auth.loginLink', {});
    await page.goto(`${origin}${path}`);
    const { job } = await rpc('jobs.submit', {
      group: 'failover',
      name: 'Twenty-four renders, a replica killed',
      taskType: 'fractal.julia',
      params: MEDIUM,
      frames: { start: 1, end: 24 },
    });
    await page.goto(`${origin}/jobs/${job.id}`);
    await page.waitForSelector('[data-connection="open"]');
    const succeeded = () =>
      page.locator(`.job-facts [data-count="succeeded"]`).textContent({ timeout: 1000 });
    await until(async () => Number(await succeeded()) >= 3, 30_000, '3 tasks done');

    await replica(ports.b);
    a.kill('SIGKILL');
    await page.waitForSelector('[data-connection="reconnecting"]', { timeout: 10_000 });
    await page.waitForSelector('[data-connection="open"]', { timeout: 30_000 });
    await page.waitForSelector('.job-view[data-job-status="succeeded"]', { timeout: 90_000 });

    // What the page shows is the whole job, as the farm recorded it.
    const done = await rpc('jobs.get', { id: job.id });
    assert.equal(done.counts.succeeded, 24);
    assert.equal(await succeeded(), '24');
    assert.equal(await page.locator('.job-facts .progress-label').textContent(), '100%');
    const statuses = await page
      .locator('.tasks-table [data-task-id] [data-status]')
      .evaluateAll((badges) => badges.map((b) => b.getAttribute('data-status')));
    assert.ok(statuses.length > 0 && statuses.every((s) => s === 'succeeded'), `${statuses}`);
    await context.close();
  });
});
