import http from 'node:http';
import https from 'node:https';
import {monoNs, msSince, type PhaseName, type RequestErrorKind, type RequestRecord} from '../measure/types.js';
import {SseParser, type SseEvent} from './sse.js';

// node:http with a keep-alive Agent rather than fetch: the driver must take in ≥ 50,000
// chunks/s on one core while timing each read, and fetch (undici + web streams) costs more per
// read. scripts/bench-driver.mjs measures both on the same work (2-vCPU EPYC, Node 20, two
// runs): 510–557k vs 233–284k chunks per driver CPU-second when chunks share socket reads, and
// 195–258k vs 187–220k at about one read per chunk. It also makes socket reuse, in-flight caps
// and socket aborts explicit.

/** How every request of a workload is made; only the prompt changes between requests. */
export interface RequestTemplate {
  /** Server root or its `/v1`, e.g. `http://127.0.0.1:8080` or `http://127.0.0.1:8000/v1` (a base ending in `/v1` is not doubled). */
  baseUrl: string;
  /** `completions`: POST `/v1/completions` with `prompt`; `chat`: POST `/v1/chat/completions` with one user message. */
  api: 'completions' | 'chat';
  model: string;
  maxTokens: number;
  temperature: number;
  seed?: number;
  /** Merged into every body after the standard fields (e.g. `{ignore_eos: true}`); `stream` and `stream_options` are always ours. */
  extras: Record<string, unknown>;
  /** Whole-request limit, ms, from send to the end of the stream: past it the socket is destroyed and the record says `timeout`. */
  timeoutMs: number;
  /** Sent as `Authorization: Bearer <apiKey>`. */
  apiKey?: string;
  /**
   * Path on the server root (the base URL without a trailing `/v1`) that answers POST `{content}`
   * with `{tokens: [...]}` (llama.cpp) or `{count}`; used to count output tokens when the stream
   * carried no `usage`.
   */
  tokenizePath?: string;
}

export interface Prompt {
  /** Index in the prepared prompt list (goes to `RequestRecord.promptIndex`). */
  index: number;
  text: string;
}

export interface RequestContext {
  /** The run origin on the monotonic clock: every time in the record is ms since it. */
  t0Ns: bigint;
  id: number;
  phase: PhaseName;
  /** When the request was due, ms since t0 (open loop: its Poisson arrival); absent: equals `sendMs`. */
  scheduledMs?: number;
  /** Keep-alive agent for the completion requests; maxSockets ≥ the requests in flight, or sends queue unseen behind `sendMs`. */
  agent: http.Agent;
  /**
   * Agent for tokenize calls; by default one shared by this module, apart from `agent`, so that
   * counting tokens never holds a socket a measured request is waiting for.
   */
  tokenizeAgent?: http.Agent;
  /** Aborting ends the request at once; its record says `aborted`. */
  signal?: AbortSignal;
  /**
   * Called once, as soon as the response stream is over (or the request failed), before any
   * tokenize call, with the record's `endMs`: a closed loop refills its slot here, so counting
   * tokens never lowers the in-flight count, and the measure window closes here, so counting
   * never stretches it.
   */
  onStreamEnd?: (endMs: number) => void;
}

/** The largest piece of an error body kept in a record's message. */
const BODY_EXCERPT_CHARS = 500;

/** Where the completions endpoint and the server root are, from a base URL with or without `/v1`. */
export function endpoints(template: Pick<RequestTemplate, 'baseUrl' | 'api'>): {url: URL; root: string} {
  const base = template.baseUrl.replace(/\/+$/, '');
  const root = base.endsWith('/v1') ? base.slice(0, -3) : base;
  const path = template.api === 'chat' ? '/v1/chat/completions' : '/v1/completions';
  return {url: new URL(root + path), root};
}

/** The JSON body of one request. */
export function requestBody(template: RequestTemplate, prompt: Prompt): Record<string, unknown> {
  const body: Record<string, unknown> = {model: template.model};
  if (template.api === 'chat') body.messages = [{role: 'user', content: prompt.text}];
  else body.prompt = prompt.text;
  body.max_tokens = template.maxTokens;
  body.temperature = template.temperature;
  if (template.seed !== undefined) body.seed = template.seed;
  Object.assign(body, template.extras);
  body.stream = true;
  body.stream_options = {include_usage: true};
  return body;
}

