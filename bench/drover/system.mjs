// Drover as bench/run.mjs drives it: a real server started the way a new user would
// (`node packages/cli/dist/src/main.js server ...`, after `drover migrate` on PostgreSQL), worker
// processes of `@drover/worker` (bench/drover/worker.mjs), and `@drover/client` for everything a
// program does: submit, wait for a job, read counts. Every repetition gets a new server on a new
// database (a fresh data directory, or a fresh PostgreSQL database), removed at its end. The
// client signs in with an admin token and the workers with a worker token (bench/lib/tokens.mjs).
import { spawn, execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import pg from 'pg';
import WebSocket from 'ws';
import { DroverClient } from '@drover/client';
import { Worker } from '@drover/worker';
import { createTokens, localTokens } from '../lib/tokens.mjs';
import { noopTask } from './noop-task.mjs';

const ROOT = new URL('../../', import.meta.url);
const CLI = new URL('packages/cli/dist/src/main.js', ROOT).pathname;
const WORKER = new URL('worker.mjs', import.meta.url).pathname;
const TERMINAL = new Set(['succeeded', 'failed', 'cancelled']);

/** The environment for the drover command, without DROVER_* settings of whoever runs the bench. */
function cleanEnv() {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('DROVER_')));
}

/** Starts `drover server` and resolves with its URL once it says where it listens. */
function startServer(args, log) {
  // A benchmark measures throughput, not the per-token limit on calls.
  const child = spawn(process.execPath, [CLI, 'server', '--rate-limit-per-minute', '0', ...args], {
    cwd: ROOT.pathname,
    env: cleanEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // If the benchmark ends early (Ctrl-C, a crash), the server goes with it.
  const orphan = () => child.kill('SIGKILL');
  process.once('exit', orphan);
  child.once('exit', () => process.off('exit', orphan));
  let output = '';
  const url = new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`drover server did not start:\n${output}`)),
      60_000,
    );
    child.stdout.on('data', (chunk) => {
      output += chunk;
      const match = /Drover server at (\S+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    child.stderr.on('data', (chunk) => {
      output += chunk;
      log(`server: ${String(chunk).trimEnd()}`);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`drover server exited (${signal ?? code}) before it listened:\n${output}`));
    });
  });
  return { child, url };
}

function stopProcess(child, graceMs = 15_000) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/**
 * @param {{ backend: 'pglite' | 'postgres', databaseUrl: string, runId: string,
 *           log: (line: string) => void }} options
 */
