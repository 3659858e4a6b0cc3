import {
  HostStats,
  JsonSchema,
  Tag,
  TaskTypeName,
  WorkerName,
  WorkerState,
  parseOrThrow,
} from '@drover/protocol';
import type { WorkerRecord } from '@drover/protocol';
import { z } from 'zod';
import type { Database } from './database.js';
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

/** Registers a worker by name, or brings back the one of that name with its identity. */
export async function registerWorker(
  db: Database,
  sql: Statements,
  input: WorkerRegistration,
): Promise<{ worker: WorkerRecord; created: boolean }> {
  const w = parseOrThrow(WorkerRegistration, input, 'worker registration');
  return db.transaction(async (tx) => {
    const [row] = await tx.query<{ worker: WorkerRecord; created: boolean }>(
      sql.get('upsert-worker'),
      [w.name, w.host, w.tags, w.taskTypes, w.slots],
    );
    if (!row) throw new Error('upsert-worker returned no row');
    if (Object.keys(w.paramsSchemas).length > 0) {
      await tx.query(sql.get('upsert-task-types'), [JSON.stringify(w.paramsSchemas)]);
    }
    return row;
  });
}

export async function setWorkerState(
  db: Database,
  sql: Statements,
  workerId: string,
  state: WorkerState,
): Promise<WorkerRecord | undefined> {
  parseOrThrow(WorkerState, state, 'worker state');
  const [row] = await db.query<{ worker: WorkerRecord }>(sql.get('set-worker-state'), [
    workerId,
    state,
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