/** A keep-alive agent for the base URL's scheme, able to hold `maxSockets` connections at once. */
export function createAgent(baseUrl: string, maxSockets: number): http.Agent {
  const options = {keepAlive: true, maxSockets, maxFreeSockets: Number.isFinite(maxSockets) ? maxSockets : 256, scheduling: 'lifo' as const};
  return new URL(baseUrl).protocol === 'https:' ? new https.Agent(options) : new http.Agent(options);
}

let tokenizeAgents: {http?: http.Agent; https?: http.Agent} = {};

/** Free keep-alive sockets are unref'd by Node, so this agent never keeps the process alive. */
function sharedTokenizeAgent(url: string): http.Agent {
  const key = url.startsWith('https:') ? 'https' : 'http';
  return (tokenizeAgents[key] ??= createAgent(url, Infinity));
}

/** Closes the shared tokenize agents' idle sockets (tests, clean shutdown). */
export function closeTokenizeAgents(): void {
  tokenizeAgents.http?.destroy();
  tokenizeAgents.https?.destroy();
  tokenizeAgents = {};
}

function describeError(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as NodeJS.ErrnoException).code;
    // Node 20's happy-eyeballs connect reports an AggregateError with an empty message.
    const message = error.message || (error instanceof AggregateError ? error.errors.map(describeError).join('; ') : error.name);
    return code && !message.includes(code) ? `${code}: ${message}` : message;
  }
  return String(error);
}

/** Content of one OpenAI-style chunk: completions `text`, chat `delta.content`, or reasoning deltas (they are output tokens too). */
function chunkContent(choice: any): string {
  if (typeof choice.text === 'string') return choice.text;
  const delta = choice.delta;
  if (delta === undefined || delta === null) return '';
  if (typeof delta.content === 'string' && delta.content !== '') return delta.content;
  if (typeof delta.reasoning_content === 'string') return delta.reasoning_content;
  if (typeof delta.reasoning === 'string') return delta.reasoning;
  return '';
}

/**
 * The server's message in an `event: error` event's data: `{error: {message}}`, `{error: "..."}`,
 * `{message}`, other JSON as it is, or the plain text itself (servers differ; none is standard).
 */
function streamErrorMessage(data: string): string {
  let parsed: any;
  try {
    parsed = JSON.parse(data);
  } catch {
    return data;
  }
  if (parsed !== null && typeof parsed === 'object') {
    const error = parsed.error;
    if (typeof error === 'string') return error;
    if (error !== null && typeof error === 'object' && typeof error.message === 'string') return error.message;
    if (typeof parsed.message === 'string') return parsed.message;
  }
  return data;
}

/**
 * Sends one streaming completion and times it. Never throws and never rejects: a failed request
 * resolves to a record with `ok: false` and the error's kind.
 *
 * Timing contract (ms since `ctx.t0Ns`):
 * - `sendMs` is read just before the request is handed to the socket.
 * - Chunk times are the arrival of the socket read that carried them: the clock is read once per
 *   read, so chunks coalesced into one read share a timestamp (and a 0 ms gap). That is what
 *   arrived when, and it keeps the per-chunk cost to one JSON.parse.
 * - `endMs` is the `[DONE]` event, or the end of the response when the server sends none.
 *
 * A stream event named `error` (`event: error`, even after content or `[DONE]`) or a chunk with an
 * `error` member fails the request (`protocol`), with the server's message in the record.
 */
