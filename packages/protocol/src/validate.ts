import type { z } from 'zod';
import { DroverError } from './errors.js';

/** One field that failed validation: where it is and what is wrong with it. */
export interface FieldIssue {
  path: string;
  message: string;
}

/**
 * Parses `input` with `schema`, or throws `DROVER_E_INVALID_PARAMS` listing every field at fault,
 * so a user can fix them all at once.
 */
export function parseOrThrow<S extends z.ZodType>(
  schema: S,
  input: unknown,
  what: string,
): z.output<S> {
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  const details: FieldIssue[] = parsed.error.issues.map((issue) => ({
    path: issue.path.map(String).join('.'),
    message: issue.message,
  }));
  const summary = details.map((d) => (d.path ? `${d.path}: ${d.message}` : d.message)).join('; ');
  throw new DroverError('DROVER_E_INVALID_PARAMS', `Invalid ${what}: ${summary}`, {
    details,
    cause: parsed.error,
  });
}
