import { DroverError } from '@drover/protocol';
import type { MethodName, MethodParams, MethodResult, RpcErrorObject } from '@drover/protocol';

/** Calls one JSON-RPC method on a server over HTTP. */
export async function call<M extends MethodName>(
  server: string,
  method: M,
  params: MethodParams<M>,
): Promise<MethodResult<M>> {
  let response: Response;
  try {
    response = await fetch(new URL('/rpc', server), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', method, params, id: 1 }),
    });
  } catch (cause) {
    throw new DroverError(
      'DROVER_E_DATABASE_UNAVAILABLE',
      `No Drover server answers at ${server}. Start one with \`drover up\` or pass --server.`,
      { cause },
    );
  }
  const body = (await response.json()) as { result?: unknown; error?: RpcErrorObject };
  if (body.error) {
    throw new DroverError(body.error.data?.code ?? 'DROVER_E_INTERNAL', body.error.message, {
      details: body.error.data?.details,
    });
  }
  return body.result as MethodResult<M>;
}
