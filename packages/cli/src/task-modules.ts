import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { TaskDefinition } from '@drover/worker';

/** Whether a module's export is a task definition (`defineTask`, `shellTask`). */
function isTaskDefinition(value: unknown): value is TaskDefinition {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as { name?: unknown; run?: unknown; params?: unknown };
  return (
    typeof v.name === 'string' &&
    typeof v.run === 'function' &&
    typeof v.params === 'object' &&
    v.params !== null &&
    typeof (v.params as { safeParse?: unknown }).safeParse === 'function'
  );
}

/**
 * The task definitions a module exports (named exports, the default export, or an array of
 * either), for `drover worker --tasks FILE`. A module that does not load, or exports none, or two
 * of one name, is refused with a message naming the file.
 */
export async function loadTaskModule(file: string): Promise<TaskDefinition[]> {
  const url = pathToFileURL(resolve(file)).href;
  let exports: Record<string, unknown>;
  try {
    exports = (await import(url)) as Record<string, unknown>;
  } catch (error) {
    throw new Error(`The task module ${file} did not load: ${(error as Error).message}`);
  }
  const found: TaskDefinition[] = [];
  for (const value of Object.values(exports)) {
    for (const item of Array.isArray(value) ? (value as unknown[]) : [value])
      if (isTaskDefinition(item) && !found.includes(item)) found.push(item);
  }
  if (found.length === 0) {
    throw new Error(
      `The task module ${file} exports no task definitions: export what defineTask (or shellTask) returns, e.g. \`export const hello = defineTask({ name, params, run })\`.`,
    );
  }
  return found;
}

/** Every task definition of the modules, refusing a task type defined twice. */
export async function loadTaskModules(files: readonly string[]): Promise<TaskDefinition[]> {
  const all: TaskDefinition[] = [];
  const from = new Map<string, string>();
  for (const file of files) {
    for (const task of await loadTaskModule(file)) {
      const earlier = from.get(task.name);
      if (earlier !== undefined) {
        throw new Error(
          `The task type ${task.name} is defined twice: in ${earlier} and in ${file}.`,
        );
      }
      from.set(task.name, file);
      all.push(task);
    }
  }
  return all;
}
