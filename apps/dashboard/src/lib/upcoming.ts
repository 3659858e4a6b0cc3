import type { DroverClient } from '@drover/client';
import { isDroverError } from '@drover/protocol';
import type { JobRecord, MethodName, WorkerRecord } from '@drover/protocol';
import type { JsonSchema } from '../views/submit/json-schema.js';

/**
 * Methods and fields that servers offer from a later protocol version on. The dashboard works
 * with servers that lack them: each reader says "not offered" instead of failing.
 */

/** A task type the farm's workers offer, with its params' JSON Schema when the server knows it. */
export interface TaskTypeInfo {
  name: string;
  paramsSchema?: JsonSchema | undefined;
  /** How many online workers offer it. */
  workers?: number | undefined;
}

function callLater<T>(client: DroverClient, method: string, params: object): Promise<T> {
  return client.call(method as MethodName, params) as Promise<T>;
}

/** `taskTypes.list`, or undefined when this server does not have the method. */
export async function listTaskTypes(client: DroverClient): Promise<TaskTypeInfo[] | undefined> {
  try {
    const { taskTypes } = await callLater<{ taskTypes: TaskTypeInfo[] }>(
      client,
      'taskTypes.list',
      {},
    );
    return taskTypes;
  } catch (error) {
    if (isDroverError(error, 'DROVER_E_METHOD_NOT_FOUND')) return undefined;
    throw error;
  }
}

/** `jobs.setPriority`; a server without it answers DROVER_E_METHOD_NOT_FOUND. */
export async function setJobPriority(
  client: DroverClient,
  id: string,
  priority: number,
): Promise<JobRecord> {
  const { job } = await callLater<{ job: JobRecord }>(client, 'jobs.setPriority', {
    id,
    priority,
  });
  return job;
}

/** The slots a worker is using now, when its server reports them. */
export function runningSlots(worker: WorkerRecord): number | undefined {
  const running = (worker as WorkerRecord & { running?: unknown }).running;
  return typeof running === 'number' ? running : undefined;
}
