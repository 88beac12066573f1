/**
 * Real OpenAI-style streaming servers on 127.0.0.1 for the client and driver tests: each test
 * scripts what its server sends and when, and the server records what it received and how many
 * requests it had in flight.
 */
import http from 'node:http';
import net, {type AddressInfo} from 'node:net';

export interface Received {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: any;
  /** Arrival, ms on performance.now(). */
  atMs: number;
}

export type Handler = (req: Received, res: http.ServerResponse, raw: http.IncomingMessage) => void | Promise<void>;

export interface TestServer {
  url: string;
  port: number;
  received: Received[];
  /** Requests whose response has not finished (completions paths only, when `countPath` is set). */
  inFlight: number;
  maxInFlight: number;
  connections: number;
  close(): Promise<void>;
}

export async function startServer(handler: Handler, options: {countPath?: (path: string) => boolean} = {}): Promise<TestServer> {
  const counted = options.countPath ?? (() => true);
  const received: Received[] = [];
  const sockets = new Set<import('node:net').Socket>();
  const state = {inFlight: 0, maxInFlight: 0, connections: 0};
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      let body: any = text;
      try {
        body = text ? JSON.parse(text) : null;
      } catch {
        // keep the raw text
      }
      const entry: Received = {method: req.method ?? '', path: req.url ?? '', headers: req.headers, body, atMs: performance.now()};
      received.push(entry);
      const count = counted(entry.path);
      if (count) {
        state.inFlight++;
        state.maxInFlight = Math.max(state.maxInFlight, state.inFlight);
        let finished = false;
        const finish = () => {
          if (finished) return;
          finished = true;
          state.inFlight--;
        };
        res.on('finish', finish);
        res.on('close', finish);
      }
      void Promise.resolve(handler(entry, res, req)).catch((error) => {
        res.destroy(error as Error);
      });
    });
  });
  server.on('connection', (socket) => {
    state.connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    received,
    get inFlight() {
      return state.inFlight;
    },
    get maxInFlight() {
      return state.maxInFlight;
    },
    get connections() {
      return state.connections;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** One SSE event carrying `value` as JSON (or a raw string such as `[DONE]`). */
export const sse = (value: unknown): string => `data: ${typeof value === 'string' ? value : JSON.stringify(value)}\n\n`;

export const completionChunk = (text: string, finishReason: string | null = null) => ({
  id: 'cmpl-1',
  object: 'text_completion',
  model: 'm',
  choices: [{index: 0, text, finish_reason: finishReason}],
});

export const chatChunk = (delta: Record<string, unknown>, finishReason: string | null = null) => ({
  id: 'chat-1',
  object: 'chat.completion.chunk',
  model: 'm',
  choices: [{index: 0, delta, finish_reason: finishReason}],
});

/** The final chunk with `stream_options.include_usage`: no choices, only usage. */
export const usageChunk = (promptTokens: number, completionTokens: number) => ({
  id: 'cmpl-1',
  object: 'text_completion',
  model: 'm',
  choices: [],
  usage: {prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens},
});

export function startStream(res: http.ServerResponse): void {
  res.writeHead(200, {'content-type': 'text/event-stream', 'cache-control': 'no-cache'});
}

/**
 * Writes each step at its time, ms after the call, on an absolute schedule (no drift), then ends
 * the response unless `end` is false. Resolves with when each step was really written
 * (`process.hrtime.bigint()`, the clock the client uses), so tests can compare the client's
 * timestamps with the server's actual writes rather than with a timer's intent.
 */
export function writeScheduled(res: http.ServerResponse, steps: Array<{atMs: number; data: string}>, end = true): Promise<bigint[]> {
  const start = performance.now();
  const writtenNs: bigint[] = [];
  return new Promise((resolve) => {
    let i = 0;
    const tick = () => {
      if (res.destroyed) return resolve(writtenNs);
      while (i < steps.length && performance.now() - start >= steps[i]!.atMs - 0.5) {
        writtenNs.push(process.hrtime.bigint());
        res.write(steps[i++]!.data);
      }
      if (i >= steps.length) {
        if (end) res.end();
        return resolve(writtenNs);
      }
      setTimeout(tick, Math.max(0, steps[i]!.atMs - (performance.now() - start)));
    };
    tick();
  });
}

/**
 * A one-socket keep-alive agent that watches what its sockets read: `bytesRead` is the total, and
 * `readAll(n)` resolves once `n` bytes have arrived, one turn after the read that brought them, so
 * the HTTP client has handled that read by then. Its listener is the socket's first, set before the
 * HTTP client's own.
 */
export interface ReadWatch {
  agent: http.Agent;
  readonly bytesRead: number;
  readAll(bytes: number): Promise<void>;
}

export function watchReads(): ReadWatch {
  const agent = new http.Agent({keepAlive: true, maxSockets: 1});
  let bytesRead = 0;
  let waiters: Array<{bytes: number; resolve: () => void}> = [];
  const settle = () => {
    const ready = waiters.filter((w) => bytesRead >= w.bytes);
    waiters = waiters.filter((w) => bytesRead < w.bytes);
    for (const w of ready) setImmediate(w.resolve);
  };
  // A returned socket is handed to the request by the agent itself.
  agent.createConnection = (options) => {
    const socket = net.createConnection(options as net.NetConnectOpts);
    socket.on('data', (piece: Buffer) => {
      bytesRead += piece.length;
      settle();
    });
    return socket;
  };
  return {
    agent,
    get bytesRead() {
      return bytesRead;
    },
    readAll: (bytes) =>
      new Promise<void>((resolve) => {
        waiters.push({bytes, resolve});
        settle();
      }),
  };
}

/**
 * Like {@link writeScheduled}, but each step (and the end) also waits until the client has read and
 * handled everything written before it: no two steps ever share a socket read, however late the
 * event loop runs, so each client timestamp lies between its own write and the next one. No step
 * is written before its time. Resolves with each write's time and, when `end` is set, the end's
 * time last.
 */
export function writeLockstep(res: http.ServerResponse, steps: Array<{atMs: number; data: string}>, watch: ReadWatch, end = true): Promise<bigint[]> {
  const start = performance.now();
  const writtenNs: bigint[] = [];
  const socket = res.socket!;
  return (async () => {
    for (const step of steps) {
      // Never early (a timer may fire up to a millisecond before its time): tests rely on it.
      let waitMs: number;
      while ((waitMs = step.atMs - (performance.now() - start)) > 0) await sleep(Math.ceil(waitMs));
      writtenNs.push(process.hrtime.bigint());
      res.write(step.data);
      // bytesWritten counts what is still queued too: this is everything sent so far, head included.
      await watch.readAll(socket.bytesWritten);
    }
    if (end) {
      writtenNs.push(process.hrtime.bigint());
      res.end();
    }
    return writtenNs;
  })();
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A port that nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const s = http.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}
