// Drover behind a real nginx configured with docs/deploy/nginx.conf: TLS, the WebSocket (a worker
// and the CLI through it), streamed uploads and downloads, the upload limit, the sign-in cookie,
// and the dashboard's files served by nginx. `npm run test:nginx` (after `npm run build`); it
// needs /usr/sbin/nginx and openssl, which .ci/run installs when they are missing.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { ROOT, freePort, until } from '../../apps/dashboard/test/farm.mjs';

const CLI = join(ROOT, 'packages/cli/dist/src/main.js');
const NGINX = process.env.NGINX ?? '/usr/sbin/nginx';
const { trustFor } = await import(join(ROOT, 'packages/worker/dist/src/index.js'));

/** Runs the drover command to its end; resolves with its output, rejects on failure. */
function drover(args, env = {}) {
  const result = spawnSync(process.execPath, [CLI, ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (result.status !== 0)
    throw new Error(`drover ${args.join(' ')} failed: ${result.stderr}${result.stdout}`);
  return result.stdout;
}

describe('Drover behind nginx', { timeout: 180_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'drover-nginx-'));
  const dataDir = join(dir, 'data');
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  const children = [];
  let origin;
  let trust;
  let adminToken;
  let workerToken;
  let drover1;
  let nginx;

  before(async () => {
    assert.ok(existsSync(NGINX), `${NGINX} is missing: install Debian's nginx (.ci/run does)`);
    const made = spawnSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-keyout',
        key,
        '-out',
        cert,
        '-days',
        '2',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=DNS:localhost,IP:127.0.0.1',
      ],
      { encoding: 'utf8' },
    );
    assert.equal(made.status, 0, made.stderr);
    trust = trustFor(readFileSync(cert, 'utf8'));

    const droverPort = await freePort();
    const httpsPort = await freePort();
    const httpPort = await freePort();
    origin = `https://localhost:${httpsPort}`;

    drover1 = spawn(
      process.execPath,
      [
        CLI,
        'server',
        '--data-dir',
        dataDir,
        '--port',
        String(droverPort),
        '--secure-cookies',
        'true',
        '--trust-proxy',
        'true',
      ],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    children.push(drover1);
    await until(
      async () => (await fetch(`http://127.0.0.1:${droverPort}/healthz`)).ok,
      30_000,
      'drover server',
    );
    adminToken = readFileSync(join(dataDir, 'admin-token'), 'utf8').trim();
    workerToken = readFileSync(join(dataDir, 'worker-token'), 'utf8').trim();

    // The documented file, with this machine's names, paths and ports.
    const site = readFileSync(join(ROOT, 'docs/deploy/nginx.conf'), 'utf8')
      .replaceAll('127.0.0.1:7400', `127.0.0.1:${droverPort}`)
      .replaceAll('listen 443 ssl', `listen 127.0.0.1:${httpsPort} ssl`)
      .replaceAll('listen 80;', `listen 127.0.0.1:${httpPort};`)
      .replaceAll('/etc/letsencrypt/live/farm.example.org/fullchain.pem', cert)
      .replaceAll('/etc/letsencrypt/live/farm.example.org/privkey.pem', key)
      .replaceAll('farm.example.org', 'localhost')
      .replaceAll('/srv/drover', ROOT)
      // Small enough to test quickly.
      .replaceAll('client_max_body_size 1g;', 'client_max_body_size 1m;');
    for (const sub of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(join(dir, sub));
    writeFileSync(join(dir, 'site.conf'), site);
    writeFileSync(
      join(dir, 'nginx.conf'),
      [
        // Run as root (CI), nginx's workers would be nobody, who cannot read a private checkout.
        ...(process.getuid?.() === 0 ? ['user root;'] : []),
        'worker_processes 1;',
        `pid ${join(dir, 'nginx.pid')};`,
        `error_log ${join(dir, 'error.log')} warn;`,
        'daemon off;',
        'events { worker_connections 256; }',
        'http {',
        '  include /etc/nginx/mime.types;',
        `  access_log ${join(dir, 'access.log')};`,
        `  client_body_temp_path ${join(dir, 'body')};`,
        `  proxy_temp_path ${join(dir, 'proxy')};`,
        `  fastcgi_temp_path ${join(dir, 'fastcgi')};`,
        `  uwsgi_temp_path ${join(dir, 'uwsgi')};`,
        `  scgi_temp_path ${join(dir, 'scgi')};`,
        `  include ${join(dir, 'site.conf')};`,
        '}',
      ].join('\n'),
    );
    const checked = spawnSync(NGINX, ['-t', '-p', dir, '-c', join(dir, 'nginx.conf')], {
      encoding: 'utf8',
    });
    assert.equal(checked.status, 0, `nginx -t: ${checked.stderr}`);
    nginx = spawn(NGINX, ['-p', dir, '-c', join(dir, 'nginx.conf')], { stdio: 'inherit' });
    children.push(nginx);
    await until(async () => (await trust.fetch(`${origin}/healthz`)).ok, 15_000, 'nginx');
  });

  after(() => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  });

  const cli = ['--server', () => origin, '--ca-file', cert, '--data-dir', dataDir];
  const args = (...rest) => [...rest, ...cli.map((a) => (typeof a === 'function' ? a() : a))];

  it('serves over TLS, refusing a client that does not trust the certificate', async () => {
    const health = await trust.fetch(`${origin}/healthz`);
    assert.equal(health.status, 200);
    assert.equal((await health.json()).ok, true);
    await assert.rejects(fetch(`${origin}/healthz`), /fetch failed/);
  });

  it('runs a worker and the CLI through it: the WebSocket, uploads and downloads', async () => {
    const worker = spawn(process.execPath, [CLI, 'worker', ...args('--name', 'behind-nginx')], {
      cwd: ROOT,
      env: { ...process.env, DROVER_TOKEN: workerToken, DROVER_STATE_DIR: join(dir, 'state') },
      stdio: 'ignore',
    });
    children.push(worker);
    // Submitted once the worker has joined, through nginx: an unknown task type is refused.
    await until(
      async () => {
        const listed = JSON.parse(
          drover(args('workers', 'ls', '--json'), { DROVER_TOKEN: adminToken }),
        );
        const workers = listed.workers ?? listed;
        return workers.some((w) => w.name === 'behind-nginx' && w.state === 'online');
      },
      30_000,
      'the worker to join through nginx',
    );
    const job = join(dir, 'job.json');
    writeFileSync(
      job,
      JSON.stringify({
        group: 'nginx',
        name: 'frames through nginx',
        taskType: 'fractal.frame',
        params: { frames: 2 },
        frames: { start: 0, end: 1 },
      }),
    );
    const submitted = drover(args('submit', '--file', job, '--wait'), { DROVER_TOKEN: adminToken });
    assert.match(submitted, /succeeded/);
    const listedJson = JSON.parse(
      drover(args('jobs', 'ls', '--group', 'nginx', '--json'), { DROVER_TOKEN: adminToken }),
    );
    const [listed] = listedJson.jobs ?? listedJson;
    const out = join(dir, 'out');
    drover(args('download', listed.id, '--out', out), { DROVER_TOKEN: adminToken });
    assert.deepEqual(readdirSync(out).sort(), ['frame-00000.png', 'frame-00001.png']);
    const png = readFileSync(join(out, 'frame-00000.png'));
    assert.equal(png.subarray(1, 4).toString('latin1'), 'PNG');
    worker.kill('SIGTERM');
  });

  it('refuses an upload over its limit at nginx', async () => {
    const response = await trust.fetch(`${origin}/artifacts/upload?name=big.bin`, {
      method: 'PUT',
      headers: { authorization: 'Bearer 1.00000000-0000-4000-8000-000000000000' },
      body: Buffer.alloc(2 * 1024 * 1024),
    });
    assert.equal(response.status, 413);
  });

  it('signs a browser in with a Secure cookie that the WebSocket carries', async () => {
    const link = await trust.fetch(`${origin}/rpc`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${adminToken}` },
      body: JSON.stringify({ jsonrpc: '2.0', method: 'auth.loginLink', params: {}, id: 1 }),
    });
    const { path } = (await link.json()).result;
    const signedIn = await trust.fetch(`${origin}${path}`, { redirect: 'manual' });
    assert.equal(signedIn.status, 303);
    const cookie = signedIn.headers.get('set-cookie') ?? '';
    assert.match(cookie, /HttpOnly/);
    assert.match(cookie, /SameSite=Strict/);
    assert.match(cookie, /Secure/);
    const ws = new WebSocket(`${origin.replace('https', 'wss')}/ws`, {
      ca: trust.ca,
      headers: { cookie: cookie.split(';')[0], origin },
    });
    await new Promise((r, reject) => ws.once('open', r).once('error', reject));
    const answer = new Promise((r) => ws.once('message', (data) => r(JSON.parse(String(data)))));
    ws.send(JSON.stringify({ jsonrpc: '2.0', method: 'auth.whoami', params: {}, id: 1 }));
    assert.equal((await answer).result?.role, 'admin');
    ws.close();
  });

  it("serves the dashboard's pages from Drover and its files itself", async () => {
    const page = await trust.fetch(`${origin}/`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/);
    const html = await page.text();
    const asset = /\/assets\/[^"]+\.js/.exec(html)?.[0];
    assert.ok(asset, 'the page names its script');
    // With Drover stopped, nginx still has the files; the rest is a gateway error.
    drover1.kill('SIGTERM');
    await new Promise((r) => (drover1.exitCode !== null ? r() : drover1.once('exit', r)));
    const file = await trust.fetch(`${origin}${asset}`);
    assert.equal(file.status, 200);
    assert.match(file.headers.get('cache-control') ?? '', /immutable/);
    assert.equal((await trust.fetch(`${origin}/healthz`)).status, 502);
  });
});
