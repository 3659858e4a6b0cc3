import {
  HostStats,
  JsonSchema,
  Tag,
  TaskTypeName,
  WorkerHold,
  WorkerName,
  WorkerState,
  parseOrThrow,
} from '@drover/protocol';
import type { WorkerRecord } from '@drover/protocol';
import { z } from 'zod';
import type { Database, Queryable } from './database.js';
import type { Statements } from './statements.js';
import { needsCleaning } from './clean-text.js';

export const WorkerRegistration = z
  .object({
    name: WorkerName,
    host: z
      .string()
      .min(1)
      .max(255)
      .refine(
        (host) => !needsCleaning(host),
        'a host name has no NUL characters or unpaired surrogates',
      ),
    tags: z.array(Tag).max(64).default([]),
    taskTypes: z.array(TaskTypeName).max(1000),
    slots: z.int().min(1).max(1024),
    /** The JSON Schema of each task type's params, by name. */
    paramsSchemas: z.record(TaskTypeName, JsonSchema).default({}),
  })
  .refine((w) => Object.keys(w.paramsSchemas).every((name) => w.taskTypes.includes(name)), {
    message: 'paramsSchemas may only describe task types this worker offers',
    path: ['paramsSchemas'],
  });
export type WorkerRegistration = z.input<typeof WorkerRegistration>;

/** Checks a registration; throws `DROVER_E_INVALID_PARAMS` naming what is wrong. */
export function checkWorkerRegistration(
  input: WorkerRegistration,
): z.output<typeof WorkerRegistration> {
  return parseOrThrow(WorkerRegistration, input, 'worker registration');
}

/** A registered worker: its record, whether the name was new, and the session its hello opened. */
export interface Registered {
  worker: WorkerRecord;
  created: boolean;
  /**
   * The connection's session: each hello raises it. Changes made for this connection name it, so
   * that they never override what a newer connection wrote.
   */
  session: string;
}

/**
 * Registers workers by name, or brings back those of their names with their identities, in one
 * statement, as connected to server `serverId`; each input's record comes back in its place.
 * Names must be distinct.
 */
export async function registerWorkers(
  db: Database,
  sql: Statements,
  inputs: readonly WorkerRegistration[],
  serverId: string | null = null,
): Promise<Registered[]> {
  const workers = inputs.map(checkWorkerRegistration);
  if (new Set(workers.map((w) => w.name)).size !== workers.length)
    throw new TypeError('registerWorkers takes each name at most once');
  const schemas = Object.assign({}, ...workers.map((w) => w.paramsSchemas)) as Record<
    string,
    unknown
  >;
  return db.transaction(async (tx) => {
    const rows = await tx.query<{
      name: string;
      worker: WorkerRecord;
      created: boolean;
      session: string;
    }>(sql.get('upsert-workers'), [
      JSON.stringify(
        workers.map((w) => ({
          name: w.name,
          host: w.host,
          tags: w.tags,
          task_types: w.taskTypes,
          slots: w.slots,
        })),
      ),
      serverId,
    ]);
    if (Object.keys(schemas).length > 0) {
      await tx.query(sql.get('upsert-task-types'), [JSON.stringify(schemas)]);
    }
    const byName = new Map(rows.map((r) => [r.name, r]));
    return workers.map((w) => {
      const row = byName.get(w.name);
      if (!row) throw new Error(`upsert-workers returned no row for ${w.name}`);
      return { worker: row.worker, created: row.created, session: row.session };
    });
  });
}

/**
 * What one connection makes of its worker's state (draining as it leaves, unresponsive, online
 * again): nothing changes when a newer session holds the worker, and an operator's hold wins.
 * Undefined when the worker is gone or a newer session holds it.
 */
export async function setWorkerState(
  db: Database,
  sql: Statements,
  workerId: string,
  state: 'online' | 'draining' | 'unresponsive',
  session: string,
): Promise<WorkerRecord | undefined> {
  parseOrThrow(WorkerState.extract(['online', 'draining', 'unresponsive']), state, 'worker state');
  const [row] = await db.query<{ worker: WorkerRecord }>(sql.get('set-worker-state'), [
    workerId,
    state,
    session,
  ]);
  return row?.worker;
}

/**
 * An operator's order for workers: drain them, disable them, or (null) enable them again. Their
 * records come back, by name.
 */
export async function setWorkerHold(
  db: Queryable,
  sql: Statements,
  workerIds: readonly string[],
  hold: WorkerHold | null,
): Promise<WorkerRecord[]> {
  if (hold !== null) parseOrThrow(WorkerHold, hold, 'worker hold');
  const rows = await db.query<{ name: string; worker: WorkerRecord }>(sql.get('set-worker-hold'), [
    workerIds,
    hold,
  ]);
  return rows.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)).map((r) => r.worker);
}

/**
 * One connection of a worker closed: offline, held by no server, unless a newer session holds
 * it. Undefined in that case.
 */
export async function workerGone(
  db: Database,
  sql: Statements,
  workerId: string,
  session: string,
): Promise<WorkerRecord | undefined> {
  const [row] = await db.query<{ worker: WorkerRecord }>(sql.get('worker-gone'), [
    workerId,
    session,
  ]);
  return row?.worker;
}

/** Heartbeats of many workers in one statement. */
export async function touchWorkers(
  db: Database,
  sql: Statements,
  beats: readonly { workerId: string; stats?: HostStats }[],
): Promise<void> {
  if (beats.length === 0) return;
  const rows = beats.map((b) => ({
    id: b.workerId,
    stats: b.stats ? parseOrThrow(HostStats, b.stats, 'host stats') : null,
  }));
  await db.query(sql.get('touch-workers'), [JSON.stringify(rows)]);
}
