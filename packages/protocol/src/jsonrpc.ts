import { z } from 'zod';
import type { ErrorCode } from './errors.js';

const RequestId = z.union([z.string(), z.number(), z.null()]);

/** A JSON-RPC 2.0 request; without an `id` it is a notification and gets no response. */
export const RpcRequest = z.object({
  jsonrpc: z.literal('2.0'),
  method: z.string().min(1),
  params: z.union([z.record(z.string(), z.unknown()), z.array(z.unknown())]).optional(),
  id: RequestId.optional(),
});
export type RpcRequest = z.infer<typeof RpcRequest>;

export const RpcErrorObject = z.object({
  code: z.int(),
  message: z.string(),
  data: z
    .object({
      code: z.string() as z.ZodType<ErrorCode>,
      retryable: z.boolean(),
      details: z.unknown().optional(),
    })
    .optional(),
});
export type RpcErrorObject = z.infer<typeof RpcErrorObject>;

export const RpcSuccess = z.object({
  jsonrpc: z.literal('2.0'),
  result: z.unknown(),
  id: RequestId,
});
export const RpcFailure = z.object({
  jsonrpc: z.literal('2.0'),
  error: RpcErrorObject,
  id: RequestId,
});
export const RpcResponse = z.union([RpcSuccess, RpcFailure]);
export type RpcResponse = z.infer<typeof RpcResponse>;

/** A batch: one or more requests in an array, answered by an array of responses. */
export const RpcBatch = z.array(z.unknown()).min(1);
