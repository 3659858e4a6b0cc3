import { z } from 'zod';

/** Ids are PostgreSQL bigints: at most 2^63 - 1. */
function fitsBigint(digits: string): boolean {
  // zod runs refinements even after the format check failed: only judge digits.
  return !/^[0-9]{1,19}$/.test(digits) || BigInt(digits) <= 2n ** 63n - 1n;
}

/** A job's id: a UUID, chosen by the engine at submission. */
export const JobId = z.uuid();
export type JobId = z.infer<typeof JobId>;

/**
 * A task's id: a decimal string. Tasks are numbered in submission order across the whole farm,
 * which is what "submission order" in claims means. Treat it as opaque.
 */
export const TaskId = z
  .string()
  .regex(/^[1-9][0-9]{0,18}$/, 'a task id is a decimal string')
  .refine(fitsBigint, 'no task has an id that large');
export type TaskId = z.infer<typeof TaskId>;

/** An attempt's id: a decimal string, like a task's. */
export const AttemptId = z
  .string()
  .regex(/^[1-9][0-9]{0,18}$/, 'an attempt id is a decimal string');
export type AttemptId = z.infer<typeof AttemptId>;

/** A worker's id: a UUID, kept for as long as the worker's name is. */
export const WorkerId = z.uuid();
export type WorkerId = z.infer<typeof WorkerId>;

/** The secret that proves a report comes from the current attempt of a task. */
export const LeaseToken = z.uuid();
export type LeaseToken = z.infer<typeof LeaseToken>;

const NAME = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;
const NAME_HINT =
  '1 to 64 characters: letters, digits, ".", "_", ":" or "-", starting with a letter or digit';

/** A group: the namespace that owns jobs (a user, a team, a dataset). */
export const GroupName = z.string().regex(NAME, `a group name is ${NAME_HINT}`);
/** A task type's name, such as `fractal.julia`. */
export const TaskTypeName = z.string().regex(NAME, `a task type name is ${NAME_HINT}`);
/** A tag a worker offers and a task may require, such as `gpu` or `site:madison`. */
export const Tag = z.string().regex(NAME, `a tag is ${NAME_HINT}`);
/** A worker's name: the same name is the same worker. */
export const WorkerName = z.string().regex(NAME, `a worker name is ${NAME_HINT}`);

/**
 * A position in the event log. Opaque: pass back what you were given. The empty string means
 * "from the beginning".
 */
export const Cursor = z
  .string()
  .regex(/^$|^[0-9]{1,20}:[0-9]{1,19}$/, 'a cursor is one the server returned')
  .refine((cursor) => {
    const [tx = '', id = ''] = cursor.split(':');
    if (!/^[0-9]{1,20}$/.test(tx) || !/^[0-9]{1,19}$/.test(id)) return true;
    return BigInt(tx) <= 2n ** 64n - 1n && fitsBigint(id);
  }, 'a cursor is one the server returned');
export type Cursor = z.infer<typeof Cursor>;

/**
 * Orders two event cursors (`"<tx>:<id>"`, or `''` before every event): negative when `a` comes
 * first, 0 when equal, positive when `b` does.
 */
export function compareCursors(a: string, b: string): number {
  if (a === b) return 0;
  if (a === '') return -1;
  if (b === '') return 1;
  const [ta = '0', ia = '0'] = a.split(':');
  const [tb = '0', ib = '0'] = b.split(':');
  const tx = BigInt(ta) - BigInt(tb);
  if (tx !== 0n) return tx < 0n ? -1 : 1;
  const id = BigInt(ia) - BigInt(ib);
  return id === 0n ? 0 : id < 0n ? -1 : 1;
}
