// Opens an engine for a test on the backend the suite runs against: PGlite (the default), or the
// PostgreSQL server at DROVER_TEST_DATABASE_URL when DROVER_TEST_BACKEND=postgres. Each call gets
// its own database: a copy of a migrated PGlite template directory, or a fresh schema.
import { createHash, randomUUID } from 'node:crypto';
import {
  cpSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { openEngine } from '../src/index.js';
import type { Engine } from '../src/index.js';
import type { Assignment, EventRecord } from '@drover/protocol';

export const backend = process.env.DROVER_TEST_BACKEND === 'postgres' ? 'postgres' : 'pglite';
export const databaseUrl =
  process.env.DROVER_TEST_DATABASE_URL ?? 'postgres://root@127.0.0.1:5432/test';

const migrationsDir = new URL('../../migrations/', import.meta.url);

/** A template directory per version of the migrations, so a changed schema gets a new one. */
function templateDir(): string {
  const hash = createHash('sha256');
  for (const file of readdirSync(migrationsDir).sort())
    hash.update(readFileSync(new URL(file, migrationsDir)));
  return join(tmpdir(), `drover-pglite-template-${hash.digest('hex').slice(0, 12)}`);
}

/** PGlite's first start costs seconds; every test after the first copies a migrated directory. */
async function ensureTemplate(): Promise<string> {
  const dir = templateDir();
  if (existsSync(join(dir, 'pg'))) return dir;
  const building = mkdtempSync(join(tmpdir(), 'drover-template-build-'));
  const engine = await openEngine({ dataDir: building });
  await engine.close();
  try {
    renameSync(building, dir);
  } catch {
    // Another test process made it first.
    rmSync(building, { recursive: true, force: true });
  }
  return dir;
}

export interface TestEngine {
  engine: Engine;
  /** The PGlite data directory (embedded only). */
  dataDir: string | undefined;
  /** The PostgreSQL schema (external only). */
  schema: string | undefined;
  close(): Promise<void>;
}

export async function openTestEngine(): Promise<TestEngine> {
  if (backend === 'postgres') {
    const schema = `t_${randomUUID().replaceAll('-', '').slice(0, 16)}`;
    const engine = await openEngine({ databaseUrl, schema, migrate: true });
    return {
      engine,
      dataDir: undefined,
      schema,
      close: async () => {
        await engine.close();
        await dropSchema(schema);
      },
    };
  }
  const template = await ensureTemplate();
  const dataDir = mkdtempSync(join(tmpdir(), 'drover-test-'));
  cpSync(join(template, 'pg'), join(dataDir, 'pg'), { recursive: true });
  const engine = await openEngine({ dataDir });
  return {
    engine,
    dataDir,
    schema: undefined,
    close: async () => {
      await engine.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export async function dropSchema(schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  } finally {
    await client.end();
  }
}

let counter = 0;
/** A task type no other test uses, so claims in one test never take another's tasks. */
export function uniqueType(label = 'task'): string {
  counter += 1;
  return `${label}.${process.pid}.${counter}`;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Reads a topic until `done` holds for the events read so far, or fails after `timeoutMs`. On
 * PostgreSQL an event is readable only once every older write transaction in the cluster has
 * ended, so a reader may wait a moment for what another connection just committed.
 */
export async function readEventsUntil(
  engine: Engine,
  topic: string,
  done: (events: EventRecord[]) => boolean,
  options: { after?: string; timeoutMs?: number } = {},
): Promise<EventRecord[]> {
  const deadline = Date.now() + (options.timeoutMs ?? 5000);
  const events: EventRecord[] = [];
  let cursor = options.after ?? '';
  for (;;) {
    const page = await engine.readEvents({ topic, after: cursor });
    events.push(...page.events);
    cursor = page.cursor;
    if (done(events)) return events;
    if (Date.now() > deadline) {
      throw new Error(
        `${topic}: gave up waiting after ${events.length} events: ${JSON.stringify(events.map((e) => e.kind))}`,
      );
    }
    await sleep(20);
  }
}

/**
 * Submits a job of `items` tasks of a task type of its own, registers a worker for it and claims
 * them all: the attempts a test then reports on.
 */
export async function claimFresh(
  engine: Engine,
  items = 1,
  group = 'tests',
): Promise<Assignment[]> {
  const type = uniqueType();
  await engine.submit({
    group,
    taskType: type,
    items: Array.from({ length: items }, (_, i) => ({ i })),
  });
  const { worker } = await engine.registerWorker({
    name: uniqueType('w'),
    host: 'h',
    taskTypes: [type],
    slots: items,
  });
  const held = await engine.claim({
    workerId: worker.id,
    taskTypes: [type],
    tags: [],
    limit: items,
  });
  if (held.length !== items) throw new Error(`claimed ${held.length} of ${items} tasks`);
  return held;
}

/**
 * A new token's secret, admin unless told otherwise: what a test's clients and workers sign in
 * with.
 */
export async function tokenFor(
  engine: Engine,
  grant: Record<string, unknown> = { name: 'test admin', role: 'admin' },
): Promise<string> {
  return (await engine.accounts.createToken(grant)).secret;
}
