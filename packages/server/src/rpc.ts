import { DroverError, RpcRequest, isDroverError, parseOrThrow } from '@drover/protocol';
import type { RpcErrorObject } from '@drover/protocol';
import type { z } from 'zod';

type Id = string | number | null;

interface Success {
  jsonrpc: '2.0';
  result: unknown;
  id: Id;
}
interface Failure {
  jsonrpc: '2.0';
  error: RpcErrorObject;
  id: Id;
}
export type RpcResponseObject = Success | Failure;

export interface RpcDispatcher {
  /**
   * Handles one JSON-RPC 2.0 message (a request, a notification or a batch) given as text, and
   * returns the response text, or undefined when nothing is to be sent back (notifications only).
   */
  handleText(text: string): Promise<string | undefined>;
}

/**
 * Methods that validate their own params with the same schema (a submission is parsed once, by
 * the engine, however large).
 */
const SELF_VALIDATING = new Set(['jobs.submit']);

/** How deep a request's objects and arrays may nest, the request itself counting as one. */
export const MAX_DEPTH = 64;
/** The most requests one batch may hold. */
export const MAX_BATCH = 1000;
/** Requests of a batch handled at once. */
const BATCH_CONCURRENCY = 16;
/** The most an answer (or a batch's answers) may take, in characters. @defaultValue 64 Mi */
const DEFAULT_MAX_ANSWER = 64 * 1024 * 1024;

/** Whether objects and arrays in `value` nest more than `limit` levels (no recursion). */
function deeperThan(value: unknown, limit: number): boolean {
  const stack: { value: unknown; depth: number }[] = [{ value, depth: 1 }];
  for (let top = stack.pop(); top; top = stack.pop()) {
    if (typeof top.value !== 'object' || top.value === null) continue;
    if (top.depth > limit) return true;
    const children = Array.isArray(top.value) ? top.value : Object.values(top.value);
    for (const child of children as unknown[])
      if (typeof child === 'object' && child !== null)
        stack.push({ value: child, depth: top.depth + 1 });
  }
  return false;
}

/** Methods by name, with the schema their params must match. */
export type Catalogue = Readonly<Record<string, { params: z.ZodType }>>;
export type HandlerMap = Readonly<Record<string, (params: never) => Promise<unknown>>>;

/**
 * Who may call what: `admit` runs before a method's params are read (a caller that has not
 * signed in learns nothing else), `authorize` once they are valid (for checks that need them).
 */
export interface RpcGuard {
  admit(method: string): Promise<void>;
  authorize(method: string, params: unknown): Promise<void>;
}

