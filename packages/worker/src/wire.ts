import type { JsonSchema, JsonValue, TaskError } from '@drover/protocol';
import { z } from 'zod';
import type { TaskDefinition } from './define-task.js';

/**
 * Each task type's params as JSON Schema (as accepted on input: defaults make fields optional),
 * as the worker describes them in its hello. An object that does not say what to do with other
 * keys is described as strict, so that the server refuses a submission with a param the task
 * does not take (most often a misspelt one) rather than let it be dropped; `z.looseObject` keeps
 * a type open to any.
 */
export function describeParams(
  tasks: ReadonlyMap<string, TaskDefinition>,
): Record<string, JsonSchema> {
  return Object.fromEntries(
    [...tasks].map(([name, definition]) => {
      const params = definition.params;
      const described =
        params instanceof z.ZodObject && params.def.catchall === undefined
          ? params.strict()
          : params;
      return [
        name,
        asJson<JsonSchema>(z.toJSONSchema(described, { io: 'input', unrepresentable: 'any' })),
      ];
    }),
  );
}

/** What a task threw, as its failure is reported. */
export function toTaskError(error: unknown): TaskError {
  if (error instanceof Error)
    return { message: error.message, ...(error.stack && { stack: error.stack }) };
  return { message: String(error) };
}

/**
 * A value as the server will store it: JSON (`undefined` becomes null, a Date its string). A
 * value JSON cannot hold (a BigInt, a cycle) throws here, failing the task with that error.
 */
export function asJson<T extends JsonValue = JsonValue>(value: unknown): T {
  // JSON.parse gives back plain JSON by definition.
  return JSON.parse(JSON.stringify(value) ?? 'null') as T;
}
