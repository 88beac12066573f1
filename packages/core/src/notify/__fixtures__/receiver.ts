/**
 * A real HTTP receiver on 127.0.0.1 that records every request it gets and answers as scripted:
 * a status (and headers and body) per request in order, the last one repeated; `hang` never
 * answers (until the receiver closes); `delayMs` answers late.
 */
import {createServer, type IncomingMessage, type ServerResponse} from 'node:http';
import type {AddressInfo} from 'node:net';

export interface Answer {
  status?: number;
  headers?: Record<string, string>;
  body?: string;
  hang?: boolean;
  delayMs?: number;
  /** Answer with the request's path in the body, as a service that names the webhook it refuses. */
  echoPath?: boolean;
}

export interface Received {
  path: string;
  body: unknown;
  at: number;
}

export interface Receiver {
  url: (path?: string) => string;
  received: Received[];
  close: () => Promise<void>;
}

export async function startReceiver(script: Answer[] = [{status: 200}]): Promise<Receiver> {
  const received: Received[] = [];
  const hung: ServerResponse[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let text = '';
    req.on('data', (c: Buffer) => (text += c.toString()));
    req.on('end', () => {
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {
        // kept as text
      }
      const answer = script[Math.min(received.length, script.length - 1)]!;
      received.push({path: req.url ?? '', body, at: performance.now()});
      if (answer.hang) return void hung.push(res);
      const send = () => res.writeHead(answer.status ?? 200, answer.headers ?? {}).end(`${answer.body ?? ''}${answer.echoPath ? ` ${req.url}` : ''}`);
      if (answer.delayMs) setTimeout(send, answer.delayMs);
      else send();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: (path = '/hooks/SECRET-TOKEN-0123456789') => `http://127.0.0.1:${port}${path}`,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of hung) res.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