export function sendRequest(template: RequestTemplate, prompt: Prompt, ctx: RequestContext): Promise<RequestRecord> {
  const {t0Ns} = ctx;
  const {url, root} = endpoints(template);
  const body = JSON.stringify(requestBody(template, prompt));
  const headers: Record<string, string | number> = {
    'content-type': 'application/json',
    accept: 'text/event-stream',
    'content-length': Buffer.byteLength(body),
  };
  if (template.apiKey) headers.authorization = `Bearer ${template.apiKey}`;

  // Per-request state, in ns on the monotonic clock until the record is built.
  let sendNs = 0n;
  let firstChunkNs: bigint | null = null;
  let firstContentNs: bigint | null = null;
  let lastContentNs: bigint | null = null;
  let endNs: bigint | null = null;
  let nowNs = 0n;
  const chunkGapsMs: number[] = [];
  let contentChunks = 0;
  let events = 0;
  let promptTokens: number | null = null;
  let outputTokens: number | null = null;
  let finishReason: string | null = null;
  let httpStatus: number | null = null;
  let done = false;
  const collectText = template.tokenizePath !== undefined;
  const output: string[] = [];

  return new Promise<RequestRecord>((resolve) => {
    let settled = false;
    let streamEnded = false;
    // Set once the request exists; `fail` may run before (caller already aborted).
    const io: {req?: http.ClientRequest; timer?: NodeJS.Timeout} = {};

    const streamOver = () => {
      if (streamEnded) return;
      streamEnded = true;
      if (io.timer) clearTimeout(io.timer);
      ctx.signal?.removeEventListener('abort', onAbort);
      // Every caller sets endNs first; the record's endMs is computed from the same value.
      ctx.onStreamEnd?.(msSince(t0Ns, endNs ?? monoNs()));
    };

    const record = (ok: boolean, error: RequestRecord['error'], tokenSource: RequestRecord['tokenSource']): RequestRecord => {
      const sendMs = msSince(t0Ns, sendNs);
      return {
        id: ctx.id,
        phase: ctx.phase,
        promptIndex: prompt.index,
        scheduledMs: ctx.scheduledMs ?? sendMs,
        sendMs,
        firstChunkMs: firstChunkNs === null ? null : msSince(t0Ns, firstChunkNs),
        firstContentMs: firstContentNs === null ? null : msSince(t0Ns, firstContentNs),
        lastContentMs: lastContentNs === null ? null : msSince(t0Ns, lastContentNs),
        endMs: msSince(t0Ns, endNs ?? monoNs()),
        chunkGapsMs,
        contentChunks,
        promptTokens,
        outputTokens: tokenSource === null ? null : outputTokens,
        tokenSource,
        finishReason,
        ok,
        httpStatus,
        error,
      };
    };

    /** Ends the request with an error; the first cause wins (a timeout's destroy also raises ECONNRESET). */
    const fail = (kind: RequestErrorKind, message: string, destroySocket = true) => {
      if (settled) return;
      settled = true;
      endNs ??= monoNs();
      streamOver();
      if (destroySocket) io.req?.destroy();
      resolve(record(false, {kind, message}, outputTokens !== null ? 'usage' : null));
    };

    const succeed = () => {
      if (settled) return;
      settled = true;
      endNs ??= monoNs();
      streamOver();
      if (outputTokens !== null) {
        resolve(record(true, null, 'usage'));
        return;
      }
      if (!collectText) {
        resolve(record(true, null, null));
        return;
      }
      const tokenizeUrl = root + template.tokenizePath;
      countTokens(tokenizeUrl, output.join(''), ctx.tokenizeAgent ?? sharedTokenizeAgent(tokenizeUrl), template.timeoutMs, ctx.signal).then((count) => {
        outputTokens = count;
        resolve(record(true, null, count === null ? null : 'tokenize'));
      });
    };

    function onAbort() {
      fail('aborted', 'the run was stopped');
    }

    const onEvent = (event: SseEvent) => {
      if (settled) return;
      events++;
      firstChunkNs ??= nowNs;
      const data = event.data;
      // `event: error` is the server saying the request failed, whatever the data looks like.
      if (event.event === 'error') {
        fail('protocol', `the server sent an error event in the stream: ${streamErrorMessage(data).slice(0, BODY_EXCERPT_CHARS) || '(no message)'}`);
        return;
      }
      if (data === '[DONE]') {
        done = true;
        endNs = nowNs;
        return;
      }
      if (done) return;
      let chunk: any;
      try {
        chunk = JSON.parse(data);
      } catch {
        fail('protocol', `malformed JSON in a stream chunk: ${data.slice(0, 200)}`);
        return;
      }
      if (chunk === null || typeof chunk !== 'object') {
        fail('protocol', `a stream chunk is not an object: ${data.slice(0, 200)}`);
        return;
      }
      if (chunk.error !== undefined && chunk.error !== null) {
        const message = typeof chunk.error === 'object' ? (chunk.error.message ?? JSON.stringify(chunk.error)) : String(chunk.error);
        fail('protocol', `the server sent an error in the stream: ${String(message).slice(0, BODY_EXCERPT_CHARS)}`);
        return;
      }
      const choices = chunk.choices;
      if (Array.isArray(choices)) {
        let hasContent = false;
        for (let i = 0; i < choices.length; i++) {
          const choice = choices[i];
          if (choice === null || typeof choice !== 'object') continue;
          const text = chunkContent(choice);
          if (text !== '') {
            hasContent = true;
            if (collectText) output.push(text);
          }
          if (typeof choice.finish_reason === 'string') finishReason = choice.finish_reason;
        }
        if (hasContent) {
          contentChunks++;
          if (lastContentNs === null) firstContentNs = nowNs;
          else chunkGapsMs.push(Number(nowNs - lastContentNs) / 1e6);
          lastContentNs = nowNs;
        }
      }
      // Servers with continuous usage put `usage` on every chunk: the last one is the total.
      const usage = chunk.usage;
      if (usage !== undefined && usage !== null && typeof usage.completion_tokens === 'number') {
        outputTokens = usage.completion_tokens;
        promptTokens = typeof usage.prompt_tokens === 'number' ? usage.prompt_tokens : null;
      }
    };

    const parser = new SseParser(onEvent);

    if (ctx.signal?.aborted) {
      sendNs = monoNs();
      fail('aborted', 'the run was stopped before this request was sent');
      return;
    }
    ctx.signal?.addEventListener('abort', onAbort, {once: true});

    const requestFn = url.protocol === 'https:' ? https.request : http.request;
    const req = (io.req = requestFn(url, {method: 'POST', headers, agent: ctx.agent}));
    // Refused, reset, unreachable: anything the socket reports before a response is a connection failure.
    req.on('error', (error) => fail('connection', describeError(error)));
    req.on('response', (res) => {
      httpStatus = res.statusCode ?? null;
      const status = res.statusCode ?? 0;
      if (status < 200 || status > 299) {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (piece: string) => {
          if (text.length < BODY_EXCERPT_CHARS) text += piece;
        });
        res.on('end', () => {
          endNs = monoNs();
          const excerpt = text.slice(0, BODY_EXCERPT_CHARS).trim();
          // The response is complete, so the keep-alive socket stays usable.
          fail('http', `HTTP ${status} ${res.statusMessage ?? ''}`.trim() + (excerpt ? `: ${excerpt}` : ''), false);
        });
        res.on('error', (error) => fail('http', `HTTP ${status}, then the body failed: ${describeError(error)}`));
        return;
      }
      res.on('data', (piece: Buffer) => {
        nowNs = monoNs();
        parser.push(piece);
      });
      res.on('end', () => {
        nowNs = monoNs();
        parser.end();
        if (settled) return;
        if (events === 0) {
          fail('protocol', `HTTP ${status} with no server-sent events (content-type ${res.headers['content-type'] ?? 'none'})`);
          return;
        }
        endNs ??= nowNs;
        succeed();
      });
      res.on('error', (error) => fail('connection', `the response broke off: ${describeError(error)}`));
      res.on('close', () => {
        if (!res.complete) fail('connection', 'the connection closed before the response ended');
      });
    });

    io.timer = setTimeout(() => fail('timeout', `no complete response within ${template.timeoutMs} ms`), template.timeoutMs);
    sendNs = monoNs();
    req.end(body);
  });
}