export function createRpcDispatcher(
  catalogue: Catalogue,
  handlers: HandlerMap,
  onInternalError: (error: unknown, method: string) => void,
  guard?: RpcGuard,
  maxAnswer = DEFAULT_MAX_ANSWER,
): RpcDispatcher {
  const tooLarge = (id: Id) =>
    JSON.stringify(
      failure(
        id,
        new DroverError(
          'DROVER_E_TOO_LARGE',
          `The answer would take more than ${Math.round(maxAnswer / 1024 / 1024)} MiB: ask for less (a smaller limit, or fewer requests in a batch).`,
        ),
      ),
    );
  /** An answer as text, or a refusal when it would be too large to send. */
  const serialize = (response: RpcResponseObject): string => {
    const text = JSON.stringify(response);
    return text.length > maxAnswer ? tooLarge(response.id) : text;
  };
  async function handleOne(raw: unknown): Promise<RpcResponseObject | undefined> {
    // Checked before anything reads the request: the database and the validators recurse.
    if (deeperThan(raw, MAX_DEPTH)) {
      return failure(
        idOf(raw),
        new DroverError(
          'DROVER_E_INVALID_PARAMS',
          `The request nests objects and arrays more than ${MAX_DEPTH} levels deep.`,
        ),
      );
    }
    const request = RpcRequest.safeParse(raw);
    if (!request.success) {
      return failure(
        idOf(raw),
        new DroverError('DROVER_E_INVALID_REQUEST', undefined, {
          details: request.error.issues.map((i) => ({
            path: i.path.join('.'),
            message: i.message,
          })),
        }),
      );
    }
    const { method, params, id } = request.data;
    try {
      const entry = Object.hasOwn(catalogue, method) ? catalogue[method] : undefined;
      const handler = Object.hasOwn(handlers, method) ? handlers[method] : undefined;
      if (!entry || !handler) {
        throw new DroverError(
          'DROVER_E_METHOD_NOT_FOUND',
          `There is no method ${JSON.stringify(method)}. Methods are named noun.verb, such as jobs.submit.`,
        );
      }
      await guard?.admit(method);
      if (Array.isArray(params)) {
        throw new DroverError(
          'DROVER_E_INVALID_PARAMS',
          `${method} takes its params by name, as an object, not as an array.`,
        );
      }
      const args: unknown = SELF_VALIDATING.has(method)
        ? (params ?? {})
        : parseOrThrow(entry.params, params ?? {}, `params of ${method}`);
      await guard?.authorize(method, args);
      const result = await (handler as (params: unknown) => Promise<unknown>)(args);
      return id === undefined ? undefined : { jsonrpc: '2.0', result, id };
    } catch (error) {
      if (!isDroverError(error)) onInternalError(error, method);
      return id === undefined ? undefined : failure(id, asDroverError(error));
    }
  }

  return {
    async handleText(text) {
      let payload: unknown;
      try {
        payload = JSON.parse(text);
      } catch {
        return JSON.stringify(failure(null, new DroverError('DROVER_E_PARSE')));
      }
      if (Array.isArray(payload)) {
        if (payload.length === 0) {
          return JSON.stringify(
            failure(
              null,
              new DroverError('DROVER_E_INVALID_REQUEST', 'An empty batch is not a request.'),
            ),
          );
        }
        if (payload.length > MAX_BATCH) {
          return JSON.stringify(
            failure(
              null,
              new DroverError(
                'DROVER_E_INVALID_REQUEST',
                `A batch holds at most ${MAX_BATCH} requests; this one has ${payload.length}.`,
              ),
            ),
          );
        }
        // A few at a time, each answer turned to text as it comes: once the answers reach the
        // limit, the requests left are not carried out and say so.
        const answers: string[] = [];
        let size = 0;
        let full = false;
        for (let i = 0; i < payload.length; i += BATCH_CONCURRENCY) {
          const chunk = payload.slice(i, i + BATCH_CONCURRENCY);
          if (full) {
            for (const raw of chunk) {
              const id = idOf(raw);
              if (typeof raw === 'object' && raw !== null && 'id' in raw)
                answers.push(tooLarge(id));
            }
            continue;
          }
          for (const response of await Promise.all(chunk.map(handleOne))) {
            if (response === undefined) continue;
            let text = serialize(response);
            if (size + text.length > maxAnswer) {
              text = tooLarge(response.id);
              full = true;
            }
            answers.push(text);
            size += text.length;
          }
        }
        return answers.length > 0 ? `[${answers.join(',')}]` : undefined;
      }
      const response = await handleOne(payload);
      return response && serialize(response);
    },
  };
}

function failure(id: Id, error: DroverError): Failure {
  return { jsonrpc: '2.0', error: error.toRpcError(), id };
}

/** Errors Drover did not name are internal: the client learns that, never the internals. */
function asDroverError(error: unknown): DroverError {
  if (isDroverError(error)) return error;
  return new DroverError('DROVER_E_INTERNAL', undefined, { cause: error });
}

/** The id of a request that failed validation, when it has a usable one; otherwise null. */
function idOf(raw: unknown): Id {
  if (typeof raw === 'object' && raw !== null && 'id' in raw) {
    const id = raw.id;
    if (typeof id === 'string' || typeof id === 'number') return id;
  }
  return null;
}
