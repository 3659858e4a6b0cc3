import { WebSocket } from 'ws';
import { DroverClient } from '@drover/client';
import { DroverError } from '@drover/protocol';
import type { MethodName, MethodParams, MethodResult } from '@drover/protocol';

const clients = new Map<string, DroverClient>();

/** The client of a server, connected once per command over its WebSocket. */
export function clientOf(server: string): DroverClient {
  let client = clients.get(server);
  if (!client) {
    client = new DroverClient({
      url: server,
      WebSocket,
      connectTimeoutMs: 5000,
      reconnect: { initialMs: 100, maxMs: 1000 },
    });
    clients.set(server, client);
  }
  return client;
}

/** Calls one method on a server; a server that does not answer gets a message saying what to do. */
export async function call<M extends MethodName>(
  server: string,
  method: M,
  params: MethodParams<M>,
): Promise<MethodResult<M>> {
  try {
    return await clientOf(server).call(method, params);
  } catch (error) {
    // Only a server that never answered gets this advice: a call lost on its way may have taken
    // effect, and its own message says so.
    if (
      error instanceof DroverError &&
      error.code === 'DROVER_E_CONNECTION_LOST' &&
      (error.details as { unreachable?: boolean } | undefined)?.unreachable === true
    ) {
      throw new DroverError(
        'DROVER_E_CONNECTION_LOST',
        `No Drover server answers at ${server}. Start one with \`drover up\` or pass --server.`,
        { cause: error },
      );
    }
    throw error;
  }
}

/** Closes every connection a command opened. */
export function closeClients(): void {
  for (const client of clients.values()) client.close();
  clients.clear();
}
