// A real HTTP receiver for webhook tests (node:http on port 0): records every request it gets and
// answers as the test tells it: a status (with headers), or never (to stand for a hung receiver).
import { createServer } from 'node:http';
import type { IncomingHttpHeaders, Server, ServerResponse } from 'node:http';

export interface Received {
  headers: IncomingHttpHeaders;
  body: string;
  /** The `Drover-Delivery` header. */
  delivery: string;
  event: string;
  at: number;
}

export type Answer =
  { status: number; headers?: Record<string, string>; delayMs?: number } | 'hang';

export interface Receiver {
  url: string;
  received: Received[];
  /** What the next requests are answered: each call takes the first, the last one stays. */
  answers: Answer[];
  /** Resolves once `count` requests matching `match` came in. */
  until(count: number, match?: (r: Received) => boolean, timeoutMs?: number): Promise<Received[]>;
  close(): Promise<void>;
}

export async function startReceiver(answers: Answer[] = [{ status: 200 }]): Promise<Receiver> {
  const received: Received[] = [];
  const hung = new Set<ServerResponse>();
  const state = { answers };
  const server: Server = createServer((request, response) => {
    let body = '';
    request.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
    request.on('end', () => {
      received.push({
        headers: request.headers,
        body,
        delivery: String(request.headers['drover-delivery'] ?? ''),
        event: String(request.headers['drover-event'] ?? ''),
        at: Date.now(),
      });
      const answer = state.answers.length > 1 ? state.answers.shift() : state.answers[0];
      if (answer === undefined || answer === 'hang') {
        hung.add(response);
        return;
      }
      setTimeout(
        () => response.writeHead(answer.status, answer.headers ?? {}).end('ok'),
        answer.delayMs ?? 0,
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    received,
    get answers() {
      return state.answers;
    },
    set answers(value: Answer[]) {
      state.answers = value;
    },
    async until(count, match = () => true, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const matching = received.filter(match);
        if (matching.length >= count) return matching;
        if (Date.now() > deadline) {
          throw new Error(
            `the receiver got ${matching.length} of ${count} requests: ${JSON.stringify(received.map((r) => [r.event, r.delivery]))}`,
          );
        }
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
    close: async () => {
      for (const response of hung) response.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