/**
 * Counts tokens of `content` on the server's tokenize path. Resolves to null on any failure: a
 * missing count is reported as such (`tokenSource: null`), never guessed.
 */
export function countTokens(urlText: string, content: string, agent: http.Agent, timeoutMs: number, signal?: AbortSignal): Promise<number | null> {
  return new Promise((resolve) => {
    if (signal?.aborted) {
      resolve(null);
      return;
    }
    const url = new URL(urlText);
    const body = JSON.stringify({content});
    const requestFn = url.protocol === 'https:' ? https.request : http.request;
    let finished = false;
    const finish = (value: number | null) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      resolve(value);
    };
    const req = requestFn(url, {method: 'POST', agent, headers: {'content-type': 'application/json', 'content-length': Buffer.byteLength(body)}});
    const onAbort = () => {
      req.destroy();
      finish(null);
    };
    signal?.addEventListener('abort', onAbort, {once: true});
    const timer = setTimeout(onAbort, timeoutMs);
    req.on('error', () => finish(null));
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (piece: string) => (text += piece));
      res.on('error', () => finish(null));
      res.on('end', () => {
        if ((res.statusCode ?? 0) < 200 || (res.statusCode ?? 0) > 299) return finish(null);
        try {
          const parsed = JSON.parse(text);
          if (Array.isArray(parsed?.tokens)) return finish(parsed.tokens.length);
          if (typeof parsed?.count === 'number') return finish(parsed.count);
        } catch {
          // not JSON: no count
        }
        finish(null);
      });
    });
    req.end(body);
  });
}