export function droverSystem({ backend, databaseUrl, runId, log }) {
  /** The current repetition's server, client, tokens and what to remove afterwards. */
  let rep;

  async function admin(statement) {
    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    try {
      await client.query(statement);
    } finally {
      await client.end();
    }
  }

  return {
    name: `drover-${backend}`,
    label: backend === 'pglite' ? 'Drover (PGlite)' : 'Drover (PostgreSQL)',
    completionSeen: true,
    notes: [],

    async open() {},
    async close() {},

    /** A new server on a new database for each repetition. */
    async beginRep(tag) {
      const dataDir = mkdtempSync(join(tmpdir(), `drover-bench-${tag}-`));
      // Set at once, so that endRep removes whatever was made even if a later step fails.
      rep = {
        dataDir,
        database: undefined,
        server: undefined,
        url: undefined,
        client: undefined,
        tokens: undefined,
      };
      const args = ['--data-dir', dataDir, '--port', '0', '--host', '127.0.0.1'];
      if (backend === 'postgres') {
        const database = `drover_bench_${runId}_${tag}`.replace(/[^a-z0-9_]/g, '_');
        await admin(`CREATE DATABASE ${database}`);
        rep.database = database;
        const url = new URL(databaseUrl);
        url.pathname = `/${database}`;
        args.push('--database-url', url.href);
        await promisify(execFile)(process.execPath, [CLI, 'migrate', '--database-url', url.href], {
          cwd: ROOT.pathname,
          env: cleanEnv(),
        });
        // A server on a shared database keeps no tokens of its own: made in the database first.
        rep.tokens = await createTokens(CLI, url.href, {
          cwd: ROOT.pathname,
          env: cleanEnv(),
          dataDir,
        });
      }
      const server = startServer(args, log);
      rep.server = server.child;
      rep.url = await server.url;
      // An embedded farm wrote its admin and worker tokens before it listened.
      rep.tokens ??= localTokens(dataDir);
      rep.client = new DroverClient({ url: rep.url, token: rep.tokens.admin, WebSocket });
      await rep.client.call('groups.list', {});
    },

    async endRep() {
      if (!rep) return;
      const { client, server, dataDir, database } = rep;
      rep = undefined;
      client?.close();
      if (server) await stopProcess(server);
      rmSync(dataDir, { recursive: true, force: true });
      if (database) await admin(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    },

    /** A fresh task type and group: nothing else of the farm's is queued under them. */
    async newQueue(tag) {
      return { taskType: `bench.noop.${tag}`, group: `bench-${tag}`, jobId: undefined };
    },
    /** Cancels what is left unfinished in the queue's group (only the warm-up leaves any). */
    async dropQueue(q) {
      const { jobs } = await rep.client.call('jobs.list', {
        group: q.group,
        statuses: ['queued', 'running'],
        limit: 1000,
      });
      for (const job of jobs) await rep.client.call('jobs.cancel', { id: job.id });
    },

    /** One job of n tasks, one per item: Drover's bulk submission. */
    async enqueueBulk(q, n) {
      const items = Array.from({ length: n }, (_, i) => ({ i }));
      const { job } = await rep.client.submit(
        q.taskType,
        {},
        {
          group: q.group,
          items,
          // Queued before the workers join.
          allowUnknownType: true,
        },
      );
      q.jobId = job.id;
    },

    /** One job of one task: `client.submit`, the normal single submission. */
    async submitOne(q, i) {
      await rep.client.submit(q.taskType, { i }, { group: q.group, allowUnknownType: true });
    },

    /** Tasks succeeded as the database counts them: the job's counts, or the group's jobs. */
    async completed(q) {
      if (q.jobId) return (await rep.client.call('jobs.get', { id: q.jobId })).counts.succeeded;
      const { groups } = await rep.client.call('groups.list', {});
      return groups.find((g) => g.name === q.group)?.counts.succeeded ?? 0;
    },

    worker(q, index, concurrency) {
      return {
        script: WORKER,
        config: {
          url: rep.url,
          name: `${q.taskType}.w${index}`,
          taskType: q.taskType,
          slots: concurrency,
        },
        // In the environment: the config is the process's command line, readable by everyone.
        env: { DROVER_TOKEN: rep.tokens.worker },
      };
    },

    /**
     * A worker in this process, connected and registered before it resolves; and one
     * subscription to the group's jobs (`jobs/<group>`), which tells this client when each job
     * ends. One subscription for all the tasks, not `waitFor` per job: a connection may hold
     * at most 256 subscriptions, and `waitFor` holds one per job until it ends.
     */
    async startLatencyWorker(q, concurrency, onRun) {
      q.ended = new Map();
      q.waiting = new Map();
      const subscription = rep.client.subscribe(`jobs/${q.group}`, {
        cursor: '',
        onEvents: (events) => {
          const at = performance.now();
          for (const event of events) {
            const job = event.data;
            if (event.kind !== 'job.updated' || !TERMINAL.has(job.status)) continue;
            const waiting = q.waiting.get(job.id);
            q.waiting.delete(job.id);
            if (waiting) waiting({ at, status: job.status });
            else if (!q.ended.has(job.id)) q.ended.set(job.id, { at, status: job.status });
          }
        },
        onError: (error) => {
          q.failed = error;
          for (const waiting of q.waiting.values()) waiting({ error });
        },
      });
      const worker = new Worker({
        serverUrl: rep.url,
        token: rep.tokens.worker,
        name: `${q.taskType}.latency`,
        slots: concurrency,
        tasks: [noopTask(q.taskType, onRun)],
      });
      await worker.start();
      return {
        stop: async () => {
          subscription.close();
          await worker.stop(5000);
        },
      };
    },

    /** Submits one task as its own job; resolves when the group's subscription sees it end. */
    async submitWatched(q, i, t) {
      const { job } = await rep.client.submit(
        q.taskType,
        { i, t },
        { group: q.group, allowUnknownType: true },
      );
      const end =
        q.ended.get(job.id) ??
        (q.failed ? { error: q.failed } : await new Promise((r) => q.waiting.set(job.id, r)));
      if (end.error) throw end.error;
      if (end.status !== 'succeeded') throw new Error(`job ${job.id} ended ${end.status}`);
      return end.at;
    },
  };
}
